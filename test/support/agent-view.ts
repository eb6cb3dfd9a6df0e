/**
 * An agent's view of the cluster as its watch stream tells it (GET /v1/watch): the
 * snapshot first, then every member and record change. Tests wait on it with a
 * predicate and a deadline instead of polling or sleeping.
 */
import { AgentClient, type WatchLine } from '../../agent/api/agent-client.js'

type NodeSummary = Extract<WatchLine, { type: 'snapshot' }>['nodes'][number]

/** What the stream has said about each node id: the latest summary, or only a status. */
export type AgentView = Map<string, { status: string; node: NodeSummary | null; recordSeen: boolean }>

/**
 * Resolves once `pred(view)` holds on the view the agent at `api` streams (checked after
 * each line); rejects at the deadline with `${api} did not see ${what}`.
 */
export async function untilAgentSees(api: string, pred: (view: AgentView) => boolean, deadlineMs: number, what: string): Promise<void> {
  const client = new AgentClient(api)
  const abort = new AbortController()
  const view: AgentView = new Map()
  let seen = false
  const timer = setTimeout(() => abort.abort(), deadlineMs)
  try {
    await client.watch((line) => {
      if (line.type === 'snapshot') for (const n of line.nodes) view.set(n.id, { status: n.status, node: n, recordSeen: false })
      else if (line.type === 'member') view.set(line.id, { status: line.status, node: line.node, recordSeen: view.get(line.id)?.recordSeen ?? false })
      else if (line.type === 'record') view.set(line.id, { status: line.node?.status ?? view.get(line.id)?.status ?? 'alive', node: line.node, recordSeen: true })
      else return
      if (pred(view)) {
        seen = true
        abort.abort()
      }
    }, abort.signal)
  } finally {
    clearTimeout(timer)
    await client.close()
  }
  if (!seen) throw new Error(`${api} did not see ${what} within ${deadlineMs} ms`)
}
