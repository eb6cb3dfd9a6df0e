/**
 * Who a wave takes and what it would do: the roster, the selector's nodes, the version the
 * nodes run before it, its candidates, and the dry run (order, gates, why not).
 */
import { rankKey } from '../../agent/protocol/vote/ranking.js'
import { HttpError } from '../../agent/http/index.js'
import type { ClusterState } from '../cluster-state.js'
import type { CoordinatorView } from './coordinator-view.js'
import { rankedWithReasons } from './rank-reasons.js'
import type { DryRun, StoredWave, WaveCreate } from './wave-api.js'
import { refusalText, startVerdict } from './wave-blockers.js'
import { selectNodes } from './wave-selection.js'

/** The wave roster: every enrolled node, sorted by id. */
export function fixRoster(state: ClusterState): { id: string; key: string }[] {
  return [...state.nodes.values()].map((n) => ({ id: n.id, key: n.key })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/** The roster nodes the wave takes: its selector's (400 when it is bad or selects none), else all. */
export function selectRoster(view: CoordinatorView, b: WaveCreate, ids: string[]): string[] {
  if (!b.selector) return ids
  view.refresh()
  let chosen: string[]
  try {
    chosen = selectNodes(b.selector, ids.map((id) => ({ id, domain: view.member(id)?.record?.domain })))
  } catch (err) {
    throw new HttpError(400, 'bad-request', (err as Error).message)
  }
  if (chosen.length === 0) throw new HttpError(400, 'bad-request', `selector "${b.selector}" matches none of the ${ids.length} enrolled node(s); see them with: shoal nodes`)
  return chosen
}

/** The nodes a wave takes (its selection; all of its roster without one). */
export function inWave(w: StoredWave): string[] {
  return w.selected ?? w.roster.map((r) => r.id)
}

/** Candidates of a wave to `target`: roster nodes not (known to be) on it. */
export function candidates(view: CoordinatorView, ids: readonly string[], target: string): string[] {
  view.refresh()
  return ids.filter((id) => view.member(id)?.record?.image !== target)
}

/** What most roster nodes run now (gossiped image, else their assignment), other than the target. */
export function previousVersion(view: CoordinatorView, state: ClusterState, ids: string[], target: string): string | undefined {
  view.refresh()
  const count = new Map<string, number>()
  for (const id of ids) {
    const img = view.member(id)?.record?.image || state.nodeAssignments.get(id)?.image
    if (img && img !== target) count.set(img, (count.get(img) ?? 0) + 1)
  }
  let best: string | undefined
  for (const [v, n] of count) if (best === undefined || n > count.get(best)!) best = v
  return best
}

export function dryRun(view: CoordinatorView, b: WaveCreate, ids: string[], previous: string | undefined): DryRun {
  view.refresh()
  const v = view
  const byDomain = new Map<string, { done: number; waiting: number }>()
  for (const id of ids) {
    const f = v.facts(id)
    if (!f) continue
    const d = byDomain.get(f.domain) ?? { done: 0, waiting: 0 }
    if (f.image === b.target) d.done++
    else d.waiting++
    byDomain.set(f.domain, d)
  }
  const activeDomains = new Set([...byDomain].filter(([, d]) => d.done > 0 && d.waiting > 0).map(([k]) => k))
  const nodes: DryRun['nodes'] = []
  const keys = []
  for (const id of ids) {
    const m = v.member(id)
    const r = m?.record
    const f = v.facts(id)
    const reasons: string[] = []
    if (!m || !r) reasons.push('not seen on the mesh')
    else {
      if (m.status !== 'alive') reasons.push(`${m.status} on the mesh`)
      if (r.phase !== 'ready') reasons.push(`phase ${r.phase}`)
      if (r.health.status === 'critical' || r.health.status === 'warning') reasons.push(...r.health.conditions.filter((c) => c.severity !== 'info').map((c) => `${c.id}: ${c.message}`))
      const gates = r.health.gates
      if (gates && gates.pre === false) reasons.push(gates.why?.length ? `pre-reboot gate: ${gates.why.join('; ')}` : 'pre-reboot gate failing')
    }
    const candidate = !!f && f.image !== b.target
    if (f && f.image === b.target) reasons.push(`already on ${b.target}`)
    const gate = !r ? 'unknown' : f?.available && reasons.length === 0 ? 'pass' : f?.image === b.target && f.available ? 'pass' : 'fail'
    nodes.push({ node: id, image: r?.image, phase: r?.phase, domain: r?.domain, candidate, gate, reasons })
    if (candidate && f!.available) keys.push(rankKey(v, f!, { holders: [], activeDomains }))
  }
  const ranked = rankedWithReasons(keys)
  const cands = candidates(view, ids, b.target)
  const verdict = startVerdict(cands, (id) => view.member(id))
  for (const n of nodes) for (const c of verdict.never) if (c.nodes.includes(n.node)) n.reasons.push(`can never stop: ${c.message}; fix: ${c.fix}`)
  return {
    dryRun: true,
    target: b.target,
    previous,
    maxUnavailable: b.maxUnavailable,
    failureDomain: b.failureDomain,
    order: ranked.map((k) => k.node),
    ranked,
    nodes,
    never: verdict.never,
    unknown: verdict.unknown,
    refused: verdict.never.length > 0 && !b.force,
    ...(verdict.never.length ? { refusal: refusalText(verdict, cands.length) } : {}),
  }
}
