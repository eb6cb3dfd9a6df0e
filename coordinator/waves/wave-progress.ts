/**
 * Per-node wave state, derived (pure) from what the coordinator sees: the node's gossiped
 * record (phase, image, liveness) and its own VoteNode's view of who holds which slot.
 *
 *   waiting    not on the target yet, no slot
 *   holding    holds a slot, still `ready` (about to drain)
 *   draining   phase draining
 *   rebooting  phase rebooting, or a holder gone from the mesh (it is booting)
 *   verifying  phase verifying, or back on the target while its slot is not yet released
 *   done       on the target, ready, no slot
 *   failed     phase failed (the executor's reason is in its health conditions)
 */
import type { MemberView } from '../../agent/protocol/mesh-types.js'
import type { NodeWaveState } from './wave-api.js'

export interface NodeInputs {
  target: string
  member: MemberView | undefined
  /** The slot the coordinator's vote view says this node holds. */
  holds: { slot: number; term: number } | undefined
  retired: boolean
}

export function nodeWaveState(i: NodeInputs): { state: NodeWaveState; reason?: string } {
  const m = i.member
  const r = m?.record
  const phase = r?.phase
  if (phase === 'failed' && m?.status === 'alive') {
    const why = r!.health.conditions.find((c) => c.severity === 'critical') ?? r!.health.conditions[0]
    return { state: 'failed', reason: why ? `${why.id}: ${why.message}` : 'the node reports phase failed' }
  }
  if (i.retired) return { state: 'done', reason: 'retired by the operator' }
  const onTarget = r?.image === i.target
  // A holder that went down keeps the phase of its last record (draining, say) until it is
  // back: what the operator needs to read then is that it is rebooting.
  if (i.holds && (!m || m.status !== 'alive') && !onTarget) return { state: 'rebooting', reason: m ? `${m.status} on the mesh` : 'not seen on the mesh' }
  if (phase === 'draining') return { state: 'draining' }
  if (phase === 'rebooting') return { state: 'rebooting' }
  if (phase === 'verifying') return { state: 'verifying' }
  if (i.holds) {
    if (!m || m.status !== 'alive') return { state: 'rebooting', reason: m ? `${m.status} on the mesh` : 'not seen on the mesh' }
    if (onTarget) return { state: 'verifying', reason: 'on the target; slot not yet released' }
    return { state: 'holding' }
  }
  // On the target and through its cycle: done, even while its liveness flaps (the MESH column says so).
  if (onTarget && m && (phase === 'ready' || phase === undefined)) return m.status === 'alive' ? { state: 'done' } : { state: 'done', reason: `${m.status} on the mesh` }
  if (!m) return { state: 'waiting', reason: 'not seen on the mesh' }
  if (m.status !== 'alive') return { state: 'waiting', reason: `${m.status} on the mesh` }
  return { state: 'waiting' }
}
