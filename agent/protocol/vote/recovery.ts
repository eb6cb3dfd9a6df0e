/**
 * Memory loss: a node that booted from RAM forgot its promises. It abstains for a quiet
 * period longer than any vote collection, then asks members for their open promises until
 * enough with whole memory answered that every quorum its forgotten votes could have
 * joined is covered (quorum.ts syncAnswersNeeded). The answers also carry the grants it
 * missed and the members' own promises to it, from which a lease it held is counted back
 * (the reclaim, candidate.ts).
 */
import { DropReason } from '../errors.js'
import { syncAnswersNeeded } from './quorum.js'
import type { Relearning } from './recovery-state.js'
import { signingBytes, type SyncMsg, type SyncReqMsg } from './vote-messages.js'
import { COORD_MARK, type VoteCore } from './vote-core.js'

export function startRecovery(vn: VoteCore, now: number): void {
  vn.rec.relearning = { quietUntil: now + vn.cfg.quietMs, countedNonces: new Set(), answers: new Set(), coordAnswered: false, nextSyncAt: now + vn.cfg.quietMs, rounds: 0 }
}

/**
 * After the quiet period: ask for promises. The first round asks just enough members
 * (plus some slack) in roster order after us; later rounds ask everyone not yet heard.
 * Without a known wave, ask everyone (the answers carry the wave).
 */
export function sendSyncRequest(vn: VoteCore, r: Relearning): void {
  const n = ++vn.nonce
  r.countedNonces.add(n)
  // Back off (up to 32x): members that cannot answer yet (down, relearning) are asked less often.
  r.nextSyncAt = vn.now + vn.cfg.syncRetryMs * Math.min(32, 2 ** Math.min(r.rounds, 5))
  const req = vn.sign<SyncReqMsg>({ k: 'sync?', wave: vn.wave?.id ?? '*', from: vn.id, nonce: n })
  const w = vn.wave
  if (!w) {
    if (r.rounds++ >= 2) {
      // Nobody answered with a wave: there is none to relearn.
      vn.rec.relearning = undefined
      return
    }
    return vn.broadcast(req)
  }
  const need = syncAnswersNeeded(vn.books.rosterIds.length, false)
  const me = Math.max(0, vn.books.rosterIds.indexOf(vn.id))
  const ask = r.rounds++ === 0 ? need + Math.max(2, Math.ceil(need / 10)) : Infinity
  let asked = 0
  for (let i = 1; i < vn.books.rosterIds.length && asked < ask; i++) {
    const id = vn.books.rosterIds[(me + i) % vn.books.rosterIds.length]!
    if (r.answers.has(id)) continue
    vn.send(id, req)
    asked++
  }
  if (!r.coordAnswered) vn.send(w.coord.id, req)
}

export function onSyncRequest(vn: VoteCore, from: string, m: SyncReqMsg): void {
  const w = vn.wave
  if (!w || (m.wave !== '*' && m.wave !== w.id)) return
  // Members ask after a RAM boot; the coordinator after a restart (it missed what was said while down).
  const key = m.from === w.coord.id ? w.coord.key : vn.books.rosterKeys.get(m.from)
  if (key === undefined) return vn.drop(from, DropReason.notOnRoster, `sync? from ${m.from}`)
  if (!vn.verifySigner(m.k, m.from, key, signingBytes(m), m.sig)) return vn.drop(from, DropReason.badSignature, `sync? from ${m.from}`)
  if (m.from === vn.id) return
  const promises: SyncMsg['promises'] = []
  const grants: SyncMsg['grants'] = []
  const terms: NonNullable<SyncMsg['terms']> = []
  vn.books.slots.forEach((s, slot) => {
    for (const [cand, p] of s.promises) promises.push({ slot, term: p.term, cand, own: p.own })
    if (s.grant) grants.push({ slot, term: s.grant.term, holder: s.grant.holder })
    // Every resolution kept raised knownTerm to its term (resolution.ts onResolution).
    const t = Math.max(s.knownTerm, s.forcedUpTo)
    if (t > 0) terms.push({ slot, term: t })
  })
  vn.send(m.from, vn.sign<SyncMsg>({ k: 'sync', wave: w.id, from: vn.id, to: m.from, nonce: m.nonce, complete: !vn.rec.relearning, waveMsg: w, promises, grants, retires: vn.books.retireMsgs, terms }))
}

