/**
 * `shoal watch`: the cluster table, then joins, suspicions, deaths and phase changes as
 * they happen. Runs until Ctrl-C (exit 0), `--count N` changes were shown (exit 0), or no
 * agent answers any more (exit 3). When its agent goes away it moves to another one it
 * knows — the context's agents, then any alive node's API address from the stream — says
 * so on stderr, and prints the changes it missed as it catches up.
 */
import { AgentClient, nodesTable, watchText, type WatchLine } from '../../agent/api/index.js'
import { ShoalError } from '../../agent/protocol/errors.js'
import { formatted, outputFormat, parse, positionals } from '../args.js'
import { agentAddresses } from '../cli-config.js'
import { agentOptions } from '../clients.js'
import type { CliIo } from '../main.js'

export const summary = 'follow joins, deaths and changes live; fails over to another agent'
const usage = 'shoal watch [--agent HOST:PORT] [-o table|wide|json|yaml] [--count N]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals: args } = parse(argv, { ...agentOptions, count: { type: 'string' } }, usage, {
    summary,
    docs: { count: { value: 'N', help: 'stop after N changes', default: 'never' } },
  })
  positionals(args, 0, 0, usage)
  const format = outputFormat(values.output)
  let limit = Infinity
  if (values.count !== undefined) {
    limit = Number(values.count)
    if (!/^\d+$/.test(values.count) || limit < 1) throw new ShoalError('usage', `--count must be a positive whole number, not "${values.count}"`)
  }
  const json = format === 'json' || format === 'yaml'
  /** One stream line as JSON (one per line) or as a YAML document. */
  const encode = (line: WatchLine) => (format === 'yaml' ? `---\n${formatted('yaml', line, () => '')}` : JSON.stringify(line))
  const abort = new AbortController()
  const stop = () => abort.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  let shown = 0
  const candidates = agentAddresses(values)
  /** Liveness per node as last shown, to print what was missed across a failover. */
  const statuses = new Map<string, string>()
  let address = candidates[0]!
  let failedOver = false
  const tried = new Set<string>()
  const show = (text: string) => {
    io.out(text)
    if (++shown >= limit) abort.abort()
  }
  const learn = (nodes: { id: string; status: string; api: string | null }[]) => {
    for (const n of nodes) if (n.api && n.status === 'alive' && !candidates.includes(n.api)) candidates.push(n.api)
  }
  const onLine = (line: WatchLine) => {
    if (abort.signal.aborted) return
    if (line.type === 'snapshot') {
      tried.clear()
      learn(line.nodes)
      if (json) io.out(encode(line))
      else if (!failedOver) {
        io.out(format === 'wide' ? nodesTable(line.nodes, { wide: true }) : nodesTable(line.nodes))
        io.out(`-- watching ${line.answeredBy} (${line.counts.total} nodes); Ctrl-C to stop`)
      } else {
        // What changed while no agent was watched, as the lines the stream would have shown.
        for (const n of line.nodes) {
          const before = statuses.get(n.id)
          if (before === n.status) continue
          const text = watchText({ type: 'member', at: line.at, id: n.id, status: n.status, previous: before ?? null, node: n })
          if (text && !abort.signal.aborted) show(text)
        }
      }
      for (const n of line.nodes) statuses.set(n.id, n.status)
      return
    }
    if (line.type === 'heartbeat') return
    if (line.type === 'member') {
      statuses.set(line.id, line.status)
      if (line.node) learn([line.node])
    }
    if (json) {
      show(encode(line))
      return
    }
    const text = watchText(line)
    if (text) show(text)
  }
  try {
    for (;;) {
      const client = new AgentClient(address)
      try {
        await client.watch(onLine, abort.signal)
        return 0
      } catch (err) {
        if (abort.signal.aborted) return 0
        if (!(err instanceof ShoalError) || err.code !== 'unreachable') throw err
        tried.add(address)
        const next = candidates.find((a) => !tried.has(a))
        if (!next) {
          const hint = candidates.length > 1 ? `none of ${candidates.join(', ')} answers` : 'no other agent is known; list several in the context: shoal config set-context NAME --agent A --agent B'
          throw new ShoalError('unreachable', `${err.message.split('\n')[0]!.replace(/; is it running\?.*$/, '')}; ${hint}`)
        }
        io.err(`-- ${err.message.split(';')[0]!.trim()}; watching via ${next}`)
        address = next
        failedOver = true
      } finally {
        await client.close()
      }
    }
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}
