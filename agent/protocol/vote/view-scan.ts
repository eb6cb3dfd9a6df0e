/**
 * What the vote derives from a whole-roster pass over the ClusterView, kept until the view
 * changes: who is unavailable, which domains are under way, who is waiting. With it, the
 * budget and ranking checks cost O(unavailable + waiting) instead of a facts() call per
 * roster member per message — the difference between O(N) and O(N^2) work per lease at
 * N=200. Only image, domain and availability are kept (ClusterView.version changes with
 * them); pods and load are read live. Used only when the view tells its version;
 * otherwise the vote scans every time, as before. The answers are the same either way.
 */
import type { ClusterView } from './cluster-view.js'
import type { WaveBooks } from './wave-books.js'

export interface ViewScan {
  version: number
  wave: unknown
  retired: ReadonlySet<string>
  retiredSize: number
  /** Roster members not retired whose facts are missing or unavailable, in roster order. */
  unavailable: string[]
  /** Domains with nodes on the target and nodes still waiting (retired included, as the ranking counts them). */
  activeBase: ReadonlySet<string>
  /** Roster members not retired, available and not on the target, in roster order. */
  waiting: string[]
}

/** The scan for the view now: `prev` while it still holds, a new pass otherwise; undefined when the view cannot tell its version. */
export function viewScan(view: ClusterView, books: WaveBooks, prev: ViewScan | undefined): ViewScan | undefined {
  const version = view.version?.()
  if (version === undefined || !books.wave) return undefined
  const sc = prev
  if (sc && sc.version === version && sc.wave === books.wave && sc.retired === books.retired && sc.retiredSize === books.retired.size) return sc
  const target = books.wave.target
  const unavailable: string[] = []
  const waiting: string[] = []
  const byDomain = new Map<string, { done: number; waiting: number }>()
  for (const id of books.rosterIds) {
    const f = view.facts(id)
    if (f) {
      const d = byDomain.get(f.domain) ?? { done: 0, waiting: 0 }
      if (f.image === target) d.done++
      else d.waiting++
      byDomain.set(f.domain, d)
    }
    if (books.retired.has(id)) continue
    if (!f || !f.available) unavailable.push(id)
    else if (f.image !== target) waiting.push(id)
  }
  const activeBase = new Set<string>()
  for (const [dom, d] of byDomain) if (d.done > 0 && d.waiting > 0) activeBase.add(dom)
  return { version, wave: books.wave, retired: books.retired, retiredSize: books.retired.size, unavailable, activeBase, waiting }
}
