/**
 * `shoal audit shells [--node ID]`: recent shell sessions of the whole cluster, from any
 * agent (each agent hears every session over the mesh; docs/shell.md).
 */
import { request } from 'undici'
import { parseAgentCommand } from '../../../agent/api/cli-options.js'
import { ShoalError } from '../../../agent/protocol/errors.js'
import { ShellSession } from '../../../agent/protocol/shell-channel.js'
import { table } from '../args.js'
import type { CliIo } from '../main.js'
import { z } from 'zod'

export const summary = 'recent shell sessions on the cluster: shoal audit shells [--node ID] (--agent HOST:PORT, -o table|json)'
const USAGE = 'shoal audit shells [--node ID] [--agent HOST:PORT] [-o table|json]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [what, ...rest] = argv
  if (what !== 'shells') throw new ShoalError('usage', `${what ? `unknown audit "${what}"` : 'missing what to audit'}\nusage: ${USAGE}`)
  const { client, format, values } = parseAgentCommand(rest, USAGE, { node: { type: 'string' } })
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
  if (format === 'json') {
    io.out(JSON.stringify(sessions, null, 2))
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
