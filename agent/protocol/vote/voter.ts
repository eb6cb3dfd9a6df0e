/**
 * The voter's side: judging a request (wave, slot, term) and answering with a vote (a
 * promise, durable before it leaves) or a refusal that says why. A voter votes yes at most
 * once per (slot, term), only while it holds no promise on that slot to anyone else, the
 * budget allows (unavailable nodes of any cause count), the candidate is among the
 * best-ranked waiting (or is the leader the last term's losers named), and the gates pass.
 */
import { DropReason } from '../errors.js'
import type { NodeFacts } from './cluster-view.js'
import { onNack, onVote } from './candidate.js'
import { compareRank, rankKey, type RankInputs, type RankKey } from './ranking.js'
import type { NackMsg, NackReason, RequestMsg, Unsigned, VoteMessage, VoteMsg } from './vote-messages.js'
import { pruneVotes, type VoteCore } from './vote-core.js'
import { viewScan } from './view-scan.js'

export function onRequest(vn: VoteCore, m: RequestMsg): void {
  if (!vn.rosterKeys.has(m.cand)) return vn.drop(m.cand, DropReason.notOnRoster, `request from ${m.cand}`)
  if (vn.role === 'node' && !vn.rosterKeys.has(vn.id)) return // not a voter in this wave
  // Abstaining, except for our own reclaim: a candidate's vote at its own request's term is
  // always for itself (it asks only above every term it voted at), so that one is safe to
  // repeat without remembering.
  const ownReclaim = m.cand === vn.id && vn.collecting?.reclaim === true && vn.collecting.term === m.term
  if (vn.recovery && !ownReclaim) return vn.drop(m.cand, 'quiet', `abstaining after boot (request ${m.slot}/${m.term} from ${m.cand})`)
  const s = vn.slots[m.slot]!
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
  const reaffirm = s.promises.get(m.cand)?.term === m.term || (m.cand === vn.id && vn.collecting?.reclaim === true && vn.collecting.term === m.term)
  const reason = reaffirm ? undefined : judge(vn, m.cand, m.slot, m.term)
  if (reason) return nack(vn, m, reason)
  // Yes: a promise, durable before it leaves.
  s.myVotes.set(m.term, m.cand)
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
  if (vn.retired.has(cand)) return 'ineligible'
  const f = vn.viewPort.facts(cand)
  if (!f || !f.available || f.image === w.target) return 'ineligible'
  const occ = occupancy(vn, slot)
  if (occ.holders.includes(cand)) return 'ineligible' // already holds (or may hold) another slot
  const free = w.slots - occ.slotsTaken - occ.unavailableOthers
  if (free <= 0) return 'budget'
  if (!vn.viewPort.drainable(cand)) return 'gate'
  if (!vn.viewPort.okToStop([...occ.holders, cand])) return 'gate'
  if (w.policy === 'one-at-a-time' && occ.domains.size > 0 && !(occ.domains.size === 1 && occ.domains.has(f.domain))) return 'gate'
  const s = vn.slots[slot]!
  // "Back the previous term's leader": binding for the very next term only.
  if (s.leader && s.leader.cand !== cand && term === s.leader.term + 1) {
    const lf = vn.viewPort.facts(s.leader.cand)
    if (lf && lf.available && lf.image !== w.target && !occ.holders.includes(s.leader.cand) && !vn.retired.has(s.leader.cand)) return 'leader'
  }
  if (s.leader && s.leader.cand === cand) return undefined // back the last term's leader
  const better = countBetter(vn, f, occ, free)
  return better < free ? undefined : 'rank'
}

/**
 * Slots taken and who may hold them, in this node's view. `except`: a slot whose own
 * state is judged separately (the one being asked for).
 */
export function occupancy(vn: VoteCore, except: number): { slotsTaken: number; holders: string[]; domains: Set<string>; unavailableOthers: number } {
  const holders: string[] = []
  let slotsTaken = 0
  for (let i = 0; i < vn.slots.length; i++) {
    const s = vn.slots[i]!
    if (i === except) continue
    let taken = false
    for (const cand of s.promises.keys()) {
      taken = true
      if (!holders.includes(cand)) holders.push(cand)
    }
    if (s.grant) {
      taken = true
      if (!holders.includes(s.grant.holder)) holders.push(s.grant.holder)
    }
    if (taken) slotsTaken++
  }
  const domains = new Set<string>()
  for (const h of holders) {
    const f = vn.viewPort.facts(h)
    if (f) domains.add(f.domain)
  }
  let unavailableOthers = 0
  const sc = viewScan(vn)
  if (sc) {
    for (const id of sc.unavailable) if (!holders.includes(id)) unavailableOthers++
  } else {
    for (const id of vn.rosterIds) {
      if (vn.retired.has(id) || holders.includes(id)) continue
      const f = vn.viewPort.facts(id)
      if (!f || !f.available) unavailableOthers++
    }
  }
  return { slotsTaken, holders, domains, unavailableOthers }
}

