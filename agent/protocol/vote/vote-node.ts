/**
 * VoteNode: one node's side of the reboot-lease vote, as a deterministic step machine.
 *
 *   step(input, now) -> effects     nextWakeAt()     view()     fenceValid(lease)
 *
 * Same driving rules as the mesh node (mesh-types.ts): inputs one at a time, effects
 * carried out in order, and a `persist` effect finished before any later effect of the
 * same step (so a vote is durable before it is sent). State is mutated in place.
 *
 * The protocol, per slot (K slots per wave), per term:
 * - A candidate that is, in its own view, among the best-ranked waiting nodes that the
 *   free budget admits broadcasts a signed request (wave, slot, term).
 * - A voter (roster member, or the coordinator as tie-breaker) votes yes at most once per
 *   (slot, term), and only if it holds no promise on that slot to anyone else, the budget
 *   allows (unavailable nodes of any cause count), the candidate is among the best-ranked
 *   waiting (or is the leader the last term's losers named), and the gates pass. A yes
 *   vote is a promise: until the candidate releases or withdraws (or an operator
 *   force-releases), the voter refuses everyone else on that slot.
 * - A quorum of yes votes (quorum.ts) makes the candidate the holder: it broadcasts a
 *   grant and carries the fencing token (slot, term).
 * - A candidate that cannot win withdraws (signed), naming the leader it saw; voters back
 *   that leader next term. Nothing expires on a timer: only the candidate's own release or
 *   withdraw, or an operator's force-release, frees a promise.
 * - A node that lost its memory (RAM boot) abstains for a quiet period longer than any
 *   collection, then learns the open promises from enough members that every quorum its
 *   forgotten votes could have joined is covered (quorum.ts syncAnswersNeeded).
 *
 * This file is the face; the protocol lives in its parts (vote-core.ts says who owns
 * which state): voter.ts, candidate.ts, recovery.ts, resolution.ts, operator.ts, with
 * budget.ts and waiting-order.ts shared by the voter and the candidate, and inbox.ts, the
 * one way in for every message — our own included. view-change.ts returns at once from a
 * view change that concerns nobody this node watches.
 */
import { silentLogger } from '../ports.js'
import { collectionTick, maybeRequest } from './candidate.js'
import { adoptWave, onMessage, onOwn } from './inbox.js'
import { forceRelease, operatorTick, publishWave, retire } from './operator.js'
import { catchUpTick, sendSyncRequest, startCatchUp, startRecovery } from './recovery.js'
import { doneHolderTick, staleQueryTick } from './resolution.js'
import type { ReleaseMsg, WaveMsg } from './vote-messages.js'
import { recordVote } from './wave-books.js'
import { viewChangeQuiet } from './view-change.js'
import { RECHECK_KINDS, VoteCore } from './vote-core.js'
import type { Lease, PersistedVote, VoteEffect, VoteInput, VoteNodeInit } from './vote-types.js'

export type { Lease, PersistedVote, VoteEffect, VoteInput, VoteNodeInit } from './vote-types.js'

export class VoteNode {
  readonly id: string
  readonly role: 'node' | 'coordinator'
  /** Dropped input by reason, plus activity counts (requests, votes, grants, ...). */
  get counters(): Record<string, number> {
    const vn = this.vn
    // Kept as a plain number on the hot path (one per view change of every node), filed here.
    if (vn.quietViews > 0) vn.counters['view.quiet'] = vn.quietViews
    return vn.counters
  }

  private readonly vn: VoteCore

  constructor(init: VoteNodeInit) {
    this.id = init.id
    this.role = init.role
    const vn = new VoteCore(init.id, init.role, init.keyring, init.view, init.config, init.coordinatorKey, init.logger ?? silentLogger, init.now)
    this.vn = vn
    vn.inbox = { fromPeer: (from, m) => onMessage(vn, from, m), toSelf: (m) => onOwn(vn, m) }
    const mayHaveForgotten = init.mayHaveForgotten ?? true
    vn.rec.forgetful = mayHaveForgotten && this.role === 'node' && !init.persisted
    if (init.persisted) {
      restore(vn, init.persisted)
      startCatchUp(vn, init.now)
    } else if (mayHaveForgotten && this.role === 'node') startRecovery(vn, init.now)
  }

  // ---- queries -------------------------------------------------------------------------

  /** The wave this node takes part in, if any. */
  currentWave(): WaveMsg | undefined {
    return this.vn.wave
  }

  /** This node's lease, if it holds one. */
  currentLease(): Lease | undefined {
    return this.vn.cand.lease
  }

  /**
   * The fencing check, done by the executor immediately before each action (noout, drain,
   * reboot): the lease is still this node's and no force-release covers it.
   */
  fenceValid(lease: Lease): boolean {
    const vn = this.vn
    const l = vn.cand.lease
    if (!l || !vn.wave) return false
    if (l.wave !== lease.wave || l.slot !== lease.slot || l.term !== lease.term || l.holder !== this.id) return false
    const s = vn.books.slots[l.slot]
    return s !== undefined && s.forcedUpTo < l.term
  }

  /** True while this node is collecting votes for a request of its own. */
  get busy(): boolean {
    return this.vn.cand.collecting !== undefined
  }

  /** True while this node abstains (quiet period or relearning after a RAM boot). */
  get abstaining(): boolean {
    return this.vn.rec.relearning !== undefined
  }

