/**
 * How the API presents a member: the pure mapping from the mesh's MemberView to the JSON
 * an operator reads (`GET /v1/cluster`, `shoal nodes`). Ages are relative to `now`, so
 * answers from any agent read the same.
 */
import type { Liveness, MemberView } from '../protocol/mesh-types.js'
import type { NodeRecordBody } from '../protocol/node-record.js'

export interface NodeSummary {
  id: string
  status: Liveness
  phase: string | null
  image: string | null
  domain: string | null
  health: { status: string; conditions: number; kubeletReady?: boolean; osdsUp?: number; osdsTotal?: number } | null
  /** host:port of that node's agent API. */
  api: string | null
  /** Milliseconds since this agent received that node's newest record. */
  lastUpdateAgeMs: number | null
  /** Milliseconds since its liveness status last changed. */
  statusAgeMs: number
  incarnation: number
  version: number | null
}

export interface NodeDetail extends NodeSummary {
  record: NodeRecordBody | null
}

export function nodeSummary(m: MemberView, now: number): NodeSummary {
  const r = m.record
  return {
    id: m.id,
    status: m.status,
    phase: r?.phase ?? null,
    image: r?.image ?? null,
    domain: r?.domain ?? null,
    health: r
      ? {
          status: r.health.status,
          conditions: r.health.conditions.length,
          ...(r.health.kubeletReady !== undefined ? { kubeletReady: r.health.kubeletReady } : {}),
          ...(r.health.osdsUp !== undefined ? { osdsUp: r.health.osdsUp } : {}),
          ...(r.health.osdsTotal !== undefined ? { osdsTotal: r.health.osdsTotal } : {}),
        }
      : null,
    api: r?.api ?? null,
    lastUpdateAgeMs: r ? Math.max(0, now - m.updatedAt) : null,
    statusAgeMs: Math.max(0, now - m.statusSince),
    incarnation: m.inc,
    version: r?.ver ?? null,
  }
}

export function nodeDetail(m: MemberView, now: number): NodeDetail {
  return { ...nodeSummary(m, now), record: m.record ?? null }
}

export interface ClusterSummary {
  /** The agent that answered. */
  answeredBy: string
  observedAt: string
  counts: { total: number; alive: number; suspect: number; dead: number }
  nodes: NodeSummary[]
}

export function clusterSummary(selfId: string, members: MemberView[], now: number): ClusterSummary {
  const nodes = members.map((m) => nodeSummary(m, now)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const counts = { total: nodes.length, alive: 0, suspect: 0, dead: 0 }
  for (const n of nodes) counts[n.status]++
  return { answeredBy: selfId, observedAt: new Date(now).toISOString(), counts, nodes }
}
