/**
 * The voter's side: judging a request (wave, slot, term) and answering with a vote (a
 * promise, durable before it leaves) or a refusal that says why. A voter votes yes at most
 * once per (slot, term), only while it holds no promise on that slot to anyone else, the
 * budget allows (unavailable nodes of any cause count), the candidate is among the
 * best-ranked waiting (or is the leader the last term's losers named), and the gates pass.
 */
import { DropReason } from '../errors.js'
import { admit, occupancy } from './budget.js'
import type { NackMsg, NackReason, RequestMsg, Unsigned, VoteMessage, VoteMsg } from './vote-messages.js'
import type { VoteCore } from './vote-core.js'
import { countBetter } from './waiting-order.js'
import { pruneVotes, recordVote } from './wave-books.js'

export function onRequest(vn: VoteCore, m: RequestMsg): void {
  if (!vn.books.rosterKeys.has(m.cand)) return vn.drop(m.cand, DropReason.notOnRoster, `request from ${m.cand}`)
  if (vn.role === 'node' && !vn.onRoster) return // not a voter in this wave
  // Abstaining, except for our own reclaim: a candidate's vote at its own request's term is
  // always for itself (it asks only above every term it voted at), so that one is safe to
  // repeat without remembering.
  const ownReclaim = m.cand === vn.id && vn.cand.collecting?.reclaim === true && vn.cand.collecting.term === m.term
  if (vn.rec.relearning && !ownReclaim) return vn.drop(m.cand, 'quiet', `abstaining after boot (request ${m.slot}/${m.term} from ${m.cand})`)
  const s = vn.books.slots[m.slot]!
  const prior = s.myVotes.get(m.term)
  if (prior !== undefined) {
    vn.count(prior === m.cand ? 'dup.request' : 'nack.voted')
    if (prior !== m.cand) return nack(vn, m, 'voted', { term: m.term, cand: prior })
    // Re-send our vote only while the promise stands; once the candidate released or
    // withdrew that term, tell it so instead (it may have forgotten).
    const res = s.resolutions.get(m.cand)
    if (res && res.term >= m.term) return vn.send(m.cand, res)
    if (m.term <= s.forcedUpTo) return nack(vn, m, 'stale', { term: s.forcedUpTo + 1, cand: m.cand })
    return sendVote(vn, m)
  }
  // The candidate already withdrew or released this very (slot, term), in a life it forgot:
  // a term is never reused (its old statement could later resolve the new promises). Tell it.
  const own = s.resolutions.get(m.cand)
  if (own && own.term >= m.term && m.cand !== vn.id) {
    vn.count('nack.reused-term')
    return vn.send(m.cand, own)
  }
  if (m.term <= s.forcedUpTo || m.term < s.knownTerm) return nack(vn, m, 'stale', { term: Math.max(s.knownTerm, s.forcedUpTo + 1), cand: s.grant?.holder ?? m.cand })
  s.knownTerm = Math.max(s.knownTerm, m.term)
  for (const [cand, p] of s.promises) {
    if (cand !== m.cand) {
      // Demand-driven staleness check: someone wants the slot and we are promised elsewhere.
      if (vn.now - (p.queryAt - p.queryEveryMs) >= vn.cfg.staleQueryMs / 4 && vn.now < p.queryAt) {
        p.queryAt = vn.now
      }
      return nack(vn, m, 'promised', { term: p.term, cand })
    }
  }
  if (s.grant && s.grant.holder !== m.cand) return nack(vn, m, 'promised', { term: s.grant.term, cand: s.grant.holder })
  // A reclaim after memory loss: we promised this very (slot, term) to this candidate
  // (relearned from the others), or it is our own reclaim (we voted for ourselves when we
  // asked). Had our forgotten vote gone to anyone else who could still win, we would have
  // relearned that promise too, and the loop above would have refused.
  const reaffirm = s.promises.get(m.cand)?.term === m.term || (m.cand === vn.id && vn.cand.collecting?.reclaim === true && vn.cand.collecting.term === m.term)
  const reason = reaffirm ? undefined : judge(vn, m.cand, m.slot, m.term)
  if (reason) return nack(vn, m, reason)
  // Yes: a promise, durable before it leaves.
  recordVote(s, m.term, m.cand)
  const old = s.promises.get(m.cand)
  s.promises.set(m.cand, { term: Math.max(m.term, old?.term ?? 0), own: true, queryAt: vn.now + vn.cfg.staleQueryMs, queryEveryMs: vn.cfg.staleQueryMs })
  if (s.leader && s.leader.cand === m.cand) s.leader = undefined
  pruneVotes(s)
  vn.dirty = true
  vn.count('votes.cast')
  sendVote(vn, m)
}

/** Undefined when `cand` may have this voter's vote on `slot`; otherwise why not. */
export function judge(vn: VoteCore, cand: string, slot: number, term: number): NackReason | undefined {
  const w = vn.wave!
  if (vn.books.retired.has(cand)) return 'ineligible'
  const f = vn.viewPort.facts(cand)
  if (!f || !f.available || f.image === w.target) return 'ineligible'
  const occ = occupancy(vn, slot)
  if (occ.holders.includes(cand)) return 'ineligible' // already holds (or may hold) another slot
  const no = admit(vn, occ, f)
  if (no) return no
  const s = vn.books.slots[slot]!
  // "Back the previous term's leader": binding for the very next term only.
  if (s.leader && s.leader.cand !== cand && term === s.leader.term + 1) {
    const lf = vn.viewPort.facts(s.leader.cand)
    if (lf && lf.available && lf.image !== w.target && !occ.holders.includes(s.leader.cand) && !vn.books.retired.has(s.leader.cand)) return 'leader'
  }
  if (s.leader && s.leader.cand === cand) return undefined // back the last term's leader
  const better = countBetter(vn, f, occ, occ.free)
  return better < occ.free ? undefined : 'rank'
}

function sendVote(vn: VoteCore, req: RequestMsg): void {
  const v: Unsigned<VoteMsg> = { k: 'vote', wave: req.wave, slot: req.slot, term: req.term, voter: vn.id, cand: req.cand }
  deliver(vn, req.cand, vn.sign(v))
}

function nack(vn: VoteCore, req: RequestMsg, reason: NackReason, other?: { term: number; cand: string }): void {
  vn.count(`nack.${reason}`)
  const n: Unsigned<NackMsg> = { k: 'nack', wave: req.wave, slot: req.slot, term: req.term, voter: vn.id, cand: req.cand, reason, ...(other ? { other } : {}) }
  deliver(vn, req.cand, vn.sign(n))
}

/** To a peer, or back through our own inbox at once (our own vote for our own request). */
function deliver(vn: VoteCore, to: string, msg: VoteMessage): void {
  if (to !== vn.id) return vn.send(to, msg)
  vn.toSelf(msg)
}
