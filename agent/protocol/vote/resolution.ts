/**
 * What frees or fills a slot in this node's books: grants (the winner tells everyone),
 * resolutions (the holder's release, a candidate's withdraw, an operator's force-release)
 * and retirements; and the stale-promise query, the backstop when a resolution was lost.
 * Nothing here runs on a timer that frees anything: a query only asks the candidate.
 */
import { DropReason } from '../errors.js'
import type { GrantMsg, QueryMsg, Resolution, RetireMsg, WithdrawMsg } from './vote-messages.js'
import { MAX_RESOLUTIONS_PER_SLOT, STALE_QUERY_CAP, type VoteCore } from './vote-core.js'
import type { SlotState } from './wave-books.js'

/** Takes a grant into the books; true when it was news (the candidate then reacts: candidate.ts onGrantSeen). */
export function onGrant(vn: VoteCore, m: GrantMsg): boolean {
  const s = vn.books.slots[m.slot]!
  if (m.term <= s.forcedUpTo) {
    vn.drop(m.holder, DropReason.stale, `grant ${m.slot}/${m.term}`)
    return false
  }
  supersede(vn, s, m.term, m.holder)
  const res = s.resolutions.get(m.holder)
  if (res && res.term >= m.term) return dup(vn, 'dup.grant') // already released
  if (s.grant && s.grant.term >= m.term) return dup(vn, 'dup.grant')
  s.grant = { term: m.term, holder: m.holder, queryAt: vn.now + vn.cfg.staleQueryMs, queryEveryMs: vn.cfg.staleQueryMs }
  s.knownTerm = Math.max(s.knownTerm, m.term)
  s.leader = undefined
  vn.dirty = true
  return true
}

/**
 * A grant at `term` (a release proves one) means a quorum promised `holder` at `term`; each
 * of those voters held no other promise on the slot then, and quorums intersect, so every
 * other promise or grant on the slot below `term` was resolved or can never win. Drop them:
 * the resolution itself may never reach us (a member partitioned when a holder released,
 * that holder later dead and retired, left a promise nobody could answer, and with K=1 the
 * wave stopped for good).
 */
function supersede(vn: VoteCore, s: SlotState, term: number, holder: string): void {
  for (const [cand, p] of s.promises) {
    if (cand === holder || p.term >= term) continue
    s.promises.delete(cand)
    vn.count('promises.superseded')
    vn.dirty = true
  }
  if (s.grant && s.grant.holder !== holder && s.grant.term < term) {
    s.grant = undefined
    vn.dirty = true
  }
}

function dup(vn: VoteCore, name: string): false {
  vn.count(name)
  return false
}

/**
 * Takes a release, withdraw or force-release into the books; true when it was news (the
 * candidate then reacts for its own lease and collection: candidate.ts onResolutionSeen).
 */
export function onResolution(vn: VoteCore, m: Resolution): boolean {
  const s = vn.books.slots[m.slot]!
  if (m.k === 'force') {
    if (m.term <= s.forcedUpTo) return dup(vn, 'dup.force')
    s.forcedUpTo = m.term
    s.knownTerm = Math.max(s.knownTerm, m.term)
    for (const [cand, p] of s.promises) if (p.term <= m.term) s.promises.delete(cand)
    if (s.grant && s.grant.term <= m.term) s.grant = undefined
    if (s.leader && s.leader.term <= m.term) s.leader = undefined
    vn.dirty = true
    return true
  }
  const who = m.k === 'rel' ? m.holder : m.cand
  if (m.k === 'rel') supersede(vn, s, m.term, who)
  const prev = s.resolutions.get(who)
  if (prev && prev.term >= m.term && prev.k === m.k) return dup(vn, `dup.${m.k}`)
  if (!prev || prev.term <= m.term) {
    s.resolutions.delete(who)
    s.resolutions.set(who, m)
    if (s.resolutions.size > MAX_RESOLUTIONS_PER_SLOT) s.resolutions.delete(s.resolutions.keys().next().value!)
  }
  const p = s.promises.get(who)
  if (p && p.term <= m.term) {
    s.promises.delete(who)
    vn.dirty = true
  }
  if (s.grant && s.grant.holder === who && s.grant.term <= m.term) {
    s.grant = undefined
    vn.dirty = true
  }
  if (m.k === 'wd' && m.leader !== undefined && (!s.leader || s.leader.term <= m.term)) s.leader = { term: m.term, cand: m.leader }
  s.knownTerm = Math.max(s.knownTerm, m.term)
  return true
}

export function onQuery(vn: VoteCore, m: QueryMsg): void {
  if (vn.rec.relearning) return
  const s = vn.books.slots[m.slot]!
  const mine = s.resolutions.get(vn.id)
  if (mine && mine.term >= m.term) return vn.send(m.from, mine)
  const l = vn.cand.lease
  const c = vn.cand.collecting
  if ((l && l.slot === m.slot) || (c && c.slot === m.slot)) return // still in force
  // We hold nothing on that slot and our memory is whole: we never will at that term.
  const wd = vn.sign<WithdrawMsg>({ k: 'wd', wave: m.wave, slot: m.slot, term: Math.max(m.term, s.knownTerm), cand: vn.id })
  vn.toSelf(wd)
  vn.send(m.from, wd)
}

