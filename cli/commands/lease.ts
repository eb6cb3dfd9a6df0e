/**
 * `shoal lease release NODE --force [--wave ID]` — an operator's force-release of the slot
 * NODE holds in the wave (the newest by default): the coordinator signs a force message, a
 * new term starts, and the old lease no longer proves anything (audited).
 */
import { z } from 'zod'
import { ShoalError } from '../../agent/protocol/errors.js'
import { formatted, outputFormat, outputOption, parse, resolveId, subcommandHelp } from '../args.js'
import { badAnswer, coordinatorClient, coordinatorOptions } from '../clients.js'
import type { CliIo } from '../main.js'
import { WaveStatus } from '../../coordinator/waves/wave-api.js'

export const summary = "force-release a node's reboot slot (release NODE --force)"
export const subcommands = ['release'] as const

const USAGE = 'shoal lease release NODE --force [--wave ID] [--coordinator URL] [--admin-token-file FILE] [-o table|wide|json|yaml]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv
  if (sub !== 'release') return subcommandHelp(argv, USAGE, [...subcommands], coordinatorOptions, { summary })
  const { values, positionals } = parse(rest, { ...coordinatorOptions, force: { type: 'boolean' }, wave: { type: 'string' }, ...outputOption }, USAGE, {
    summary,
    docs: { force: { help: 'required: the node may still be rebooting' }, wave: { value: 'ID', help: 'the wave', default: 'the newest' } },
  })
  const format = outputFormat(values.output)
  if (positionals.length !== 1) throw new ShoalError('usage', 'release needs exactly one NODE (see: shoal lease release --help)')
  if (!values.force) throw new ShoalError('usage', "releasing a node's slot from outside is a force-release (the node may still be rebooting): add --force")
  const client = coordinatorClient(values)
  const wave = encodeURIComponent((values.wave as string | undefined) ?? 'current')
  // NODE may be a unique prefix of a node of that wave.
  const status = WaveStatus.safeParse(await client.call(`/v1/waves/${wave}`))
  const node = (status.success ? resolveId(positionals[0]!, status.data.nodes.map((n) => n.node)) : undefined) ?? positionals[0]!
  const r = z.object({ wave: z.string(), node: z.string(), slot: z.number(), term: z.number() }).safeParse(await client.call(`/v1/waves/${wave}/force-release`, { node }))
  if (!r.success) throw badAnswer(`the coordinator at ${client.url}`, r.error.issues[0], `shoal version --coordinator ${client.url}`)
  const a = r.data
  io.out(formatted(format, a, () => `slot ${a.slot} of wave ${a.wave} force-released from ${a.node} (up to term ${a.term}); the next holder starts at a new term`))
  return 0
}
