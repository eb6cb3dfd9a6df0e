/**
 * `shoal watch`: the cluster table, then joins, suspicions, deaths and phase changes as
 * they happen. Runs until Ctrl-C (exit 0), `--count N` changes were shown (exit 0), or the
 * agent goes away (exit 3).
 */
import { parseAgentCommand, nodesTable, watchText } from '../../../agent/api/index.js'
import { ShoalError } from '../../../agent/protocol/errors.js'
import type { CliIo } from '../main.js'

export const summary = 'follow joins, deaths and changes live (--agent HOST:PORT, -o table|json, --count N)'
const usage = 'shoal watch [--agent HOST:PORT] [-o table|json] [--count N]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { client, format, values } = parseAgentCommand(argv, usage, { count: { type: 'string' } })
  let limit = Infinity
  if (values.count !== undefined) {
    limit = Number(values.count)
    if (!/^\d+$/.test(values.count) || limit < 1) {
      await client.close()
      throw new ShoalError('usage', `--count must be a positive whole number, not "${values.count}"`)
    }
  }
  const abort = new AbortController()
  const stop = () => abort.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  let shown = 0
  try {
    await client.watch((line) => {
      if (abort.signal.aborted) return
      if (format === 'json') {
        if (line.type === 'heartbeat') return
        io.out(JSON.stringify(line))
        if (line.type !== 'snapshot' && ++shown >= limit) abort.abort()
        return
      }
      if (line.type === 'snapshot') {
        io.out(nodesTable(line.nodes))
        io.out(`-- watching ${line.answeredBy} (${line.counts.total} nodes); Ctrl-C to stop`)
        return
      }
      const text = watchText(line)
      if (!text) return
      io.out(text)
      if (++shown >= limit) abort.abort()
    }, abort.signal)
    return 0
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    await client.close()
  }
}
