/**
 * `shoal audit shells [--node ID]`: recent shell sessions of the whole cluster, from any
 * agent (each agent hears every session over the mesh; docs/shell.md).
 */
import { request } from 'undici'
import { ShoalError } from '../../agent/protocol/errors.js'
import { ShellSession } from '../../agent/protocol/shell-channel.js'
import { formatted, outputFormat, parse, positionals, subcommandHelp, table } from '../args.js'
import { agentClient, agentOptions } from '../clients.js'
import type { CliIo } from '../main.js'
import { z } from 'zod'

export const summary = 'recent shell sessions on the cluster: shoal audit shells [--node ID]'
export const subcommands = ['shells'] as const
const USAGE = 'shoal audit shells [--node ID] [--agent HOST:PORT] [-o table|wide|json|yaml]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [what, ...rest] = argv
  if (what !== 'shells') return subcommandHelp(argv, USAGE, [...subcommands], {}, { summary })
  const { values, positionals: args } = parse(rest, { ...agentOptions, node: { type: 'string' } }, USAGE, { summary, docs: { node: { value: 'ID', help: 'only sessions on this node' } } })
  positionals(args, 0, 0, USAGE)
  const format = outputFormat(values.output)
  const { client } = agentClient(values)
  await client.close()
  const q = values.node ? `?node=${encodeURIComponent(values.node)}` : ''
  let body: unknown
  try {
    const res = await request(`http://${client.address}/v1/shells${q}`, { headersTimeout: 5000, bodyTimeout: 5000 })
    body = await res.body.json()
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`)
  } catch (err) {
    throw new ShoalError('unreachable', `cannot list shell sessions from the agent at ${client.address}: ${(err as Error).message}`)
  }
  const parsed = z.object({ sessions: z.array(ShellSession) }).safeParse(body)
  if (!parsed.success) throw new ShoalError('agent-error', `the agent at ${client.address} sent an unexpected answer (is it older than the shell?)`)
  const sessions = parsed.data.sessions
  if (format === 'json' || format === 'yaml') {
    io.out(formatted(format, sessions, () => ''))
    return 0
  }
  if (!sessions.length) {
    io.out('no shell sessions known')
    return 0
  }
  io.out(
    table(
      ['STARTED', 'NODE', 'OPERATOR', 'COMMAND', 'DURATION', 'EXIT', 'END', 'IN/OUT BYTES'],
      sessions.map((s) => [
        new Date(s.startedAt).toISOString().replace('T', ' ').slice(0, 19),
        s.node,
        s.operator,
        s.command ? s.command.join(' ').slice(0, 40) : '(interactive)',
        `${(s.durationMs / 1000).toFixed(1)}s`,
        s.exitCode ?? '-',
        s.end,
        `${s.bytesIn}/${s.bytesOut}`,
      ]),
    ),
  )
  return 0
}
