/**
 * Watching a wave: its nodes' progress from the views, whether it is finished, and what a
 * stall looks like (the key that must change, the halt reason when it does not).
 */
import type { MemberView } from '../../agent/protocol/mesh-types.js'
import type { PersistedVote } from '../../agent/protocol/vote/vote-node.js'
import type { StoredWave } from './wave-api.js'
import type { NodeBlock } from './wave-blockers.js'
import { inWave } from './wave-dry-run.js'
import { nodeWaveState } from './wave-progress.js'
import { slotHolders } from './wave-status.js'
import { ACTIVE } from './wave-store.js'

/** Updates per-node states and their times from the views (`snap`: the vote's, when it runs this wave); true when something changed. */
export function refreshNodes(w: StoredWave, member: (id: string) => MemberView | undefined, snap: PersistedVote | undefined, now: number): boolean {
  const holds = slotHolders(snap)
  const retired = new Set(snap?.retired ?? [])
  let changed = false
  for (const r of inWave(w).map((id) => ({ id }))) {
    const live = ACTIVE.has(w.state)
    const prev = w.nodes[r.id] ?? { state: 'waiting' as const, since: now }
    const d = nodeWaveState({ target: w.target, member: member(r.id), holds: live ? holds.get(r.id) : undefined, retired: retired.has(r.id) })
    // A finished or aborted wave's node states stay as they were when it ended.
    if (!live) continue
    if (d.state !== prev.state || d.reason !== prev.reason) {
      const next = { ...prev, state: d.state, since: d.state !== prev.state ? now : prev.since, ...(d.reason ? { reason: d.reason } : { reason: undefined }) }
      if (d.state === 'done' && prev.doneAt === undefined) next.doneAt = now
      if (next.reason === undefined) delete next.reason
      w.nodes[r.id] = next
      changed = true
    }
  }
  return changed
}

/** Every roster node is on the target, or was written off by the operator (retired). */
export function finished(w: StoredWave, retired: ReadonlySet<string>): boolean {
  return inWave(w).every((id) => w.nodes[id]?.state === 'done' || retired.has(id))
}

/** The canary is through: every canary node is done or written off. */
export function canaryThrough(w: StoredWave, retired: ReadonlySet<string>): boolean {
  return !!w.canary && !w.canary.passed && w.canary.nodes.every((id) => w.nodes[id]?.state === 'done' || retired.has(id))
}

/** What must change for a wave to be moving: node states and slot holders. */
export function stallKey(w: StoredWave, snap: PersistedVote | undefined): string {
  return JSON.stringify([w.id, w.roster.map((r) => w.nodes[r.id]?.state), snap?.slots.map((s) => [s.grant?.holder, s.grant?.term])])
}

/** The reason a stalled wave halts with: how long, whether it can clear, and the first waiting nodes' blocks. */
export function stallReason(blocks: Map<string, NodeBlock[]>, stalledMs: number, limit: number): string {
  const never = [...blocks.values()].flat().filter((b) => b.permanent)
  const waiting = [...blocks].slice(0, 4).map(([id, list]) => `${id}: ${list.map((b) => b.message).join('; ')}`)
  const mins = Math.round(stalledMs / 60_000)
  return `halted: nothing moved for ${mins} min (stall timeout ${Math.round(limit / 60_000)} min)${never.length ? '; it cannot clear by itself' : ''}${waiting.length ? ` — ${waiting.join(' | ')}` : ''}`
}