export function query(vn: VoteCore, cand: string, slot: number, term: number): void {
  if (cand === vn.id) return
  vn.count('queries')
  vn.send(cand, vn.sign<QueryMsg>({ k: 'query', wave: vn.wave!.id, slot, term, from: vn.id }))
}

export function onRetire(vn: VoteCore, m: RetireMsg): void {
  const b = vn.books
  if (b.retired.has(m.node)) return void vn.count('dup.retire')
  b.retired.add(m.node)
  b.retireMsgs.push(m)
  vn.dirty = true
}

/** Ask the candidate of every promise or grant unresolved past its query time (backing off). */
export function staleQueryTick(vn: VoteCore): void {
  const now = vn.now
  for (let i = 0; i < vn.books.slots.length; i++) {
    const s = vn.books.slots[i]!
    for (const [cand, p] of s.promises) {
      if (now >= p.queryAt) {
        p.queryEveryMs = Math.min(p.queryEveryMs * 2, vn.cfg.staleQueryMs * STALE_QUERY_CAP)
        p.queryAt = now + p.queryEveryMs
        query(vn, cand, i, p.term)
      }
    }
    const g = s.grant
    if (g && now >= g.queryAt) {
      g.queryEveryMs = Math.min(g.queryEveryMs * 2, vn.cfg.staleQueryMs * STALE_QUERY_CAP)
      g.queryAt = g.holder === vn.id ? Infinity : now + g.queryEveryMs
      query(vn, g.holder, i, g.term)
    }
  }
}

/**
 * A promise or grant whose holder looks done in our view (on the wave's target, available,
 * healthy) is almost surely released, the release lost on its way to us: ask the holder
 * at once, and again with backoff (collectMs, doubling) while it still looks done. Without
 * this the stale-query floor (staleQueryMs, 600 s) was the only way out, and the wave's
 * last candidate — nobody else asking for the slot — waited it out. Costs nothing when the
 * release arrived: the promise is gone by the time the gossip shows the holder done.
 */
export function doneHolderTick(vn: VoteCore): void {
  const w = vn.wave
  if (!w) return
  const slots = vn.books.slots
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!
    for (const [cand, p] of s.promises) askIfDone(vn, w.target, cand, p, i, p.term)
    const g = s.grant
    if (!g) continue
    if (s.promises.has(g.holder)) {
      if (g.doneAskAt !== undefined) g.doneAskAt = undefined // asked through the promise
    } else askIfDone(vn, w.target, g.holder, g, i, g.term)
  }
}

/** What doneHolderTick keeps per promise or grant. */
interface DoneAsk {
  doneAskAt?: number
  doneAskEveryMs?: number
  doneChecked?: boolean
}

function askIfDone(vn: VoteCore, target: string, holder: string, p: DoneAsk, slot: number, term: number): void {
  if (holder === vn.id) return
  if (p.doneChecked !== true) p.doneChecked = true
  const f = vn.viewPort.facts(holder)
  if (!f || f.image !== target || !f.available || !f.healthy) {
    // Written only when set: this runs for every holder on every view change of every node.
    if (p.doneAskAt !== undefined) p.doneAskAt = undefined
    return
  }
  if (p.doneAskAt === undefined) {
    p.doneAskAt = vn.now
    p.doneAskEveryMs = vn.cfg.collectMs
  }
  if (vn.now < p.doneAskAt) return
  const every = p.doneAskEveryMs ?? vn.cfg.collectMs
  p.doneAskEveryMs = Math.min(every * 2, vn.cfg.staleQueryMs)
  p.doneAskAt = vn.now + every
  vn.count('queries.done-holder')
  query(vn, holder, slot, term)
}

/**
 * Would doneHolderTick, now, do nothing at all — given that, of the members, only those in
 * `changed` may look different than when it last judged them? A holder it judged before
 * and not named in `changed` gets the verdict it got then (done or not), which left nothing
 * to do until its ask time (doneAskAt, also a wake). A holder named or new to it is judged
 * again here, read-only: nothing to do when the verdict agrees with what it keeps (not done
 * and no ask time; done and its ask time still ahead). False at the first holder that would
 * be asked or would change.
 */
export function doneHoldersQuiet(vn: VoteCore, changed: ReadonlySet<string>): boolean {
  const slots = vn.books.slots
  const target = vn.wave!.target
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!
    for (const [cand, p] of s.promises) if (!holderQuiet(vn, target, cand, p, changed)) return false
    const g = s.grant
    if (!g) continue
    if (s.promises.has(g.holder)) {
      if (g.doneAskAt !== undefined) return false
    } else if (!holderQuiet(vn, target, g.holder, g, changed)) return false
  }
  return true
}

function holderQuiet(vn: VoteCore, target: string, holder: string, p: DoneAsk, changed: ReadonlySet<string>): boolean {
  if (holder === vn.id) return true
  if (p.doneChecked !== true || changed.has(holder)) {
    const f = vn.viewPort.facts(holder)
    const done = f !== undefined && f.image === target && f.available && f.healthy
    if (done !== (p.doneAskAt !== undefined)) return false
    p.doneChecked = true // as askIfDone would mark it: the verdict is the one it keeps
  }
  return p.doneAskAt === undefined || vn.now < p.doneAskAt
}
