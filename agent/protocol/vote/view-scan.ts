/**
 * What the vote derives from a whole-roster pass over the ClusterView, kept until the view
 * changes: who is unavailable, which domains are under way, who is waiting. With it, the
 * budget and ranking checks cost O(unavailable + waiting) instead of a facts() call per
 * roster member per message — the difference between O(N) and O(N^2) work per lease at
 * N=200. Only image, domain and availability are kept (ClusterView.version changes with
 * them); pods and load are read live. When the view also tells which members changed
 * (ClusterView.changedSince), the pass is updated by those members alone. Used only when
 * the view tells its version; otherwise the vote scans every time, as before. The
 * answers are the same either way.
 */
import type { ClusterView } from './cluster-view.js'
import type { WaveBooks } from './wave-books.js'

/** What the pass saw of one roster member. */
interface Seen {
  domain: string
  onTarget: boolean
  available: boolean
}

export interface ViewScan {
  version: number
  wave: unknown
  retired: ReadonlySet<string>
  retiredSize: number
  /** Roster members not retired whose facts are missing or unavailable. */
  unavailable: Set<string>
  /** Domains with nodes on the target and nodes still waiting (retired included, as the ranking counts them). */
  activeBase: Set<string>
  /** Roster members not retired, available and not on the target. */
  waiting: Set<string>
  /**
   * `waiting` by failure domain. The ranking orders domains before everything but
   * `blocked` (ranking.ts), so a voter judging the best-ranked candidate skips every domain
   * ranked after it instead of reading each of its members (waiting-order.ts countBetter).
   */
  waitingByDomain: Map<string, Set<string>>
  /** Per domain: members on the target, members not (retired included). */
  byDomain: Map<string, { done: number; waiting: number }>
  /** Per roster member: what the pass counted it as (undefined: missing from the view). */
  seen: Map<string, Seen | undefined>
}

/** The scan for the view now: `prev` while it still holds (updated in place when the view names what changed), a new pass otherwise; undefined when the view cannot tell its version. */
export function viewScan(view: ClusterView, books: WaveBooks, prev: ViewScan | undefined): ViewScan | undefined {
  const version = view.version?.()
  if (version === undefined || !books.wave) return undefined
  const sc = prev
  if (sc && sc.wave === books.wave && sc.retired === books.retired && sc.retiredSize === books.retired.size) {
    if (sc.version === version) return sc
    const changed = view.changedSince?.(sc.version)
    if (changed) {
      const target = books.wave.target
      // The domains under way change only when a member's domain or image does.
      let domainsMoved = false
      for (const id of changed) {
        const was = sc.seen.get(id)
        if (was === undefined && !sc.seen.has(id)) continue // not on the roster
        const f = view.facts(id)
        // A change of what the pass does not keep (pods, health...): nothing to recount.
        if (was && f && was.domain === f.domain && was.available === f.available && was.onTarget === (f.image === target)) continue
        count(sc, books, id, was, -1)
        const now = f ? { domain: f.domain, onTarget: f.image === target, available: f.available } : undefined
        sc.seen.set(id, now)
        count(sc, books, id, now, 1)
        if (!was || !now || was.domain !== now.domain || was.onTarget !== now.onTarget) domainsMoved = true
      }
      if (domainsMoved) sc.activeBase = active(sc.byDomain)
      sc.version = version
      return sc
    }
  }
  const target = books.wave.target
  const next: ViewScan = {
    version,
    wave: books.wave,
    retired: books.retired,
    retiredSize: books.retired.size,
    unavailable: new Set(),
    activeBase: new Set(),
    waiting: new Set(),
    waitingByDomain: new Map(),
    byDomain: new Map(),
    seen: new Map(),
  }
  for (const id of books.rosterIds) {
    const f = view.facts(id)
    const seen = f ? { domain: f.domain, onTarget: f.image === target, available: f.available } : undefined
    next.seen.set(id, seen)
    count(next, books, id, seen, 1)
  }
  next.activeBase = active(next.byDomain)
  return next
}

/** Adds (+1) or takes away (-1) what one member counts for. */
function count(sc: ViewScan, books: WaveBooks, id: string, s: Seen | undefined, sign: 1 | -1): void {
  if (s) {
    let d = sc.byDomain.get(s.domain)
    if (!d) sc.byDomain.set(s.domain, (d = { done: 0, waiting: 0 }))
    if (s.onTarget) d.done += sign
    else d.waiting += sign
  }
  if (books.retired.has(id)) return
  const set = !s || !s.available ? sc.unavailable : !s.onTarget ? sc.waiting : undefined
  if (!set) return
  if (sign > 0) set.add(id)
  else set.delete(id)
  if (set !== sc.waiting) return
  let d = sc.waitingByDomain.get(s!.domain)
  if (!d) sc.waitingByDomain.set(s!.domain, (d = new Set()))
  if (sign > 0) d.add(id)
  else d.delete(id)
}

function active(byDomain: Map<string, { done: number; waiting: number }>): Set<string> {
  const out = new Set<string>()
  for (const [dom, d] of byDomain) if (d.done > 0 && d.waiting > 0) out.add(dom)
  return out
}
