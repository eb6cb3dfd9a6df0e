/** A wave's status as the API answers it: per-node progress, counts, held/halted and why. */
import type { MemberView } from '../../agent/protocol/mesh-types.js'
import type { PersistedVote } from '../../agent/protocol/vote/vote-node.js'
import type { Hold } from '../../agent/protocol/wave-control.js'
import type { NodeProgress, StoredWave, WaveStatus } from './wave-api.js'
import { blockedCounts, type NodeBlock, type StartVerdict } from './wave-blockers.js'
import { inWave } from './wave-dry-run.js'
import { ACTIVE, DEFAULT_STALL_MS } from './wave-store.js'

export interface StatusInputs {
  /** The vote's snapshot when it runs this wave. */
  snap: PersistedVote | undefined
  blocks: Map<string, NodeBlock[]>
  member: (id: string) => MemberView | undefined
  /** The start check's never-finishing causes among the blocked candidates (asked once the nodes are read). */
  never: () => StartVerdict['never']
  /** The coordinator's hold judgement (asked only of a running, un-halted wave). */
  hold: () => Hold
  finished: () => boolean
}

/** The slot and term each holder of a granted slot holds. */
export function slotHolders(snap: PersistedVote | undefined): Map<string, { slot: number; term: number }> {
  const holds = new Map<string, { slot: number; term: number }>()
  for (const s of snap?.slots ?? []) if (s.grant) holds.set(s.grant.holder, { slot: s.slot, term: s.grant.term })
  return holds
}

export function waveStatus(w: StoredWave, i: StatusInputs): WaveStatus {
  const holds = slotHolders(i.snap)
  const blocks = i.blocks
  const nodes: NodeProgress[] = inWave(w).map((id) => ({ id })).map((r) => {
    const n = w.nodes[r.id] ?? { state: 'waiting' as const, since: w.createdAt }
    const b = n.state === 'waiting' ? blocks.get(r.id) : undefined
    const m = i.member(r.id)
    const h = ACTIVE.has(w.state) ? holds.get(r.id) : undefined
    return {
      node: r.id,
      state: n.state,
      since: n.since,
      ...(m?.record ? { image: m.record.image, phase: m.record.phase } : {}),
      ...(m ? { liveness: m.status } : {}),
      ...(h ? { slot: h.slot, term: h.term } : {}),
      ...(n.reason ? { reason: n.reason } : {}),
      ...(n.assignedAt !== undefined ? { assignedAt: n.assignedAt } : {}),
      ...(n.doneAt !== undefined ? { doneAt: n.doneAt } : {}),
      ...(b?.length ? { blocked: b } : {}),
    }
  })
  const count = (s: string) => nodes.filter((n) => n.state === s).length
  const never = ACTIVE.has(w.state) ? i.never() : []
  const done = count('done')
  const failed = count('failed')
  const waiting = count('waiting')
  let state: WaveStatus['state'] = w.state
  let reason = w.stateReason
  let held = w.state !== 'running'
  if (w.state === 'running' && w.halt) {
    held = true
    state = 'halted'
    reason = w.halt.reason
  } else if (w.state === 'running') {
    const hold = i.hold()
    held = hold.held
    if (hold.halted) state = 'halted'
    reason = hold.reason
  }
  if (w.state === 'running' && i.finished()) {
    state = 'done'
    held = false
    reason = 'every node is on the target'
  }
  return {
    id: w.id,
    target: w.target,
    ...(w.previous ? { previous: w.previous } : {}),
    state,
    ...(reason ? { reason } : {}),
    held,
    maxUnavailable: w.maxUnavailable,
    failureDomain: w.failureDomain,
    ...(w.window || w.windows?.length ? { window: [...(w.window ? [w.window] : []), ...(w.windows ?? [])].join('; ') } : {}),
    ...(w.windows?.length ? { windows: w.windows } : {}),
    ...(w.startAt !== undefined ? { startAt: w.startAt } : {}),
    ...(w.settleMs ? { settleMs: w.settleMs } : {}),
    ...(w.selector ? { selector: w.selector } : {}),
    ...(w.canary ? { canary: w.canary } : {}),
    ...(w.alertMatchers ? { alertMatchers: w.alertMatchers } : {}),
    drainPolicy: w.drainPolicy,
    nodeTimeoutMs: w.nodeTimeoutMs,
    createdAt: w.createdAt,
    stateAt: w.stateAt,
    ...(w.rollbackOf ? { rollbackOf: w.rollbackOf } : {}),
    progress: { total: nodes.length, done, failed, inProgress: nodes.length - done - failed - waiting, waiting },
    stallTimeoutMs: w.stallTimeoutMs ?? DEFAULT_STALL_MS,
    ...(blocks.size ? { blocked: blockedCounts(blocks) } : {}),
    ...(never.length ? { never } : {}),
    ...(w.forced ? { forced: true } : {}),
    nodes,
  }
}
