/**
 * The budget, in one place: how many slots are free in this node's view, and whether a
 * node may take one. K slots, minus the slots promised or granted to anyone, minus every
 * other roster member that is unavailable for any cause (a node down for a fault counts
 * against K exactly like one rebooting for the wave). The candidate asks only when this
 * admits it (candidate.ts); the voter votes only when it admits the candidate (voter.ts).
 */
import type { NodeFacts } from './cluster-view.js'
import type { VoteCore } from './vote-core.js'
import { viewScan, type ViewScan } from './view-scan.js'

export interface Occupancy {
  slotsTaken: number
  /** Nodes holding or possibly holding a slot (promised-to, granted). */
  holders: string[]
  /** Their failure domains. */
  domains: Set<string>
  /** Roster members not retired, not holders, unavailable in this view. */
  unavailableOthers: number
  /** Slots left: K - taken - unavailable others. */
  free: number
}

/** The cached roster pass for the view now (view-scan.ts), or undefined when the view cannot tell its version. */
export function currentScan(vn: VoteCore): ViewScan | undefined {
  const sc = viewScan(vn.viewPort, vn.books, vn.scan)
  vn.scan = sc
  return sc
}

/**
 * Slots taken and who may hold them, in this node's view. `except`: a slot whose own
 * state is judged separately (the one being asked for); -1 for none.
 */
export function occupancy(vn: VoteCore, except: number): Occupancy {
  const b = vn.books
  const holders: string[] = []
  let slotsTaken = 0
  for (let i = 0; i < b.slots.length; i++) {
    const s = b.slots[i]!
    if (i === except) continue
    let taken = false
    for (const cand of s.promises.keys()) {
      taken = true
      if (!holders.includes(cand)) holders.push(cand)
    }
    if (s.grant) {
      taken = true
      if (!holders.includes(s.grant.holder)) holders.push(s.grant.holder)
    }
    if (taken) slotsTaken++
  }
  const domains = new Set<string>()
  for (const h of holders) {
    const f = vn.viewPort.facts(h)
    if (f) domains.add(f.domain)
  }
  let unavailableOthers = 0
  const sc = currentScan(vn)
  if (sc) {
    for (const id of sc.unavailable) if (!holders.includes(id)) unavailableOthers++
  } else {
    for (const id of b.rosterIds) {
      if (b.retired.has(id) || holders.includes(id)) continue
      const f = vn.viewPort.facts(id)
      if (!f || !f.available) unavailableOthers++
    }
  }
  return { slotsTaken, holders, domains, unavailableOthers, free: b.wave!.slots - slotsTaken - unavailableOthers }
}

/**
 * May `f` take a slot on top of `occ`? 'budget' when none is free; 'gate' when its drain
 * would break a PodDisruptionBudget, Ceph is not ok-to-stop with every holder counted, or
 * the one-at-a-time policy keeps it out of another domain's turn.
 */
export function admit(vn: VoteCore, occ: Occupancy, f: NodeFacts): 'budget' | 'gate' | undefined {
  if (occ.free <= 0) return 'budget'
  if (!vn.viewPort.drainable(f.id)) return 'gate'
  if (!vn.viewPort.okToStop([...occ.holders, f.id])) return 'gate'
  if (!domainAllows(vn, occ, f.domain)) return 'gate'
  return undefined
}

/** The one-at-a-time policy: slots never span two failure domains. */
export function domainAllows(vn: VoteCore, occ: Pick<Occupancy, 'domains'>, domain: string): boolean {
  return vn.wave!.policy !== 'one-at-a-time' || occ.domains.size === 0 || (occ.domains.size === 1 && occ.domains.has(domain))
}
