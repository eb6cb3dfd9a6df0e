/**
 * The candidate's side: asking for a slot when, in this node's own view, it is among the
 * best-ranked waiting nodes the free budget admits; counting votes toward a quorum
 * (quorum.ts); winning (the fencing token is (slot, term)); or withdrawing, signed, naming
 * the leader it saw, so voters back that leader in the next term. Also the reclaim of a
 * lease this node may hold from before its memory loss.
 */
import { DropReason } from '../errors.js'
import { admit, occupancy } from './budget.js'
import type { Collection } from './candidate-state.js'
import { canStillWin, isQuorum } from './quorum.js'
import type { GrantMsg, NackMsg, RequestMsg, Resolution, VoteMsg, WithdrawMsg } from './vote-messages.js'
import { COORD_MARK, type VoteCore } from './vote-core.js'
import { countBetter } from './waiting-order.js'

export function maybeRequest(vn: VoteCore): void {
  const c = vn.cand.collecting
  if (c?.reclaim) countReclaimVotes(vn, c)
  if (requestBlocked(vn)) return
  const w = vn.wave!
  // Any promise or grant naming us: we may hold a slot we forgot (RAM boot). Reclaim it
  // first, whatever our health: its voters answer from their promises.
  for (let i = 0; i < vn.books.slots.length; i++) {
    const term = ownTerm(vn, i)
    if (term > 0) return startCollection(vn, i, term, true)
  }
  const freeSlots: number[] = []
  for (let i = 0; i < vn.books.slots.length; i++) {
    const s = vn.books.slots[i]!
    if (s.promises.size === 0 && !s.grant) freeSlots.push(i)
  }
  const me = vn.viewPort.facts(vn.id)
  if (!me || !me.available || me.image === w.target) return
  const occ = occupancy(vn, -1)
  if (admit(vn, occ, me)) return
  // A slot whose last term named us leader comes first.
  let slot = freeSlots.find((i) => vn.books.slots[i]!.leader?.cand === vn.id)
  if (slot === undefined) {
    const better = countBetter(vn, me, occ, occ.free)
    if (better >= occ.free) return
    slot = freeSlots[Math.min(better, freeSlots.length - 1)]!
  }
  const s = vn.books.slots[slot]!
  startCollection(vn, slot, Math.max(s.knownTerm, s.forcedUpTo) + 1, false)
}

/**
 * True when maybeRequest stops on this node's own books and clock alone: it reads nothing
 * of the view and does nothing. No wave, not a roster member, a lease or a collection under
 * way, a retry not due, relearning with nothing to reclaim, or — the usual answer — no slot
 * free of promises and grants in our books. First, because that is the usual case and costs
 * nothing; the checks after it read the view and ask Ceph, on every view change of every
 * waiting node (and view-change.ts skips a view change on this answer).
 */
export function requestBlocked(vn: VoteCore): boolean {
  if (!vn.wave || vn.role !== 'node' || vn.cand.lease || vn.cand.collecting || vn.now < vn.cand.retryAt) return true
  if (!vn.onRoster || (vn.books.retired.size > 0 && vn.books.retired.has(vn.id))) return true
  // While relearning, only a reclaim (once the quiet period is over and answers arrive).
  const r = vn.rec.relearning
  if (r && r.countedNonces.size === 0) return true
  const slots = vn.books.slots
  for (let i = 0; i < slots.length; i++) if (ownTerm(vn, i) > 0) return false // a reclaim to start
  if (r) return true
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!
    if (s.promises.size === 0 && !s.grant) return false
  }
  return true
}

/** The highest term at which a promise or grant on `slot` names this node (0: none). */
function ownTerm(vn: VoteCore, slot: number): number {
  const s = vn.books.slots[slot]!
  const p = s.promises.get(vn.id)
  const g = s.grant?.holder === vn.id ? s.grant.term : 0
  return Math.max(p?.term ?? 0, g)
}

export function startCollection(vn: VoteCore, slot: number, term: number, reclaim: boolean): void {
  const w = vn.wave!
  const s = vn.books.slots[slot]!
  s.knownTerm = Math.max(s.knownTerm, term)
  const req = vn.sign<RequestMsg>({ k: 'req', wave: w.id, slot, term, cand: vn.id })
  vn.cand.collecting = {
    slot,
    term,
    req,
    votes: new Set(),
    coordVote: false,
    against: new Map(),
    coordAgainst: false,
    answered: new Set(),
    startedAt: vn.now,
    deadline: vn.now + vn.cfg.collectMs,
    resendAt: vn.now + vn.cfg.resendMs,
    reclaim,
  }
  vn.dirty = true
  vn.count(reclaim ? 'requests.reclaim' : 'requests')
  vn.log.debug({ component: 'vote', node: vn.id, slot, term, reclaim }, 'request')
  const c = vn.cand.collecting
  if (reclaim) {
    // Votes we can count back from the promises the members described to us: those in so
    // far, and (countReclaimVotes) those still on their way.
    countReclaimVotes(vn, c, false)
    vn.toSelf(req) // and our own
    // No request to the others yet. A reclaim starts at the first sync answer that names us
    // (recovery.ts), while the rest of the answers, asked of every member at once, are still
    // arriving: each own promise in them is a vote, counted as it comes. The first re-send
    // (resendMs later) asks only those that have not answered by then — usually nobody is
    // left to ask. Asking at once cost a request and a vote per member per lease: about a
    // quarter of a wave's vote messages at N=200.
    return
  }
  vn.broadcast(req)
  vn.toSelf(req) // our own vote, through the same rules
}

