/**
 * Ranking, "least turbulence": which waiting candidate should reboot next. Deterministic
 * from gossiped state, so voters with the same view pick the same order:
 *
 *  1. Ceph ok-to-stop (with every slot holder counted as stopped): safe ones first.
 *  2. Pods a PodDisruptionBudget blocks now: fewer first — a node whose drain would stall
 *     goes after every node that can go at once.
 *  3. Failure domain: a domain already under way (holds a slot, or has finished nodes
 *     and still waiting ones) before an untouched one, then by domain name — so one rack
 *     is finished before the next is touched.
 *  4. Ceph share: fewer primary PGs on its OSDs first (each re-peers when they stop and its
 *     client I/O pauses meanwhile), then fewer PGs with a replica on them (degraded while down).
 *  5. Pods a drain would evict: fewer first (less rescheduling churn).
 *  6. Load: lower first.
 *  7. Node id: the final, total tie-break.
 * Fields an older agent does not publish (blocked, pgs, primaries) count as 0.
 */
import type { ClusterView, NodeFacts } from './cluster-view.js'

export interface RankInputs {
  /** Nodes holding or possibly holding a slot (promised-to, granted). */
  holders: readonly string[]
  /** Domains under way: of holders, or with nodes already on the target. */
  activeDomains: ReadonlySet<string>
}

export interface RankKey {
  id: string
  ok: boolean
  blocked: number
  domainActive: boolean
  domain: string
  primaries: number
  pgs: number
  pods: number
  load: number
}

/** The key from facts with `ok` already known (the cheap part: no Ceph question). */
export function keyOf(f: NodeFacts, ok: boolean, activeDomains: ReadonlySet<string>): RankKey {
  return {
    id: f.id,
    ok,
    blocked: f.blocked ?? 0,
    domainActive: activeDomains.has(f.domain),
    domain: f.domain,
    primaries: f.primaries ?? 0,
    pgs: f.pgs ?? 0,
    pods: f.pods,
    load: f.load,
  }
}

export function rankKey(view: ClusterView, f: NodeFacts, inputs: RankInputs): RankKey {
  return keyOf(f, view.okToStop([...inputs.holders, f.id]), inputs.activeDomains)
}

/** Negative when `a` should reboot before `b`. A total order. */
export function compareRank(a: RankKey, b: RankKey): number {
  if (a.ok !== b.ok) return a.ok ? -1 : 1
  if (a.blocked !== b.blocked) return a.blocked - b.blocked
  if (a.domainActive !== b.domainActive) return a.domainActive ? -1 : 1
  if (a.domain !== b.domain) return a.domain < b.domain ? -1 : 1
  if (a.primaries !== b.primaries) return a.primaries - b.primaries
  if (a.pgs !== b.pgs) return a.pgs - b.pgs
  if (a.pods !== b.pods) return a.pods - b.pods
  if (a.load !== b.load) return a.load - b.load
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}