/** Eligible waiting candidates ranked before `f`, counted up to `limit` (an early exit: only "fewer than limit?" matters). */
export function countBetter(vn: VoteCore, f: NodeFacts, occ: { holders: string[]; domains: Set<string> }, limit: number): number {
  const w = vn.wave!
  const inputs = rankInputs(vn, occ.holders)
  const mine = rankKey(vn.viewPort, f, inputs)
  let better = 0
  const sc = viewScan(vn)
  for (const id of sc ? sc.waiting : waitingNow(vn)) {
    if (id === f.id || occ.holders.includes(id)) continue
    const o = vn.viewPort.facts(id)
    if (!o || !o.available || o.image === w.target) continue
    if (w.policy === 'one-at-a-time' && occ.domains.size > 0 && !occ.domains.has(o.domain)) continue
    // Cheap fields first; the Ceph check only for nodes that would otherwise come first.
    const cheap: RankKey = { id: o.id, ok: mine.ok, domainActive: inputs.activeDomains.has(o.domain), domain: o.domain, pods: o.pods, load: o.load }
    if (mine.ok) {
      if (compareRank(cheap, mine) > 0) continue
      if (!vn.viewPort.okToStop([...occ.holders, o.id])) continue
    } else if (compareRank(cheap, mine) > 0 && !vn.viewPort.okToStop([...occ.holders, o.id])) continue
    if (!vn.viewPort.drainable(o.id)) continue
    if (++better >= limit) return better
  }
  return better
}

/** Without a cached scan: every roster member not retired (the loop checks the rest). */
function waitingNow(vn: VoteCore): string[] {
  return vn.rosterIds.filter((id) => !vn.retired.has(id))
}

export function rankInputs(vn: VoteCore, holders: string[]): RankInputs {
  const sc = viewScan(vn)
  if (sc) {
    const active = new Set(sc.activeBase)
    for (const h of holders) {
      const f = vn.viewPort.facts(h)
      if (f) active.add(f.domain)
    }
    return { holders, activeDomains: active }
  }
  const w = vn.wave!
  const active = new Set<string>()
  const byDomain = new Map<string, { done: number; waiting: number }>()
  for (const id of vn.rosterIds) {
    const f = vn.viewPort.facts(id)
    if (!f) continue
    const d = byDomain.get(f.domain) ?? { done: 0, waiting: 0 }
    if (f.image === w.target) d.done++
    else d.waiting++
    byDomain.set(f.domain, d)
  }
  for (const [dom, d] of byDomain) if (d.done > 0 && d.waiting > 0) active.add(dom)
  for (const h of holders) {
    const f = vn.viewPort.facts(h)
    if (f) active.add(f.domain)
  }
  return { holders, activeDomains: active }
}

export function sendVote(vn: VoteCore, req: RequestMsg): void {
  const v: Unsigned<VoteMsg> = { k: 'vote', wave: req.wave, slot: req.slot, term: req.term, voter: vn.id, cand: req.cand }
  deliver(vn, req.cand, vn.sign(v))
}

export function nack(vn: VoteCore, req: RequestMsg, reason: NackReason, other?: { term: number; cand: string }): void {
  vn.count(`nack.${reason}`)
  const n: Unsigned<NackMsg> = { k: 'nack', wave: req.wave, slot: req.slot, term: req.term, voter: vn.id, cand: req.cand, reason, ...(other ? { other } : {}) }
  deliver(vn, req.cand, vn.sign(n))
}

/** To a peer, or to ourselves at once (our own vote for our own request). */
export function deliver(vn: VoteCore, to: string, msg: VoteMessage): void {
  if (to !== vn.id) return vn.send(to, msg)
  if (msg.k === 'vote') onVote(vn, msg, false)
  else if (msg.k === 'nack') onNack(vn, msg, false)
}
