/**
 * Flag handling shared by the CLI commands that talk to an agent (status, nodes, node,
 * watch): `--agent HOST:PORT` (else $SHOAL_AGENT, else 127.0.0.1:7400) and `-o table|json`.
 * Every mistake is ONE line (ShoalError 'usage', exit 2) that names the flag and the usage.
 */
import { parseArgs } from 'node:util'
import { ShoalError } from '../protocol/errors.js'
import { AgentClient, DEFAULT_AGENT, checkAgentAddress } from './agent-client.js'

type StringOptions = Record<string, { type: 'string'; short?: string }>

export interface AgentCommandArgs {
  client: AgentClient
  format: 'table' | 'json'
  values: Record<string, string | undefined>
  positionals: string[]
}

export function parseAgentCommand(argv: string[], usage: string, extra: StringOptions = {}, positionalCount: [number, number] = [0, 0]): AgentCommandArgs {
  let values: Record<string, string | undefined>
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args: argv,
      options: { agent: { type: 'string' }, output: { type: 'string', short: 'o' }, ...extra },
      allowPositionals: true,
      strict: true,
    }) as { values: Record<string, string | undefined>; positionals: string[] })
  } catch (err) {
    throw new ShoalError('usage', `${(err as Error).message.split('\n')[0]!.replace(/\.$/, '')} (usage: ${usage})`)
  }
  const [min, max] = positionalCount
  if (positionals.length < min) throw new ShoalError('usage', `missing argument (usage: ${usage})`)
  if (positionals.length > max) throw new ShoalError('usage', `unexpected argument "${positionals[max]}" (usage: ${usage})`)
  const output = values.output ?? 'table'
  if (output !== 'table' && output !== 'json') throw new ShoalError('usage', `-o must be "table" or "json", not "${output}"`)
  const address = checkAgentAddress(values.agent ?? process.env.SHOAL_AGENT ?? DEFAULT_AGENT)
  return { client: new AgentClient(address), format: output, values, positionals }
}
