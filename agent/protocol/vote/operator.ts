/**
 * The coordinator's own inputs: publishing a wave, an operator's force-release and
 * retirement. Each is signed here and taken into this node's books through the inbox like
 * any message, then announced with backoff (announcements.ts).
 */
import { adoptWave } from './inbox.js'
import type { ForceMsg, RetireMsg, Unsigned, VoteMessage, WaveMsg } from './vote-messages.js'
import type { VoteCore } from './vote-core.js'

export function publishWave(vn: VoteCore, w: Omit<Unsigned<WaveMsg>, 'k' | 'v'>): void {
  if (vn.role !== 'coordinator') return vn.drop(vn.id, 'unknown-wave', 'only the coordinator publishes waves')
  const m = vn.sign<WaveMsg>({ k: 'wave', v: 1, ...w })
  adoptWave(vn, m)
  // Announced with backoff like the operator's decisions: a node that missed the wave would
  // never ask for a slot, and if it ranks first, nobody else asks either.
  announce(vn, m)
}

export function forceRelease(vn: VoteCore, slot: number, term?: number, node?: string): void {
  const w = vn.wave
  if (vn.role !== 'coordinator' || !w || slot >= w.slots) return vn.drop(vn.id, 'unknown-wave', `force-release of slot ${slot}`)
  const s = vn.books.slots[slot]!
  let t: number
  if (term === undefined && node !== undefined) {
    // Only what `node` holds: a slot it was promised on may be held by someone else since.
    t = Math.max(s.grant?.holder === node ? s.grant.term : 0, s.promises.get(node)?.term ?? 0)
    if (t === 0) return vn.drop(vn.id, 'unknown-wave', `force-release: ${node} holds nothing on slot ${slot}`)
    if (t <= s.forcedUpTo) return void vn.count('dup.force')
  } else {
    t = term ?? Math.max(s.knownTerm, s.grant?.term ?? 0)
    for (const p of s.promises.values()) t = Math.max(t, p.term)
    if (t <= s.forcedUpTo) t = s.forcedUpTo + 1
  }
  const m = vn.sign<ForceMsg>({ k: 'force', wave: w.id, slot, term: t, by: vn.id })
  vn.log.warn({ component: 'vote', node: vn.id, slot, term: t }, 'force-release')
  vn.toSelf(m)
  announce(vn, m)
}

export function retire(vn: VoteCore, node: string): void {
  const w = vn.wave
  if (vn.role !== 'coordinator' || !w) return vn.drop(vn.id, 'unknown-wave', `retire ${node}`)
  const m = vn.sign<RetireMsg>({ k: 'retire', wave: w.id, node, by: vn.id })
  vn.toSelf(m)
  announce(vn, m)
}

/** Broadcast now and again after 1, 4, 16, 64, 256 s: operator decisions must reach everyone. */
function announce(vn: VoteCore, m: VoteMessage): void {
  vn.broadcast(m)
  vn.announcements.add(m, vn.now)
}
