/**
 * What frees or fills a slot in this node's books: grants (the winner tells everyone),
 * resolutions (the holder's release, a candidate's withdraw, an operator's force-release)
 * and retirements; and the stale-promise query, the backstop when a resolution was lost.
 * Nothing here runs on a timer that frees anything: a query only asks the candidate.
 */
import { DropReason } from '../errors.js'
import { giveUp } from './candidate.js'
import type { GrantMsg, QueryMsg, Resolution, RetireMsg, WithdrawMsg } from './vote-messages.js'
import { MAX_RESOLUTIONS_PER_SLOT, STALE_QUERY_CAP, type VoteCore } from './vote-core.js'

export function onGrant(vn: VoteCore, m: GrantMsg): void {
  const s = vn.slots[m.slot]!
  if (m.term <= s.forcedUpTo) return vn.drop(m.holder, DropReason.stale, `grant ${m.slot}/${m.term}`)
  const res = s.resolutions.get(m.holder)
  if (res && res.term >= m.term) return void vn.count('dup.grant') // already released
  if (s.grant && s.grant.term >= m.term) return void vn.count('dup.grant')
  s.grant = { term: m.term, holder: m.holder, queryAt: vn.now + vn.cfg.staleQueryMs, queryEveryMs: vn.cfg.staleQueryMs }
  s.knownTerm = Math.max(s.knownTerm, m.term)
  s.leader = undefined
  vn.dirty = true
  const c = vn.collecting
  if (c && c.slot === m.slot && m.holder !== vn.id) giveUp(vn, c, 'taken')
}

export function onResolution(vn: VoteCore, m: Resolution): void {
  const s = vn.slots[m.slot]!
  if (m.k === 'force') {
    if (m.term <= s.forcedUpTo) return void vn.count('dup.force')
    s.forcedUpTo = m.term
    s.knownTerm = Math.max(s.knownTerm, m.term)
    for (const [cand, p] of s.promises) if (p.term <= m.term) s.promises.delete(cand)
    if (s.grant && s.grant.term <= m.term) s.grant = undefined
    if (s.leader && s.leader.term <= m.term) s.leader = undefined
    const l = vn.lease
    if (l && l.slot === m.slot && l.term <= m.term) {
      vn.lease = undefined
      vn.effects.push({ type: 'lease-lost', lease: l, reason: `force-released by ${m.by}` })
      vn.log.warn({ component: 'vote', node: vn.id, slot: l.slot, term: l.term }, 'lease force-released')
    }
    const c = vn.collecting
    if (c && c.slot === m.slot && c.term <= m.term) vn.collecting = undefined
    vn.dirty = true
    return
  }
  const who = m.k === 'rel' ? m.holder : m.cand
  const prev = s.resolutions.get(who)
  if (prev && prev.term >= m.term && prev.k === m.k) return void vn.count(`dup.${m.k}`)
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
  // Our own statement, come back to us (we forgot it): that collection is over.
  const c = vn.collecting
  if (who === vn.id && c && c.slot === m.slot && c.term <= m.term && m.k !== 'wd') {
    vn.collecting = undefined
    vn.count('reclaim.already-released')
  }
  if (who === vn.id && m.k === 'wd' && c && c.slot === m.slot && c.term <= m.term) {
    if (c.reclaim) vn.collecting = undefined
    else {
      // Our own withdraw of this term from a life we forgot: the term is spent. Ask above it.
      vn.count('reused-term')
      s.knownTerm = Math.max(s.knownTerm, m.term)
      giveUp(vn, c, 'stale')
    }
  }
  if (s.grant && s.grant.holder === who && s.grant.term <= m.term) {
    s.grant = undefined
    vn.dirty = true
  }
  if (m.k === 'wd' && m.leader !== undefined && (!s.leader || s.leader.term <= m.term)) s.leader = { term: m.term, cand: m.leader }
  s.knownTerm = Math.max(s.knownTerm, m.term)
}

export function onQuery(vn: VoteCore, m: QueryMsg): void {
  if (vn.recovery) return
  const s = vn.slots[m.slot]!
  const mine = s.resolutions.get(vn.id)
  if (mine && mine.term >= m.term) return vn.send(m.from, mine)
  const l = vn.lease
  const c = vn.collecting
  if ((l && l.slot === m.slot) || (c && c.slot === m.slot)) return // still in force
  // We hold nothing on that slot and our memory is whole: we never will at that term.
  const wd = vn.sign<WithdrawMsg>({ k: 'wd', wave: m.wave, slot: m.slot, term: Math.max(m.term, s.knownTerm), cand: vn.id })
  onResolution(vn, wd)
  vn.send(m.from, wd)
}

export function query(vn: VoteCore, cand: string, slot: number, term: number): void {
  if (cand === vn.id) return
  vn.count('queries')
  vn.send(cand, vn.sign<QueryMsg>({ k: 'query', wave: vn.wave!.id, slot, term, from: vn.id }))
}

export function onRetire(vn: VoteCore, m: RetireMsg): void {
  if (vn.retired.has(m.node)) return void vn.count('dup.retire')
  vn.retired.add(m.node)
  vn.retireMsgs.push(m)
  vn.dirty = true
}

/** Ask the candidate of every promise or grant unresolved past its query time (backing off). */
export function staleQueryTick(vn: VoteCore): void {
  const now = vn.now
  for (let i = 0; i < vn.slots.length; i++) {
    const s = vn.slots[i]!
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