export function onVote(vn: VoteCore, m: VoteMsg, fromCoord: boolean): void {
  const c = vn.cand.collecting
  if (m.cand !== vn.id || !c || c.slot !== m.slot || c.term !== m.term) return vn.drop(m.voter, DropReason.stale, `vote ${m.slot}/${m.term} from ${m.voter}`)
  if (fromCoord) {
    if (c.coordVote) return vn.drop(m.voter, DropReason.replay, `vote ${m.slot}/${m.term} from ${m.voter}`)
    c.coordVote = true
  } else {
    if (c.votes.has(m.voter) || c.against.has(m.voter)) return vn.drop(m.voter, DropReason.replay, `vote ${m.slot}/${m.term} from ${m.voter}`)
    c.votes.add(m.voter)
  }
  c.answered.add(m.voter)
  if (isQuorum(vn.books.rosterIds.length, c.votes.size, c.coordVote)) win(vn, c)
}

export function onNack(vn: VoteCore, m: NackMsg, fromCoord: boolean): void {
  const c = vn.cand.collecting
  if (m.cand !== vn.id || !c || c.slot !== m.slot || c.term !== m.term) return void vn.count('nack.late')
  // Only a vote elsewhere at this very term is final; anything else is asked again.
  if (m.reason === 'voted' || m.reason === 'stale') c.answered.add(m.voter)
  const s = vn.books.slots[m.slot]!
  if (m.reason === 'stale' && m.other) s.knownTerm = Math.max(s.knownTerm, m.other.term)
  if (m.reason === 'voted' && m.other && m.other.cand !== vn.id) {
    if (fromCoord) c.coordAgainst = true
    else if (!c.votes.has(m.voter)) c.against.set(m.voter, m.other.cand)
  }
  if (m.reason === 'promised' && m.other && m.other.cand !== vn.id) {
    // Forward what we know: their promise may already be resolved.
    const proof = s.resolutions.get(m.other.cand)
    if (proof && proof.term >= m.other.term) {
      vn.send(m.voter, proof)
      c.answered.delete(m.voter) // ask again on the next re-send
    }
  }
  if (m.reason === 'stale' || !canStillWin(vn.books.rosterIds.length, c.votes.size, c.against.size, c.coordAgainst)) giveUp(vn, c, m.reason === 'stale' ? 'stale' : 'split')
}

export function win(vn: VoteCore, c: Collection): void {
  const w = vn.wave!
  vn.cand.collecting = undefined
  vn.cand.lease = { wave: w.id, slot: c.slot, term: c.term, holder: vn.id }
  const s = vn.books.slots[c.slot]!
  s.grant = { term: c.term, holder: vn.id, queryAt: Infinity, queryEveryMs: vn.cfg.staleQueryMs }
  s.leader = undefined
  vn.dirty = true
  vn.flushPersist() // the lease is durable before anyone acts on it
  vn.count('leases.won')
  vn.log.info({ component: 'vote', node: vn.id, slot: c.slot, term: c.term, votes: c.votes.size, coordinator: c.coordVote }, 'lease acquired')
  // A reclaimed lease was announced when first won; the members that told us still hold it.
  if (!c.reclaim) vn.broadcast(vn.sign<GrantMsg>({ k: 'grant', wave: w.id, slot: c.slot, term: c.term, holder: vn.id, votes: c.votes.size }))
  vn.effects.push({ type: 'lease-acquired', lease: vn.cand.lease })
}

/**
 * A reclaim counts the votes the members' sync answers carry (their own promise to us at
 * this very (slot, term): recovery.ts onSync notes them in reclaimVotes), and wins once
 * they, with our own, make a quorum. `decide`: false while the collection is being set up
 * (our own vote comes next and settles it).
 */
