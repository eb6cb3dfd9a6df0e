/**
 * Ranking, "least turbulence": which waiting candidate should reboot next. Deterministic
 * from gossiped state, so voters with the same view pick the same order:
 *
 *  1. Ceph ok-to-stop (with every slot holder counted as stopped): safe ones first.
 *  2. Failure domain: a domain already under way (holds a slot, or has finished nodes
 *     and still waiting ones) before an untouched one, then by domain name — so one rack
 *     is finished before the next is touched.
 *  3. Pods a drain would evict: fewer first (less rescheduling churn).
 *  4. Load: lower first.
 *  5. Node id: the final, total tie-break.
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
  domainActive: boolean
  domain: string
  pods: number
  load: number
}

export function rankKey(view: ClusterView, f: NodeFacts, inputs: RankInputs): RankKey {
  return {
    id: f.id,
    ok: view.okToStop([...inputs.holders, f.id]),
    domainActive: inputs.activeDomains.has(f.domain),
    domain: f.domain,
    pods: f.pods,
    load: f.load,
  }
}

/** Negative when `a` should reboot before `b`. A total order. */
export function compareRank(a: RankKey, b: RankKey): number {
  if (a.ok !== b.ok) return a.ok ? -1 : 1
  if (a.domainActive !== b.domainActive) return a.domainActive ? -1 : 1
  if (a.domain !== b.domain) return a.domain < b.domain ? -1 : 1
  if (a.pods !== b.pods) return a.pods - b.pods
  if (a.load !== b.load) return a.load - b.load
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}
