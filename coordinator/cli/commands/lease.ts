/**
 * `shoal lease release NODE --force [--wave ID]` — an operator's force-release of the slot
 * NODE holds in the wave (the newest by default): the coordinator signs a force message, a
 * new term starts, and the old lease no longer proves anything (audited).
 */
import { z } from 'zod'
import { ShoalError } from '../../../agent/protocol/errors.js'
import { clientOptions, waveClient } from '../../waves/wave-client.js'
import { outputFormat, parse } from '../args.js'
import type { CliIo } from '../main.js'

export const summary = "force-release a node's reboot slot (release NODE --force)"

const USAGE = 'shoal lease release NODE --force [--wave ID] [--coordinator URL] [--admin-token T] [-o table|json]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv
  if (sub !== 'release') throw new ShoalError('usage', `${sub ? `unknown subcommand "${sub}"` : 'missing subcommand'}\nusage: ${USAGE}`)
  const { values, positionals } = parse(rest, { ...clientOptions, force: { type: 'boolean' }, wave: { type: 'string' }, output: { type: 'string', short: 'o', default: 'table' } }, USAGE)
  const format = outputFormat(values.output)
  if (positionals.length !== 1) throw new ShoalError('usage', `release needs exactly one NODE\nusage: ${USAGE}`)
  if (!values.force) throw new ShoalError('usage', `releasing a node's slot from outside is a force-release (the node may still be rebooting): add --force\nusage: ${USAGE}`)
  const client = await waveClient(values)
  const wave = encodeURIComponent((values.wave as string | undefined) ?? 'current')
  const r = z.object({ wave: z.string(), node: z.string(), slot: z.number(), term: z.number() }).parse(await client.call(`/v1/waves/${wave}/force-release`, { node: positionals[0] }))
  io.out(format === 'json' ? JSON.stringify(r) : `slot ${r.slot} of wave ${r.wave} force-released from ${r.node} (up to term ${r.term}); the next holder starts at a new term`)
  return 0
}