export function onSync(vn: VoteCore, m: SyncMsg, fromCoord: boolean): void {
  if (m.to !== vn.id) return vn.drop(m.from, DropReason.stale, 'sync for another node')
  for (const r of m.retires) if (!vn.books.retired.has(r.node)) vn.inbox.fromPeer(m.from, r)
  // Persisted only when the books change: of the many answers to one request, most repeat
  // what the first ones taught (a full snapshot per answer was ~a quarter of all persists).
  let changed = false
  for (const p of m.promises) {
    if (learnPromise(vn, p.slot, p.term, p.cand)) changed = true
    // A member's own promise to us is its vote: a lease we forgot can be counted back.
    if (p.cand === vn.id && p.own) {
      const key = `${p.slot}:${p.term}`
      const set = vn.cand.reclaimVotes.get(key) ?? new Set<string>()
      set.add(fromCoord ? COORD_MARK : m.from)
      vn.cand.reclaimVotes.set(key, set)
    }
  }
  for (const t of m.terms ?? []) {
    const s = vn.books.slots[t.slot]
    if (s && t.term > s.knownTerm) {
      s.knownTerm = t.term
      changed = true
    }
  }
  for (const g of m.grants) {
    const s = vn.books.slots[g.slot]!
    const res = s.resolutions.get(g.holder)
    if (g.term > s.forcedUpTo && (!res || res.term < g.term) && (!s.grant || s.grant.term < g.term)) {
      s.grant = { term: g.term, holder: g.holder, queryAt: vn.now + vn.cfg.staleQueryMs, queryEveryMs: vn.cfg.staleQueryMs }
      s.knownTerm = Math.max(s.knownTerm, g.term)
      changed = true
    }
  }
  if (changed) vn.dirty = true
  const cu = vn.rec.catchUp
  if (cu && cu.nonces.has(m.nonce)) {
    cu.answers.add(m.from)
    if (2 * cu.answers.size > vn.books.rosterIds.length) vn.rec.catchUp = undefined
  }
  const r = vn.rec.relearning
  if (!r || !m.complete || !r.countedNonces.has(m.nonce)) return
  if (fromCoord) r.coordAnswered = true
  else r.answers.add(m.from)
  if (r.answers.size >= syncAnswersNeeded(vn.books.rosterIds.length, r.coordAnswered)) {
    vn.rec.relearning = undefined
    vn.dirty = true // memoryWhole
    vn.count('recovered')
    vn.log.info({ component: 'vote', node: vn.id, answers: r.answers.size }, 'promises relearned; voting again')
  }
}

/** True when it was news (a promise this node did not know of, or at a higher term). */
export function learnPromise(vn: VoteCore, slot: number, term: number, cand: string): boolean {
  const s = vn.books.slots[slot]
  if (!s || term <= s.forcedUpTo) return false
  const res = s.resolutions.get(cand)
  if (res && res.term >= term) return false
  const p = s.promises.get(cand)
  if (p && p.term >= term) return false
  s.promises.set(cand, { term, own: false, queryAt: vn.now + vn.cfg.staleQueryMs, queryEveryMs: vn.cfg.staleQueryMs })
  s.knownTerm = Math.max(s.knownTerm, term)
  return true
}

/**
 * The coordinator restarted from its Store: its promises are intact, but grants and
 * promises made while it was down never reached it, and an operator's force-release needs
 * the holder's term. It asks every member (a broadcast), a few times, until a majority
 * answered. It never abstains: its own votes are on disk.
 */
export function startCatchUp(vn: VoteCore, now: number): void {
  if (vn.role !== 'coordinator' || !vn.wave) return
  vn.rec.catchUp = { at: now, left: CATCH_UP_ROUNDS, nonces: new Set(), answers: new Set() }
}

const CATCH_UP_ROUNDS = 3

export function catchUpTick(vn: VoteCore): void {
  const cu = vn.rec.catchUp
  const w = vn.wave
  if (!cu || vn.now < cu.at) return
  if (!w || cu.left <= 0) {
    vn.rec.catchUp = undefined
    return
  }
  const n = ++vn.nonce
  cu.nonces.add(n)
  cu.left--
  cu.at = vn.now + vn.cfg.syncRetryMs * 4
  vn.count('catch-up')
  vn.broadcast(vn.sign<SyncReqMsg>({ k: 'sync?', wave: w.id, from: vn.id, nonce: n }))
}
