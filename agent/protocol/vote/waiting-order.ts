/**
 * Who waits ahead of whom: the eligible waiting candidates ranked before a node
 * (ranking.ts gives the order), as both the candidate (should I ask?) and the voter (is
 * this the one to back?) count them.
 */
import type { NodeFacts } from './cluster-view.js'
import { currentScan, type Occupancy } from './budget.js'
import { compareRank, rankKey, type RankInputs, type RankKey } from './ranking.js'
import type { VoteCore } from './vote-core.js'

/** Eligible waiting candidates ranked before `f`, counted up to `limit` (an early exit: only "fewer than limit?" matters). */
export function countBetter(vn: VoteCore, f: NodeFacts, occ: Pick<Occupancy, 'holders' | 'domains'>, limit: number): number {
  const w = vn.wave!
  const inputs = rankInputs(vn, occ.holders)
  const mine = rankKey(vn.viewPort, f, inputs)
  let better = 0
  const sc = currentScan(vn)
  for (const id of sc ? sc.waiting : waitingNow(vn)) {
    if (id === f.id || occ.holders.includes(id)) continue
    const o = vn.viewPort.facts(id)
    if (!o || !o.available || o.image === w.target) continue
    if (w.policy === 'one-at-a-time' && occ.domains.size > 0 && !occ.domains.has(o.domain)) continue
    // Cheap fields first; the Ceph check only for nodes that would otherwise come first.
    const cheap: RankKey = { id: o.id, ok: mine.ok, domainActive: inputs.activeDomains.has(o.domain), domain: o.domain, pods: o.pods, load: o.load }
    if (mine.ok) {
      if (compareRank(cheap, mine) > 0) continue
      if (!vn.viewPort.okToStop([...occ.holders, o.id])) continue
    } else if (compareRank(cheap, mine) > 0 && !vn.viewPort.okToStop([...occ.holders, o.id])) continue
    if (!vn.viewPort.drainable(o.id)) continue
    if (++better >= limit) return better
  }
  return better
}

/** Without a cached scan: every roster member not retired (the loop checks the rest). */
function waitingNow(vn: VoteCore): string[] {
  return vn.books.rosterIds.filter((id) => !vn.books.retired.has(id))
}

export function rankInputs(vn: VoteCore, holders: string[]): RankInputs {
  const sc = currentScan(vn)
  if (sc) {
    const active = new Set(sc.activeBase)
    for (const h of holders) {
      const f = vn.viewPort.facts(h)
      if (f) active.add(f.domain)
    }
    return { holders, activeDomains: active }
  }
  const w = vn.wave!
  const active = new Set<string>()
  const byDomain = new Map<string, { done: number; waiting: number }>()
  for (const id of vn.books.rosterIds) {
    const f = vn.viewPort.facts(id)
    if (!f) continue
    const d = byDomain.get(f.domain) ?? { done: 0, waiting: 0 }
    if (f.image === w.target) d.done++
    else d.waiting++
    byDomain.set(f.domain, d)
  }
  for (const [dom, d] of byDomain) if (d.done > 0 && d.waiting > 0) active.add(dom)
  for (const h of holders) {
    const f = vn.viewPort.facts(h)
    if (f) active.add(f.domain)
  }
  return { holders, activeDomains: active }
}