  /** "Who holds which slot", as this node knows it: for the agent API. */
  view(): { wave: string | undefined; target: string | undefined; slots: { slot: number; term: number; holder: string | undefined; promisedTo: string[] }[]; abstaining: boolean; lease: Lease | undefined } {
    const vn = this.vn
    return {
      wave: vn.wave?.id,
      target: vn.wave?.target,
      abstaining: this.abstaining,
      lease: vn.cand.lease,
      slots: vn.books.slots.map((s, i) => ({ slot: i, term: Math.max(s.knownTerm, s.grant?.term ?? 0), holder: s.grant?.holder, promisedTo: [...s.promises.keys()].sort() })),
    }
  }

  nextWakeAt(): number {
    const vn = this.vn
    if (vn.wakeCache >= 0) return vn.wakeCache
    let w = Infinity
    const c = vn.cand.collecting
    if (c) w = Math.min(w, c.deadline, c.resendAt)
    const r = vn.rec.relearning
    if (r) w = Math.min(w, r.nextSyncAt)
    if (vn.rec.catchUp) w = Math.min(w, vn.rec.catchUp.at)
    if (vn.cand.retryAt > vn.now) w = Math.min(w, vn.cand.retryAt)
    w = Math.min(w, vn.operator.announcements.nextAt(), vn.operator.held?.at ?? Infinity)
    for (const s of vn.books.slots) {
      for (const p of s.promises.values()) w = Math.min(w, p.queryAt, p.doneAskAt ?? Infinity)
      if (s.grant) w = Math.min(w, s.grant.queryAt, s.grant.doneAskAt ?? Infinity)
    }
    vn.wakeCache = w
    return w
  }

  /** The durable part of the state, as written through the Store. */
  snapshot(): PersistedVote {
    return this.vn.snapshot()
  }

  // ---- the step --------------------------------------------------------------------------

  step(input: VoteInput, now: number): VoteEffect[] {
    const vn = this.vn
    vn.now = now
    if (input.type === 'view-changed' && input.changed && viewChangeQuiet(vn, input.changed)) {
      // Nothing changed, so the wake time still holds — unless it was a retry now past.
      if (vn.wakeCache === vn.cand.retryAt && vn.cand.retryAt <= now) vn.wakeCache = -1
      vn.quietViews++
      return []
    }
    vn.effects = []
    vn.dirty = false
    vn.wakeCache = -1
    switch (input.type) {
      case 'tick':
        onTick(vn)
        vn.recheck = true
        break
      case 'message':
        onMessage(vn, input.from, input.msg)
        // Only what changes slots or the wave can change whether we should ask.
        if (RECHECK_KINDS.has(input.msg.k)) vn.recheck = true
        break
      case 'publish-wave':
        publishWave(vn, input.wave)
        break
      case 'force-release':
        forceRelease(vn, input.slot, input.term, input.node)
        break
      case 'retire':
        retire(vn, input.node)
        break
      case 'gate':
        onGate(vn, input.lease, input.passed)
        break
      default:
        doneHolderTick(vn)
        vn.recheck = true
    }
    if (vn.recheck) {
      vn.recheck = false
      maybeRequest(vn)
    }
    vn.flushPersist()
    vn.wakeCache = -1
    return vn.effects
  }
}

// ---- inputs ------------------------------------------------------------------------------

function onTick(vn: VoteCore): void {
  if (collectionTick(vn)) return
  const now = vn.now
  const r = vn.rec.relearning
  if (r && now >= r.nextSyncAt) sendSyncRequest(vn, r)
  catchUpTick(vn)
  operatorTick(vn)
  staleQueryTick(vn)
  doneHolderTick(vn)
}

function onGate(vn: VoteCore, lease: Lease, passed: boolean): void {
  const l = vn.cand.lease
  if (!l || l.slot !== lease.slot || l.term !== lease.term) return
  if (!passed) return // keep the slot: the wave stops by itself rather than free it on a timer
  vn.cand.lease = undefined
  const rel = vn.sign<ReleaseMsg>({ k: 'rel', wave: l.wave, slot: l.slot, term: l.term, holder: vn.id })
  vn.toSelf(rel)
  vn.dirty = true
  vn.flushPersist()
  vn.count('leases.released')
  vn.log.info({ component: 'vote', node: vn.id, slot: l.slot, term: l.term }, 'lease released')
  vn.broadcast(rel)
  vn.effects.push({ type: 'lease-released', lease: l })
}

function restore(vn: VoteCore, p: PersistedVote): void {
  if (p.wave) adoptWave(vn, p.wave)
  vn.books.retired = new Set(p.retired)
  for (const ps of p.slots) {
    const s = vn.books.slots[ps.slot]
    if (!s) continue
    s.knownTerm = ps.knownTerm
    s.forcedUpTo = ps.forcedUpTo
    for (const pr of ps.promises) s.promises.set(pr.cand, { term: pr.term, own: pr.own, queryAt: vn.now + vn.cfg.staleQueryMs, queryEveryMs: vn.cfg.staleQueryMs })
    if (ps.grant) s.grant = { ...ps.grant, queryAt: vn.now + vn.cfg.staleQueryMs, queryEveryMs: vn.cfg.staleQueryMs }
    for (const [t, c] of ps.myVotes) recordVote(s, t, c)
  }
  vn.cand.lease = p.lease ? { ...p.lease } : undefined
  // An interrupted collection is not resumed as such: the reclaim path asks again for the same term.
  if (!p.memoryWhole) startRecovery(vn, vn.now)
}
