/**
 * The coordinator's own inputs: publishing a wave, an operator's force-release and
 * retirement. Each is signed here and taken into this node's books (through the inbox
 * where it is a message any member could receive), then announced with backoff
 * (announcements.ts). A wave asked for moments after the cluster powered on is held back
 * for seconds (cold-start.ts).
 */
import { coldStartHoldMaxMs, waveStartNotBefore } from './cold-start.js'
import { adoptWave } from './inbox.js'
import type { ForceMsg, RetireMsg, Unsigned, VoteMessage, WaveMsg } from './vote-messages.js'
import type { VoteCore } from './vote-core.js'

export function publishWave(vn: VoteCore, w: Omit<Unsigned<WaveMsg>, 'k' | 'v'>): void {
  if (vn.role !== 'coordinator') return vn.drop(vn.id, 'unknown-wave', 'only the coordinator publishes waves')
  const view = vn.viewPort
  const boots = view.bootSecond ? w.roster.map((r) => view.bootSecond!(r.id) ?? 0) : []
  const at = waveStartNotBefore(boots, vn.cfg.maxClockSkewMs)
  const waitMs = at - vn.now
  vn.operator.held = undefined
  if (waitMs > 0 && waitMs <= coldStartHoldMaxMs(vn.cfg.maxClockSkewMs)) {
    vn.operator.held = { wave: w, at }
    vn.count('waves.held')
    vn.log.info({ component: 'vote', node: vn.id, wave: w.id, waitMs }, 'a member booted moments ago: the wave starts once no member can take itself for one that voted in it and forgot')
    return
  }
  publishNow(vn, w)
}

/** The coordinator's timers: a held wave whose time has come, announcements due. */
export function operatorTick(vn: VoteCore): void {
  const h = vn.operator.held
  if (h && vn.now >= h.at) {
    vn.operator.held = undefined
    publishNow(vn, { ...h.wave, startedAt: Math.max(h.wave.startedAt, Math.floor(vn.now)) })
  }
  for (const m of vn.operator.announcements.due(vn.now)) vn.broadcast(m)
}

function publishNow(vn: VoteCore, w: Omit<Unsigned<WaveMsg>, 'k' | 'v'>): void {
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
  vn.operator.announcements.add(m, vn.now)
}
