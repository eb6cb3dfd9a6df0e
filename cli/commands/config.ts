/**
 * `shoal config`: the CLI's contexts (./cli-config.ts), kubectl-style:
 *   shoal config view | get-contexts | current-context
 *   shoal config use-context NAME | delete-context NAME
 *   shoal config set-context NAME [--agent HOST:PORT]... [--coordinator URL] [--admin-token-file FILE]
 */
import { ShoalError } from '../../agent/protocol/errors.js'
import { formatted, outputFormat, outputOption, parse, positionals, subcommandHelp, table } from '../args.js'
import { CliContext, configPath, readCliConfig, writeCliConfig } from '../cli-config.js'
import type { CliIo } from '../main.js'

export const summary = 'contexts: which agents, coordinator and admin token a cluster uses (view, get-contexts, use-context, set-context)'
export const subcommands = ['view', 'get-contexts', 'current-context', 'use-context', 'set-context', 'delete-context'] as const

const USAGE = `shoal config view | get-contexts | current-context
       shoal config use-context NAME | delete-context NAME
       shoal config set-context NAME [--agent HOST:PORT]... [--coordinator URL] [--admin-token-file FILE]`

const INFO = `the file: $SHOAL_CONFIG, else $XDG_CONFIG_HOME/shoal/config.yaml, else ~/.config/shoal/config.yaml (now: ${configPath()}).
Precedence for every setting: flags > environment (SHOAL_AGENT, SHOAL_COORDINATOR_URL, SHOAL_ADMIN_TOKEN[_FILE], SHOAL_CONTEXT) > the context > defaults.`

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv
  if (!sub || !(subcommands as readonly string[]).includes(sub)) return subcommandHelp(argv, USAGE, [...subcommands], {}, { summary: INFO })
  const usage = `shoal config ${sub}${/-context$/.test(sub) && sub !== 'current-context' ? ' NAME' : ''}`
  const { values, positionals: args } = parse(
    rest,
    { agent: { type: 'string', multiple: true }, coordinator: { type: 'string' }, 'admin-token-file': { type: 'string' }, ...outputOption },
    usage,
    { summary: INFO, docs: { agent: { help: 'set-context: an agent of the cluster (repeat for several; watch fails over in this order)', env: undefined, default: undefined }, coordinator: { env: undefined, default: undefined }, 'admin-token-file': { env: undefined, default: undefined } } },
  )
  const format = outputFormat(values.output)
  const config = readCliConfig()
  switch (sub) {
    case 'view':
      positionals(args, 0, 0, usage)
      io.out(formatted(format === 'table' || format === 'wide' ? 'yaml' : format, config, () => ''))
      return 0
    case 'current-context':
      positionals(args, 0, 0, usage)
      if (!config['current-context']) throw new ShoalError('config', `no current context in ${configPath()}; pick one with: shoal config use-context NAME`)
      io.out(config['current-context'])
      return 0
    case 'get-contexts': {
      positionals(args, 0, 0, usage)
      const rows = Object.entries(config.contexts).map(([name, c]) => ({ current: name === config['current-context'], name, ...c }))
      io.out(formatted(format, rows, () => table(['CURRENT', 'NAME', 'AGENTS', 'COORDINATOR', 'ADMIN-TOKEN-FILE'], rows.map((r) => [r.current ? '*' : '', r.name, r.agents?.join(','), r.coordinator, r['admin-token-file']]))))
      return 0
    }
    case 'use-context': {
      const [name] = positionals(args, 1, 1, usage, 'NAME')
      if (!config.contexts[name!]) throw new ShoalError('usage', `no context "${name}" in ${configPath()}; create it with: shoal config set-context ${name} --agent HOST:PORT`)
      config['current-context'] = name
      io.out(`switched to context "${name}" (${writeCliConfig(config)})`)
      return 0
    }
    case 'delete-context': {
      const [name] = positionals(args, 1, 1, usage, 'NAME')
      if (!config.contexts[name!]) throw new ShoalError('usage', `no context "${name}" in ${configPath()} (see: shoal config get-contexts)`)
      delete config.contexts[name!]
      if (config['current-context'] === name) delete config['current-context']
      io.out(`deleted context "${name}" (${writeCliConfig(config)})`)
      return 0
    }
    case 'set-context': {
      const [name] = positionals(args, 1, 1, usage, 'NAME')
      const next = { ...config.contexts[name!] }
      if (values.agent?.length) next.agents = values.agent
      if (values.coordinator !== undefined) next.coordinator = values.coordinator
      if (values['admin-token-file'] !== undefined) next['admin-token-file'] = values['admin-token-file']
      const r = CliContext.safeParse(next)
      if (!r.success) {
        const i = r.error.issues[0]!
        throw new ShoalError('usage', `--${i.path[0] === 'agents' ? 'agent' : String(i.path[0])}: ${i.message}`)
      }
      config.contexts[name!] = r.data
      config['current-context'] ??= name
      io.out(`context "${name}" saved${config['current-context'] === name ? ' (current)' : ''} (${writeCliConfig(config)})`)
      return 0
    }
  }
  return 2
}
