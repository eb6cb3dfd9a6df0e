/** `shoal agent --config FILE`: runs the node agent in the foreground (agent/main.ts). */
import { agentDefaults, envFields, flagFields } from '../../agent/config.js'
import { runAgentProcess } from '../../agent/main.js'
import { helpText, wantsHelp, type FlagDoc, type Options } from '../args.js'
import type { CliIo } from '../main.js'

export const summary = 'run the node agent in the foreground'
const usage = 'shoal agent --config FILE [--node-id ID] [--bootstrap HOST:PORT,...] [--api-port N] [--log-level LEVEL] ...'

export async function run(argv: string[], _io: CliIo): Promise<number> {
  if (wantsHelp(argv)) throw agentHelp()
  return runAgentProcess(argv)
}

/** Help from agent/config.ts's own tables: every flag, its env var and default. */
function agentHelp() {
  const options: Options = { config: { type: 'string' } }
  const docs: Record<string, FlagDoc> = { config: { value: 'FILE', help: 'JSON config file (agent/config.ts AgentConfig; file < env < flags)' } }
  const envOf = new Map(Object.entries(envFields).map(([env, f]) => [f.key, env]))
  for (const [name, f] of Object.entries(flagFields)) {
    options[name] = { type: f.kind === 'bool' ? 'boolean' : 'string' }
    const d = (agentDefaults as Record<string, unknown>)[f.key]
    docs[name] = { value: f.kind === 'number' ? 'N' : f.kind === 'list' ? 'A,B,...' : 'VALUE', help: `config field ${f.key}`, env: envOf.get(f.key), default: d === undefined ? 'unset' : String(d) }
  }
  return helpText(usage, options, { summary, docs })
}
