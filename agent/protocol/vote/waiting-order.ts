/**
 * Who waits ahead of whom: the eligible waiting candidates ranked before a node
 * (ranking.ts gives the order), as both the candidate (should I ask?) and the voter (is
 * this the one to back?) count them.
 */
import type { NodeFacts } from './cluster-view.js'
import { currentScan, type Occupancy } from './budget.js'
import { compareRank, keyOf, rankKey, type RankInputs, type RankKey } from './ranking.js'
import type { VoteCore } from './vote-core.js'

/**
 * Eligible waiting candidates ranked before `f`, counted up to `limit` (an early exit: only
 * "fewer than limit?" matters). When fewer than `limit` rank before it, they are taken
 * greedily in rank order as far as Ceph may stop them together with the holders, and `f`
 * counts as admitted only if it fits on top of those too; otherwise `limit` (not admitted).
 * Without that, K candidates each ok-to-stop alone but not together all asked at once,
 * every voter promised the first request it heard and refused the others ('gate'), the
 * votes split by arrival and the same race repeated every term (a 16-node, K=3, host
 * placement sweep seed ran 1,700 terms with nobody winning).
 */
export function countBetter(vn: VoteCore, f: NodeFacts, occ: Pick<Occupancy, 'holders' | 'domains'>, limit: number): number {
  const w = vn.wave!
  const inputs = rankInputs(vn, occ.holders)
  const mine = rankKey(vn.viewPort, f, inputs)
  let better = 0
  const ahead: RankKey[] = []
  // [...holders, candidate], reused for every okToStop below (one array, not one per waiting node).
  const withOne = [...occ.holders, '']
  const last = withOne.length - 1
  const sc = currentScan(vn)
  // One waiting node: is it eligible and ranked before `f`? (then it is counted, its key kept)
  const before = (id: string): boolean => {
    if (id === f.id || occ.holders.includes(id)) return false
    const o = vn.viewPort.facts(id)
    if (!o || !o.available || o.image === w.target) return false
    if (w.policy === 'one-at-a-time' && occ.domains.size > 0 && !occ.domains.has(o.domain)) return false
    // Cheap fields first (compareRank's order, without building a key for every waiting
    // node); the Ceph check only for nodes that would otherwise come first.
    const domainActive = inputs.activeDomains.has(o.domain)
    withOne[last] = o.id
    const after = cheapAfter(domainActive, o, mine)
    if (mine.ok) {
      if (after) return false
      if (!vn.viewPort.okToStop(withOne)) return false
    } else if (after && !vn.viewPort.okToStop(withOne)) return false
    if (!vn.viewPort.drainable(o.id)) return false
    ahead.push(keyOf(o, mine.ok, inputs.activeDomains))
    return true
  }
  if (sc && mine.ok && mine.blocked === 0) {
    // By domain: with nothing blocked on `f` (the usual case) and `f` safe to stop, a domain
    // the ranking puts after f's holds no node before it — none can have fewer blocked
    // pods — so it is skipped whole. The count is the same as the full pass below.
    for (const [domain, ids] of sc.waitingByDomain) {
      if (domain !== mine.domain && domainAfter(domain, inputs.activeDomains.has(domain), mine)) continue
      for (const id of ids) if (before(id) && ++better >= limit) return better
    }
  } else {
    for (const id of sc ? sc.waiting : waitingNow(vn)) if (before(id) && ++better >= limit) return better
  }
  if (better === 0 || !mine.ok) return better
  return fitsTogether(vn, occ.holders, ahead, f.id) ?? limit
}

/** Does every node of `domain` with as few blocked pods as `mine` rank after it? (compareRank's domain fields) */
function domainAfter(domain: string, domainActive: boolean, mine: RankKey): boolean {
  if (domainActive !== mine.domainActive) return !domainActive
  return domain > mine.domain
}

/** compareRank(key of `o` with `mine.ok`, mine) > 0, field by field, allocating nothing. */
function cheapAfter(domainActive: boolean, o: NodeFacts, mine: RankKey): boolean {
  const blocked = o.blocked ?? 0
  if (blocked !== mine.blocked) return blocked > mine.blocked
  if (domainActive !== mine.domainActive) return !domainActive
  if (o.domain !== mine.domain) return o.domain > mine.domain
  const primaries = o.primaries ?? 0
  if (primaries !== mine.primaries) return primaries > mine.primaries
  const pgs = o.pgs ?? 0
  if (pgs !== mine.pgs) return pgs > mine.pgs
  if (o.pods !== mine.pods) return o.pods > mine.pods
  if (o.load !== mine.load) return o.load > mine.load
  return o.id > mine.id
}

/** The candidates of `ahead` that Ceph may stop together with the holders, best first; their count when `id` fits on top, else undefined. */
function fitsTogether(vn: VoteCore, holders: readonly string[], ahead: RankKey[], id: string): number | undefined {
  ahead.sort(compareRank)
  const set = [...holders]
  let taken = 0
  for (const k of ahead) {
    set.push(k.id)
    if (vn.viewPort.okToStop(set)) taken++
    else set.pop()
  }
  set.push(id)
  return vn.viewPort.okToStop(set) ? taken : undefined
}

/** Without a cached scan: every roster member not retired (the loop checks the rest). */
function waitingNow(vn: VoteCore): string[] {
  return vn.books.rosterIds.filter((id) => !vn.books.retired.has(id))
}

export function rankInputs(vn: VoteCore, holders: string[]): RankInputs {
  const sc = currentScan(vn)
  if (sc) {
    // The scan's set itself when the holders add no domain to it (the usual case): no copy.
    let active: Set<string> = sc.activeBase
    for (const h of holders) {
      const f = vn.viewPort.facts(h)
      if (!f || active.has(f.domain)) continue
      if (active === sc.activeBase) active = new Set(sc.activeBase)
      active.add(f.domain)
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