export function countReclaimVotes(vn: VoteCore, c: Collection, decide = true): void {
  const got = vn.cand.reclaimVotes
  if (got.size === 0) return
  const w = vn.wave!
  for (const v of got.get(`${c.slot}:${c.term}`) ?? []) {
    if (v === COORD_MARK) c.coordVote = true
    else if (vn.books.rosterKeys.has(v)) c.votes.add(v)
    c.answered.add(v === COORD_MARK ? w.coord.id : v)
  }
  got.clear()
  if (decide && isQuorum(vn.books.rosterIds.length, c.votes.size, c.coordVote)) win(vn, c)
}

/** This collection cannot win: withdraw for good, naming the leader seen. */
export function giveUp(vn: VoteCore, c: Collection, why: string): void {
  const w = vn.wave!
  vn.cand.collecting = undefined
  const tally = new Map<string, number>()
  tally.set(vn.id, c.votes.size)
  for (const cand of c.against.values()) tally.set(cand, (tally.get(cand) ?? 0) + 1)
  let leader = vn.id
  for (const [cand, n] of tally) {
    const best = tally.get(leader)!
    if (n > best || (n === best && cand < leader)) leader = cand
  }
  vn.count(`withdraws.${why}`)
  const wd = vn.sign<WithdrawMsg>({ k: 'wd', wave: w.id, slot: c.slot, term: c.term, cand: vn.id, leader })
  vn.broadcast(wd)
  vn.toSelf(wd)
  vn.cand.retryAt = leader === vn.id && c.votes.size > 0 ? vn.now : vn.now + vn.cfg.retryMs
  vn.dirty = true
}

/**
 * The collection's timers: at the deadline, withdraw (or, for a reclaim before our
 * post-reboot gate passed, keep asking); re-send the request to voters that have not
 * answered. True when the step should end here (our own vote settled the collection).
 */
export function collectionTick(vn: VoteCore): boolean {
  const now = vn.now
  const c = vn.cand.collecting
  if (!c) return false
  if (now >= c.deadline) {
    const me = vn.viewPort.facts(vn.id)
    if (c.reclaim && !me?.healthy) {
      // We may hold this slot from before our memory loss: never free it before our
      // post-reboot gate passes. Keep asking. Once it passes, a reclaim that still has no
      // quorum (a voter of the original grant was retired, or is down) withdraws: that
      // frees the slot as a release would. (Not `available`: the cordon is our own cycle's.)
      c.deadline = now + vn.cfg.collectMs
      c.answered.clear()
      c.resendAt = now
    } else giveUp(vn, c, 'deadline')
  }
  if (vn.cand.collecting === c && now >= c.resendAt && now < c.deadline) {
    c.resendAt = now + vn.cfg.resendMs
    vn.count('resends')
    // Our own vote too, if we refused ourselves earlier (a promise since resolved).
    if (!c.votes.has(vn.id) && vn.books.rosterKeys.has(vn.id)) vn.toSelf(c.req)
    if (vn.cand.collecting !== c) return true
    for (const id of vn.books.rosterIds) if (!c.answered.has(id) && id !== vn.id) vn.send(id, c.req)
    if (vn.wave && !c.answered.has(vn.wave.coord.id)) vn.send(vn.wave.coord.id, c.req)
  }
  return false
}

/** A grant this node took into its books: someone else won the slot we are asking for. */
export function onGrantSeen(vn: VoteCore, m: GrantMsg): void {
  const c = vn.cand.collecting
  if (c && c.slot === m.slot && m.holder !== vn.id) giveUp(vn, c, 'taken')
}

/** A resolution this node took into its books: what it means for our own lease and collection. */
export function onResolutionSeen(vn: VoteCore, m: Resolution): void {
  const c = vn.cand.collecting
  if (m.k === 'force') {
    const l = vn.cand.lease
    if (l && l.slot === m.slot && l.term <= m.term) {
      vn.cand.lease = undefined
      vn.effects.push({ type: 'lease-lost', lease: l, reason: `force-released by ${m.by}` })
      vn.log.warn({ component: 'vote', node: vn.id, slot: l.slot, term: l.term }, 'lease force-released')
    }
    if (c && c.slot === m.slot && c.term <= m.term) vn.cand.collecting = undefined
    return
  }
  const who = m.k === 'rel' ? m.holder : m.cand
  if (who !== vn.id || !c || c.slot !== m.slot || c.term > m.term) return
  // Our own statement, come back to us (we forgot it): that collection is over.
  if (m.k !== 'wd') {
    vn.cand.collecting = undefined
    vn.count('reclaim.already-released')
  } else if (c.reclaim) vn.cand.collecting = undefined
  else {
    // Our own withdraw of this term from a life we forgot: the term is spent. Ask above it.
    vn.count('reused-term')
    const s = vn.books.slots[m.slot]!
    s.knownTerm = Math.max(s.knownTerm, m.term)
    giveUp(vn, c, 'stale')
  }
}
