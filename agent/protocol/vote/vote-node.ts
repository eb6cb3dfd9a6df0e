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
 */
import { DropReason } from '../errors.js'
import type { Keyring, Logger } from '../ports.js'
import { silentLogger } from '../ports.js'
import type { ClusterView, NodeFacts } from './cluster-view.js'
import { canStillWin, isQuorum, syncAnswersNeeded } from './quorum.js'
import { compareRank, rankKey, type RankInputs, type RankKey } from './ranking.js'
import type { VoteConfig } from './vote-config.js'
import {
  signerOf,
  signingBytes,
  type ForceMsg,
  type GrantMsg,
  type NackMsg,
  type NackReason,
  type QueryMsg,
  type ReleaseMsg,
  type RequestMsg,
  type Resolution,
  type RetireMsg,
  type SyncMsg,
  type SyncReqMsg,
  type Unsigned,
  type VoteMessage,
  type VoteMsg,
  type WaveMsg,
  type WithdrawMsg,
} from './vote-messages.js'

/** A lease as its holder carries it: the fencing token is (slot, term). */
export interface Lease {
  wave: string
  slot: number
  term: number
  holder: string
}

export type VoteInput =
  | { type: 'tick' }
  /** A decoded vote message from the mesh (broadcast or direct). `from` is the mesh sender. */
  | { type: 'message'; from: string; msg: VoteMessage }
  /** Coordinator only: sign and publish a wave (roster fixed from here on). */
  | { type: 'publish-wave'; wave: Omit<Unsigned<WaveMsg>, 'k' | 'v'> }
  /** Coordinator only: an operator's force-release of `slot` (all terms up to `term`, default: all known). */
  | { type: 'force-release'; slot: number; term?: number }
  /** Coordinator only: an operator writes `node` off for this wave. */
  | { type: 'retire'; node: string }
  /** The executor's post-reboot gate result for this node's lease; passed -> release. */
  | { type: 'gate'; lease: Lease; passed: boolean }
  /** The cluster view changed (gossip, probes): re-evaluate candidacy. */
  | { type: 'view-changed' }

export type VoteEffect =
  | { type: 'send'; to: string; msg: VoteMessage }
  | { type: 'broadcast'; msg: VoteMessage }
  /** Write `state` under `key` through the Store; done before any later effect of the step. */
  | { type: 'persist'; key: string; state: PersistedVote }
  | { type: 'lease-acquired'; lease: Lease }
  | { type: 'lease-released'; lease: Lease }
  | { type: 'lease-lost'; lease: Lease; reason: string }
  | { type: 'dropped'; from: string; reason: DropReason | 'unknown-wave' | 'quiet'; detail: string }

/** What survives a process restart (not a RAM boot). */
export interface PersistedVote {
  wave: WaveMsg | undefined
  /** False while this node is still relearning promises after losing its memory. */
  memoryWhole: boolean
  retired: string[]
  slots: {
    slot: number
    knownTerm: number
    forcedUpTo: number
    promises: { cand: string; term: number; own: boolean }[]
    grant: { term: number; holder: string } | undefined
    myVotes: [number, string][]
  }[]
  lease: Lease | undefined
  collecting: { slot: number; term: number } | undefined
}

export interface VoteNodeInit {
  id: string
  keyring: Keyring
  view: ClusterView
  config: VoteConfig
  /** The coordinator's public key: only waves, force-releases and retirements it signed count. */
  coordinatorKey: string
  role: 'node' | 'coordinator'
  /** Clock at construction (= boot time of this instance). */
  now: number
  /** State read from the Store, when this process restarted but the machine did not reboot. */
  persisted?: PersistedVote
  /**
   * True for a node that may have voted before this boot and forgotten it (RAM boot): it
   * abstains and relearns. False only for a node known to have started before any wave.
   */
  mayHaveForgotten?: boolean
  logger?: Logger
}

interface Promise_ {
  term: number
  /** Our own vote (vs learned from another member after losing memory). */
  own: boolean
  /** When this node next asks the candidate whether the promise is resolved. */
  queryAt: number
  queryEveryMs: number
}

interface SlotState {
  knownTerm: number
  forcedUpTo: number
  /** Candidates this node is promised to on this slot (one own; more only when learned). */
  promises: Map<string, Promise_>
  grant: { term: number; holder: string; queryAt: number; queryEveryMs: number } | undefined
  /** term -> candidate: our one vote per (slot, term). */
  myVotes: Map<number, string>
  /** Latest resolution seen per candidate, to forward as proof. */
  resolutions: Map<string, Resolution>
  /** The leader named by the last withdraws: backed next term. */
  leader: { term: number; cand: string } | undefined
}

interface Collection {
  slot: number
  term: number
  req: RequestMsg
  votes: Set<string>
  coordVote: boolean
  /** Voters that voted for someone else at this very (slot, term): final. */
  against: Map<string, string>
  coordAgainst: boolean
  answered: Set<string>
  startedAt: number
  deadline: number
  resendAt: number
  /** Reclaiming a lease this node may have held before losing its memory. */
  reclaim: boolean
}

interface Recovery {
  quietUntil: number
  /** Nonces of sync requests sent after the quiet period: only their answers count. */
  countedNonces: Set<number>
  answers: Set<string>
  coordAnswered: boolean
  nextSyncAt: number
  rounds: number
}

const STALE_QUERY_CAP = 16
const RECHECK_KINDS = new Set<string>(['wave', 'grant', 'rel', 'wd', 'force', 'retire', 'sync', 'nack'])
const COORD_MARK = '\u0000coordinator'
const MAX_RESOLUTIONS_PER_SLOT = 64

export class VoteNode {
  readonly id: string
  readonly role: 'node' | 'coordinator'
  /** Dropped input by reason, plus activity counts (requests, votes, grants, ...). */
  readonly counters: Record<string, number> = {}

  private readonly keyring: Keyring
  private readonly viewPort: ClusterView
  private readonly cfg: VoteConfig
  private readonly coordKey: string
  private readonly log: Logger
  private readonly bootAt: number
  private mayHaveForgotten: boolean

  private wave: WaveMsg | undefined
  private rosterKeys = new Map<string, string>()
  private rosterIds: string[] = []
  private retired = new Set<string>()
  private retireMsgs: RetireMsg[] = []
  private slots: SlotState[] = []
  private lease: Lease | undefined
  private collecting: Collection | undefined
  private recovery: Recovery | undefined
  private retryAt = 0
  /** Coordinator: operator decisions re-broadcast with backoff (a lost retire would stall budgets). */
  private announcements: { msg: VoteMessage; at: number; gapMs: number; left: number }[] = []
  private wavePullAt = 0
  /** "slot:term" -> members whose sync answer holds their own promise to us. */
  private reclaimVotes = new Map<string, Set<string>>()
  private nonce = 0
  private wakeCache = -1
  private effects: VoteEffect[] = []
  private now = 0
  private dirty = false
  private recheck = true

  constructor(init: VoteNodeInit) {
    this.id = init.id
    this.role = init.role
    this.keyring = init.keyring
    this.viewPort = init.view
    this.cfg = init.config
    this.coordKey = init.coordinatorKey
    this.log = init.logger ?? silentLogger
    this.bootAt = init.now
    this.now = init.now
    this.mayHaveForgotten = init.mayHaveForgotten ?? true
    if (init.persisted) this.restore(init.persisted)
    else if (this.mayHaveForgotten && this.role === 'node') this.startRecovery(init.now)
  }

  // ---- queries -------------------------------------------------------------------------

  /** The wave this node takes part in, if any. */
  currentWave(): WaveMsg | undefined {
    return this.wave
  }

  /** This node's lease, if it holds one. */
  currentLease(): Lease | undefined {
    return this.lease
  }

  /**
   * The fencing check, done by the executor immediately before each action (noout, drain,
   * reboot): the lease is still this node's and no force-release covers it.
   */
  fenceValid(lease: Lease): boolean {
    const l = this.lease
    if (!l || !this.wave) return false
    if (l.wave !== lease.wave || l.slot !== lease.slot || l.term !== lease.term || l.holder !== this.id) return false
    const s = this.slots[l.slot]
    return s !== undefined && s.forcedUpTo < l.term
  }

  /** True while this node is collecting votes for a request of its own. */
  get busy(): boolean {
    return this.collecting !== undefined
  }

  /** True while this node abstains (quiet period or relearning after a RAM boot). */
  get abstaining(): boolean {
    return this.recovery !== undefined
  }

  /** "Who holds which slot", as this node knows it: for the agent API. */
  view(): { wave: string | undefined; target: string | undefined; slots: { slot: number; term: number; holder: string | undefined; promisedTo: string[] }[]; abstaining: boolean; lease: Lease | undefined } {
    return {
      wave: this.wave?.id,
      target: this.wave?.target,
      abstaining: this.abstaining,
      lease: this.lease,
      slots: this.slots.map((s, i) => ({ slot: i, term: Math.max(s.knownTerm, s.grant?.term ?? 0), holder: s.grant?.holder, promisedTo: [...s.promises.keys()].sort() })),
    }
  }

  nextWakeAt(): number {
    if (this.wakeCache >= 0) return this.wakeCache
    let w = Infinity
    const c = this.collecting
    if (c) w = Math.min(w, c.deadline, c.resendAt)
    const r = this.recovery
    if (r) w = Math.min(w, r.nextSyncAt)
    if (this.retryAt > this.now) w = Math.min(w, this.retryAt)
    for (const a of this.announcements) w = Math.min(w, a.at)
    for (const s of this.slots) {
      for (const p of s.promises.values()) w = Math.min(w, p.queryAt)
      if (s.grant) w = Math.min(w, s.grant.queryAt)
    }
    this.wakeCache = w
    return w
  }

  // ---- the step --------------------------------------------------------------------------

  step(input: VoteInput, now: number): VoteEffect[] {
    this.now = now
    this.effects = []
    this.dirty = false
    this.wakeCache = -1
    switch (input.type) {
      case 'tick':
        this.onTick()
        this.recheck = true
        break
      case 'message':
        this.onMessage(input.from, input.msg)
        // Only what changes slots or the wave can change whether we should ask.
        if (RECHECK_KINDS.has(input.msg.k)) this.recheck = true
        break
      case 'publish-wave':
        this.publishWave(input.wave)
        break
      case 'force-release':
        this.forceRelease(input.slot, input.term)
        break
      case 'retire':
        this.retire(input.node)
        break
      case 'gate':
        this.onGate(input.lease, input.passed)
        break
      default:
        this.recheck = true
    }
    if (this.recheck) {
      this.recheck = false
      this.maybeRequest()
    }
    this.flushPersist()
    this.wakeCache = -1
    return this.effects
  }

  // ---- inputs ----------------------------------------------------------------------------

  private onTick(): void {
    const now = this.now
    const c = this.collecting
    if (c) {
      if (now >= c.deadline) {
        const me = this.viewPort.facts(this.id)
        if (c.reclaim && !(me?.healthy && me.available)) {
          // We may hold this slot from before our memory loss: never free it before our
          // post-reboot gate passes. Keep asking.
          c.deadline = now + this.cfg.collectMs
          c.answered.clear()
          c.resendAt = now
        } else this.giveUp(c, 'deadline')
      }
      if (this.collecting === c && now >= c.resendAt && now < c.deadline) {
        c.resendAt = now + this.cfg.resendMs
        this.count('resends')
        // Our own vote too, if we refused ourselves earlier (a promise since resolved).
        if (!c.votes.has(this.id) && this.rosterKeys.has(this.id)) this.onRequest(c.req)
        if (this.collecting !== c) return
        for (const id of this.rosterIds) if (!c.answered.has(id) && id !== this.id) this.send(id, c.req)
        if (this.wave && !c.answered.has(this.wave.coord.id)) this.send(this.wave.coord.id, c.req)
      }
    }
    const r = this.recovery
    if (r && now >= r.nextSyncAt) this.sendSyncRequest(r)
    for (const a of this.announcements) {
      if (now < a.at) continue
      this.broadcast(a.msg)
      a.left--
      a.gapMs *= 4
      a.at = now + a.gapMs
    }
    this.announcements = this.announcements.filter((a) => a.left > 0)
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i]!
      for (const [cand, p] of s.promises) {
        if (now >= p.queryAt) {
          p.queryEveryMs = Math.min(p.queryEveryMs * 2, this.cfg.staleQueryMs * STALE_QUERY_CAP)
          p.queryAt = now + p.queryEveryMs
          this.query(cand, i, p.term)
        }
      }
      const g = s.grant
      if (g && now >= g.queryAt) {
        g.queryEveryMs = Math.min(g.queryEveryMs * 2, this.cfg.staleQueryMs * STALE_QUERY_CAP)
        g.queryAt = g.holder === this.id ? Infinity : now + g.queryEveryMs
        this.query(g.holder, i, g.term)
      }
    }
  }

  private onMessage(from: string, m: VoteMessage): void {
    this.count(`in.${m.k}`)
    if (m.k === 'wave') return this.onWave(from, m)
    if (m.k === 'sync?') return this.onSyncRequest(from, m)
    if (m.k === 'sync' && m.waveMsg && this.wave?.id !== m.waveMsg.id) this.onWave(from, m.waveMsg)
    const w = this.wave
    if (!w || m.wave !== w.id) {
      // We may have missed the wave's announcement: ask the sender for it (rate-limited).
      if ((!w || m.wave !== w.id) && this.now >= this.wavePullAt && this.role === 'node') {
        this.wavePullAt = this.now + this.cfg.syncRetryMs
        this.send(from, this.sign<SyncReqMsg>({ k: 'sync?', wave: '*', from: this.id, nonce: ++this.nonce }))
      }
      return this.drop(from, 'unknown-wave', `${m.k} for wave ${m.wave}`)
    }
    const signer = signerOf(m)
    const key = signer === w.coord.id ? w.coord.key : this.rosterKeys.get(signer)
    if (key === undefined) return this.drop(from, DropReason.notOnRoster, `${m.k} signed by ${signer}`)
    if (('slot' in m) && m.slot >= w.slots) return this.drop(from, DropReason.schema, `${m.k} for slot ${m.slot} of ${w.slots}`)
    if (!this.keyring.verify(key, signingBytes(m), m.sig)) return this.drop(from, DropReason.badSignature, `${m.k} from ${signer}`)
    const fromCoord = signer === w.coord.id
    switch (m.k) {
      case 'req':
        if (fromCoord) return this.drop(from, DropReason.notOnRoster, 'the coordinator is never a candidate')
        return this.onRequest(m)
      case 'vote':
        return this.onVote(m, fromCoord)
      case 'nack':
        return this.onNack(m, fromCoord)
      case 'grant':
        if (fromCoord) return this.drop(from, DropReason.notOnRoster, 'the coordinator never holds a slot')
        return this.onGrant(m)
      case 'rel':
      case 'wd':
        if (fromCoord) return this.drop(from, DropReason.notOnRoster, 'the coordinator never holds a slot')
        return this.onResolution(m)
      case 'force':
        if (!fromCoord) return this.drop(from, DropReason.notOnRoster, 'force-release must come from the coordinator')
        return this.onResolution(m)
      case 'retire':
        if (!fromCoord) return this.drop(from, DropReason.notOnRoster, 'retire must come from the coordinator')
        return this.onRetire(m)
      case 'sync':
        return this.onSync(m, fromCoord)
      case 'query':
        return this.onQuery(m)
    }
  }

  private onWave(from: string, m: WaveMsg): void {
    if (m.coord.key !== this.coordKey) return this.drop(from, DropReason.notOnRoster, `wave ${m.id} not from our coordinator`)
    if (!this.keyring.verify(m.coord.key, signingBytes(m), m.sig)) return this.drop(from, DropReason.badSignature, `wave ${m.id}`)
    if (this.wave) {
      if (this.wave.id === m.id) return void this.count('dup.wave')
      // One wave at a time: a later one replaces a finished/aborted one (the coordinator decides).
      if (m.startedAt <= this.wave.startedAt) return this.drop(from, DropReason.stale, `wave ${m.id} older than ${this.wave.id}`)
    }
    this.adoptWave(m)
  }

  private adoptWave(m: WaveMsg): void {
    this.wave = m
    this.rosterKeys = new Map(m.roster.map((r) => [r.id, r.key]))
    this.rosterIds = m.roster.map((r) => r.id)
    this.retired = new Set()
    this.retireMsgs = []
    this.slots = Array.from({ length: m.slots }, () => newSlot())
    this.lease = undefined
    this.collecting = undefined
    this.dirty = true
    this.log.info({ component: 'vote', node: this.id, wave: m.id, target: m.target, slots: m.slots, roster: m.roster.length }, 'wave')
    // A node booted well before the wave started cannot have voted in it.
    if (this.recovery && this.bootAt + this.cfg.maxClockSkewMs < m.startedAt) this.recovery = undefined
  }

  // ---- voter -----------------------------------------------------------------------------

  private onRequest(m: RequestMsg): void {
    if (!this.rosterKeys.has(m.cand)) return this.drop(m.cand, DropReason.notOnRoster, `request from ${m.cand}`)
    if (this.role === 'node' && !this.rosterKeys.has(this.id)) return // not a voter in this wave
    // Abstaining, except for our own reclaim: a candidate's vote at its own request's term is
    // always for itself (it asks only above every term it voted at), so that one is safe to
    // repeat without remembering.
    const ownReclaim = m.cand === this.id && this.collecting?.reclaim === true && this.collecting.term === m.term
    if (this.recovery && !ownReclaim) return this.drop(m.cand, 'quiet', `abstaining after boot (request ${m.slot}/${m.term} from ${m.cand})`)
    const s = this.slots[m.slot]!
    const prior = s.myVotes.get(m.term)
    if (prior !== undefined) {
      this.count(prior === m.cand ? 'dup.request' : 'nack.voted')
      if (prior !== m.cand) return this.nack(m, 'voted', { term: m.term, cand: prior })
      // Re-send our vote only while the promise stands; once the candidate released or
      // withdrew that term, tell it so instead (it may have forgotten).
      const res = s.resolutions.get(m.cand)
      if (res && res.term >= m.term) return this.send(m.cand, res)
      if (m.term <= s.forcedUpTo) return this.nack(m, 'stale', { term: s.forcedUpTo + 1, cand: m.cand })
      return this.sendVote(m)
    }
    if (m.term <= s.forcedUpTo || m.term < s.knownTerm) return this.nack(m, 'stale', { term: Math.max(s.knownTerm, s.forcedUpTo + 1), cand: s.grant?.holder ?? m.cand })
    s.knownTerm = Math.max(s.knownTerm, m.term)
    for (const [cand, p] of s.promises) {
      if (cand !== m.cand) {
        // Demand-driven staleness check: someone wants the slot and we are promised elsewhere.
        if (this.now - (p.queryAt - p.queryEveryMs) >= this.cfg.staleQueryMs / 4 && this.now < p.queryAt) {
          p.queryAt = this.now
        }
        return this.nack(m, 'promised', { term: p.term, cand })
      }
    }
    if (s.grant && s.grant.holder !== m.cand) return this.nack(m, 'promised', { term: s.grant.term, cand: s.grant.holder })
    // A reclaim after memory loss: we promised this very (slot, term) to this candidate
    // (relearned from the others), or it is our own reclaim (we voted for ourselves when we
    // asked). Had our forgotten vote gone to anyone else who could still win, we would have
    // relearned that promise too, and the loop above would have refused.
    const reaffirm = s.promises.get(m.cand)?.term === m.term || (m.cand === this.id && this.collecting?.reclaim === true && this.collecting.term === m.term)
    const reason = reaffirm ? undefined : this.judge(m.cand, m.slot, m.term)
    if (reason) return this.nack(m, reason)
    // Yes: a promise, durable before it leaves.
    s.myVotes.set(m.term, m.cand)
    const old = s.promises.get(m.cand)
    s.promises.set(m.cand, { term: Math.max(m.term, old?.term ?? 0), own: true, queryAt: this.now + this.cfg.staleQueryMs, queryEveryMs: this.cfg.staleQueryMs })
    if (s.leader && s.leader.cand === m.cand) s.leader = undefined
    pruneVotes(s)
    this.dirty = true
    this.count('votes.cast')
    this.sendVote(m)
  }

  /** Undefined when `cand` may have this voter's vote on `slot`; otherwise why not. */
  private judge(cand: string, slot: number, term: number): NackReason | undefined {
    const w = this.wave!
    if (this.retired.has(cand)) return 'ineligible'
    const f = this.viewPort.facts(cand)
    if (!f || !f.available || f.image === w.target) return 'ineligible'
    const occ = this.occupancy(slot)
    if (occ.holders.includes(cand)) return 'ineligible' // already holds (or may hold) another slot
    const free = w.slots - occ.slotsTaken - occ.unavailableOthers
    if (free <= 0) return 'budget'
    if (!this.viewPort.drainable(cand)) return 'gate'
    if (!this.viewPort.okToStop([...occ.holders, cand])) return 'gate'
    if (w.policy === 'one-at-a-time' && occ.domains.size > 0 && !(occ.domains.size === 1 && occ.domains.has(f.domain))) return 'gate'
    const s = this.slots[slot]!
    // "Back the previous term's leader": binding for the very next term only.
    if (s.leader && s.leader.cand !== cand && term === s.leader.term + 1) {
      const lf = this.viewPort.facts(s.leader.cand)
      if (lf && lf.available && lf.image !== w.target && !occ.holders.includes(s.leader.cand) && !this.retired.has(s.leader.cand)) return 'leader'
    }
    if (s.leader && s.leader.cand === cand) return undefined // back the last term's leader
    const better = this.countBetter(f, occ, free)
    return better < free ? undefined : 'rank'
  }

  /**
   * Slots taken and who may hold them, in this node's view. `except`: a slot whose own
   * state is judged separately (the one being asked for).
   */
  private occupancy(except: number): { slotsTaken: number; holders: string[]; domains: Set<string>; unavailableOthers: number } {
    const holders: string[] = []
    let slotsTaken = 0
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i]!
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
      const f = this.viewPort.facts(h)
      if (f) domains.add(f.domain)
    }
    let unavailableOthers = 0
    for (const id of this.rosterIds) {
      if (this.retired.has(id) || holders.includes(id)) continue
      const f = this.viewPort.facts(id)
      if (!f || !f.available) unavailableOthers++
    }
    return { slotsTaken, holders, domains, unavailableOthers }
  }

  /** Eligible waiting candidates ranked before `f`, counted up to `limit` (an early exit: only "fewer than limit?" matters). */
  private countBetter(f: NodeFacts, occ: { holders: string[]; domains: Set<string> }, limit: number): number {
    const w = this.wave!
    const inputs = this.rankInputs(occ.holders)
    const mine = rankKey(this.viewPort, f, inputs)
    let better = 0
    for (const id of this.rosterIds) {
      if (id === f.id || this.retired.has(id) || occ.holders.includes(id)) continue
      const o = this.viewPort.facts(id)
      if (!o || !o.available || o.image === w.target) continue
      if (w.policy === 'one-at-a-time' && occ.domains.size > 0 && !occ.domains.has(o.domain)) continue
      // Cheap fields first; the Ceph check only for nodes that would otherwise come first.
      const cheap: RankKey = { id: o.id, ok: mine.ok, domainActive: inputs.activeDomains.has(o.domain), domain: o.domain, pods: o.pods, load: o.load }
      if (mine.ok) {
        if (compareRank(cheap, mine) > 0) continue
        if (!this.viewPort.okToStop([...occ.holders, o.id])) continue
      } else if (compareRank(cheap, mine) > 0 && !this.viewPort.okToStop([...occ.holders, o.id])) continue
      if (!this.viewPort.drainable(o.id)) continue
      if (++better >= limit) return better
    }
    return better
  }

  private rankInputs(holders: string[]): RankInputs {
    const w = this.wave!
    const active = new Set<string>()
    const byDomain = new Map<string, { done: number; waiting: number }>()
    for (const id of this.rosterIds) {
      const f = this.viewPort.facts(id)
      if (!f) continue
      const d = byDomain.get(f.domain) ?? { done: 0, waiting: 0 }
      if (f.image === w.target) d.done++
      else d.waiting++
      byDomain.set(f.domain, d)
    }
    for (const [dom, d] of byDomain) if (d.done > 0 && d.waiting > 0) active.add(dom)
    for (const h of holders) {
      const f = this.viewPort.facts(h)
      if (f) active.add(f.domain)
    }
    return { holders, activeDomains: active }
  }

  private sendVote(req: RequestMsg): void {
    const v: Unsigned<VoteMsg> = { k: 'vote', wave: req.wave, slot: req.slot, term: req.term, voter: this.id, cand: req.cand }
    this.deliver(req.cand, this.sign(v))
  }

  private nack(req: RequestMsg, reason: NackReason, other?: { term: number; cand: string }): void {
    this.count(`nack.${reason}`)
    const n: Unsigned<NackMsg> = { k: 'nack', wave: req.wave, slot: req.slot, term: req.term, voter: this.id, cand: req.cand, reason, ...(other ? { other } : {}) }
    this.deliver(req.cand, this.sign(n))
  }

  // ---- candidate -------------------------------------------------------------------------

  private maybeRequest(): void {
    const w = this.wave
    if (!w || this.role !== 'node' || this.lease || this.collecting || this.now < this.retryAt) return
    if (!this.rosterKeys.has(this.id) || this.retired.has(this.id)) return
    // While relearning, only a reclaim (once the quiet period is over and answers arrive).
    if (this.recovery && this.recovery.countedNonces.size === 0) return
    // Any promise or grant naming us: we may hold a slot we forgot (RAM boot). Reclaim it
    // first, whatever our health: its voters answer from their promises.
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i]!
      const p = s.promises.get(this.id)
      const g = s.grant?.holder === this.id ? s.grant.term : 0
      const term = Math.max(p?.term ?? 0, g)
      if (term > 0) return this.startCollection(i, term, true)
    }
    if (this.recovery) return
    const me = this.viewPort.facts(this.id)
    if (!me || !me.available || me.image === w.target) return
    const occ = this.occupancy(-1)
    const free = w.slots - occ.slotsTaken - occ.unavailableOthers
    if (free <= 0) return
    if (!this.viewPort.drainable(this.id) || !this.viewPort.okToStop([...occ.holders, this.id])) return
    if (w.policy === 'one-at-a-time' && occ.domains.size > 0 && !(occ.domains.size === 1 && occ.domains.has(me.domain))) return
    const freeSlots: number[] = []
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i]!
      if (s.promises.size === 0 && !s.grant) freeSlots.push(i)
    }
    if (freeSlots.length === 0) return
    // A slot whose last term named us leader comes first.
    let slot = freeSlots.find((i) => this.slots[i]!.leader?.cand === this.id)
    if (slot === undefined) {
      const better = this.countBetter(me, occ, free)
      if (better >= free) return
      slot = freeSlots[Math.min(better, freeSlots.length - 1)]!
    }
    const s = this.slots[slot]!
    this.startCollection(slot, Math.max(s.knownTerm, s.forcedUpTo) + 1, false)
  }

  private startCollection(slot: number, term: number, reclaim: boolean): void {
    const w = this.wave!
    const s = this.slots[slot]!
    s.knownTerm = Math.max(s.knownTerm, term)
    const req = this.sign<RequestMsg>({ k: 'req', wave: w.id, slot, term, cand: this.id })
    this.collecting = {
      slot,
      term,
      req,
      votes: new Set(),
      coordVote: false,
      against: new Map(),
      coordAgainst: false,
      answered: new Set(),
      startedAt: this.now,
      deadline: this.now + this.cfg.collectMs,
      resendAt: this.now + this.cfg.resendMs,
      reclaim,
    }
    this.dirty = true
    this.count(reclaim ? 'requests.reclaim' : 'requests')
    this.log.debug({ component: 'vote', node: this.id, slot, term, reclaim }, 'request')
    const c = this.collecting
    if (reclaim) {
      // Votes we can count back from the promises the members described to us.
      for (const v of this.reclaimVotes.get(`${slot}:${term}`) ?? []) {
        if (v === COORD_MARK) c.coordVote = true
        else if (this.rosterKeys.has(v)) c.votes.add(v)
        c.answered.add(v === COORD_MARK ? w.coord.id : v)
      }
      this.reclaimVotes.clear()
      this.onRequest(req) // and our own
      if (this.collecting !== c) return // won (or lost) without a message
      for (const id of this.rosterIds) if (!c.answered.has(id) && id !== this.id) this.send(id, req)
      if (!c.answered.has(w.coord.id)) this.send(w.coord.id, req)
      return
    }
    this.broadcast(req)
    this.onRequest(req) // our own vote, through the same rules
  }

  private onVote(m: VoteMsg, fromCoord: boolean): void {
    const c = this.collecting
    if (m.cand !== this.id || !c || c.slot !== m.slot || c.term !== m.term) return this.drop(m.voter, DropReason.stale, `vote ${m.slot}/${m.term} from ${m.voter}`)
    if (fromCoord) {
      if (c.coordVote) return this.drop(m.voter, DropReason.replay, `vote ${m.slot}/${m.term} from ${m.voter}`)
      c.coordVote = true
    } else {
      if (c.votes.has(m.voter) || c.against.has(m.voter)) return this.drop(m.voter, DropReason.replay, `vote ${m.slot}/${m.term} from ${m.voter}`)
      c.votes.add(m.voter)
    }
    c.answered.add(m.voter)
    if (isQuorum(this.rosterIds.length, c.votes.size, c.coordVote)) this.win(c)
  }

  private onNack(m: NackMsg, fromCoord: boolean): void {
    const c = this.collecting
    if (m.cand !== this.id || !c || c.slot !== m.slot || c.term !== m.term) return void this.count('nack.late')
    // Only a vote elsewhere at this very term is final; anything else is asked again.
    if (m.reason === 'voted' || m.reason === 'stale') c.answered.add(m.voter)
    const s = this.slots[m.slot]!
    if (m.reason === 'stale' && m.other) s.knownTerm = Math.max(s.knownTerm, m.other.term)
    if (m.reason === 'voted' && m.other && m.other.cand !== this.id) {
      if (fromCoord) c.coordAgainst = true
      else if (!c.votes.has(m.voter)) c.against.set(m.voter, m.other.cand)
    }
    if (m.reason === 'promised' && m.other && m.other.cand !== this.id) {
      // Forward what we know: their promise may already be resolved.
      const proof = s.resolutions.get(m.other.cand)
      if (proof && proof.term >= m.other.term) {
        this.send(m.voter, proof)
        c.answered.delete(m.voter) // ask again on the next re-send
      }
    }
    if (m.reason === 'stale' || !canStillWin(this.rosterIds.length, c.votes.size, c.against.size, c.coordAgainst)) this.giveUp(c, m.reason === 'stale' ? 'stale' : 'split')
  }

  private win(c: Collection): void {
    const w = this.wave!
    this.collecting = undefined
    this.lease = { wave: w.id, slot: c.slot, term: c.term, holder: this.id }
    const s = this.slots[c.slot]!
    s.grant = { term: c.term, holder: this.id, queryAt: Infinity, queryEveryMs: this.cfg.staleQueryMs }
    s.leader = undefined
    this.dirty = true
    this.flushPersist() // the lease is durable before anyone acts on it
    this.count('leases.won')
    this.log.info({ component: 'vote', node: this.id, slot: c.slot, term: c.term, votes: c.votes.size, coordinator: c.coordVote }, 'lease acquired')
    // A reclaimed lease was announced when first won; the members that told us still hold it.
    if (!c.reclaim) this.broadcast(this.sign<GrantMsg>({ k: 'grant', wave: w.id, slot: c.slot, term: c.term, holder: this.id, votes: c.votes.size }))
    this.effects.push({ type: 'lease-acquired', lease: this.lease })
  }

  /** This collection cannot win: withdraw for good, naming the leader seen. */
  private giveUp(c: Collection, why: string): void {
    const w = this.wave!
    this.collecting = undefined
    const tally = new Map<string, number>()
    tally.set(this.id, c.votes.size)
    for (const cand of c.against.values()) tally.set(cand, (tally.get(cand) ?? 0) + 1)
    let leader = this.id
    for (const [cand, n] of tally) {
      const best = tally.get(leader)!
      if (n > best || (n === best && cand < leader)) leader = cand
    }
    this.count(`withdraws.${why}`)
    const wd = this.sign<WithdrawMsg>({ k: 'wd', wave: w.id, slot: c.slot, term: c.term, cand: this.id, leader })
    this.broadcast(wd)
    this.onResolution(wd)
    this.retryAt = leader === this.id && c.votes.size > 0 ? this.now : this.now + this.cfg.retryMs
    this.dirty = true
  }

  private onGrant(m: GrantMsg): void {
    const s = this.slots[m.slot]!
    if (m.term <= s.forcedUpTo) return this.drop(m.holder, DropReason.stale, `grant ${m.slot}/${m.term}`)
    const res = s.resolutions.get(m.holder)
    if (res && res.term >= m.term) return void this.count('dup.grant') // already released
    if (s.grant && s.grant.term >= m.term) return void this.count('dup.grant')
    s.grant = { term: m.term, holder: m.holder, queryAt: this.now + this.cfg.staleQueryMs, queryEveryMs: this.cfg.staleQueryMs }
    s.knownTerm = Math.max(s.knownTerm, m.term)
    s.leader = undefined
    this.dirty = true
    const c = this.collecting
    if (c && c.slot === m.slot && m.holder !== this.id) this.giveUp(c, 'taken')
  }

  // ---- resolutions -------------------------------------------------------------------------

  private onResolution(m: Resolution): void {
    const s = this.slots[m.slot]!
    if (m.k === 'force') {
      if (m.term <= s.forcedUpTo) return void this.count('dup.force')
      s.forcedUpTo = m.term
      s.knownTerm = Math.max(s.knownTerm, m.term)
      for (const [cand, p] of s.promises) if (p.term <= m.term) s.promises.delete(cand)
      if (s.grant && s.grant.term <= m.term) s.grant = undefined
      if (s.leader && s.leader.term <= m.term) s.leader = undefined
      const l = this.lease
      if (l && l.slot === m.slot && l.term <= m.term) {
        this.lease = undefined
        this.effects.push({ type: 'lease-lost', lease: l, reason: `force-released by ${m.by}` })
        this.log.warn({ component: 'vote', node: this.id, slot: l.slot, term: l.term }, 'lease force-released')
      }
      const c = this.collecting
      if (c && c.slot === m.slot && c.term <= m.term) this.collecting = undefined
      this.dirty = true
      return
    }
    const who = m.k === 'rel' ? m.holder : m.cand
    const prev = s.resolutions.get(who)
    if (prev && prev.term >= m.term && prev.k === m.k) return void this.count(`dup.${m.k}`)
    if (!prev || prev.term <= m.term) {
      s.resolutions.delete(who)
      s.resolutions.set(who, m)
      if (s.resolutions.size > MAX_RESOLUTIONS_PER_SLOT) s.resolutions.delete(s.resolutions.keys().next().value!)
    }
    const p = s.promises.get(who)
    if (p && p.term <= m.term) {
      s.promises.delete(who)
      this.dirty = true
    }
    // Our own statement, come back to us (we forgot it): that collection is over.
    const c = this.collecting
    if (who === this.id && c && c.slot === m.slot && c.term <= m.term && m.k !== 'wd') {
      this.collecting = undefined
      this.count('reclaim.already-released')
    }
    if (who === this.id && m.k === 'wd' && c && c.slot === m.slot && c.term <= m.term && c.reclaim) this.collecting = undefined
    if (s.grant && s.grant.holder === who && s.grant.term <= m.term) {
      s.grant = undefined
      this.dirty = true
    }
    if (m.k === 'wd' && m.leader !== undefined && (!s.leader || s.leader.term <= m.term)) s.leader = { term: m.term, cand: m.leader }
    s.knownTerm = Math.max(s.knownTerm, m.term)
  }

  private onQuery(m: QueryMsg): void {
    if (this.recovery) return
    const s = this.slots[m.slot]!
    const mine = s.resolutions.get(this.id)
    if (mine && mine.term >= m.term) return this.send(m.from, mine)
    const l = this.lease
    const c = this.collecting
    if ((l && l.slot === m.slot) || (c && c.slot === m.slot)) return // still in force
    // We hold nothing on that slot and our memory is whole: we never will at that term.
    const wd = this.sign<WithdrawMsg>({ k: 'wd', wave: m.wave, slot: m.slot, term: Math.max(m.term, s.knownTerm), cand: this.id })
    this.onResolution(wd)
    this.send(m.from, wd)
  }

  private query(cand: string, slot: number, term: number): void {
    if (cand === this.id) return
    this.count('queries')
    this.send(cand, this.sign<QueryMsg>({ k: 'query', wave: this.wave!.id, slot, term, from: this.id }))
  }

  private onGate(lease: Lease, passed: boolean): void {
    const l = this.lease
    if (!l || l.slot !== lease.slot || l.term !== lease.term) return
    if (!passed) return // keep the slot: the wave stops by itself rather than free it on a timer
    this.lease = undefined
    const rel = this.sign<ReleaseMsg>({ k: 'rel', wave: l.wave, slot: l.slot, term: l.term, holder: this.id })
    this.onResolution(rel)
    this.dirty = true
    this.flushPersist()
    this.count('leases.released')
    this.log.info({ component: 'vote', node: this.id, slot: l.slot, term: l.term }, 'lease released')
    this.broadcast(rel)
    this.effects.push({ type: 'lease-released', lease: l })
  }

  private onRetire(m: RetireMsg): void {
    if (this.retired.has(m.node)) return void this.count('dup.retire')
    this.retired.add(m.node)
    this.retireMsgs.push(m)
    this.dirty = true
  }

  // ---- coordinator / operator --------------------------------------------------------------

  private publishWave(w: Omit<Unsigned<WaveMsg>, 'k' | 'v'>): void {
    if (this.role !== 'coordinator') return this.drop(this.id, 'unknown-wave', 'only the coordinator publishes waves')
    const m = this.sign<WaveMsg>({ k: 'wave', v: 1, ...w })
    this.adoptWave(m)
    this.broadcast(m)
  }

  private forceRelease(slot: number, term?: number): void {
    const w = this.wave
    if (this.role !== 'coordinator' || !w || slot >= w.slots) return this.drop(this.id, 'unknown-wave', `force-release of slot ${slot}`)
    const s = this.slots[slot]!
    let t = term ?? Math.max(s.knownTerm, s.grant?.term ?? 0)
    for (const p of s.promises.values()) t = Math.max(t, p.term)
    if (t <= s.forcedUpTo) t = s.forcedUpTo + 1
    const m = this.sign<ForceMsg>({ k: 'force', wave: w.id, slot, term: t, by: this.id })
    this.log.warn({ component: 'vote', node: this.id, slot, term: t }, 'force-release')
    this.onResolution(m)
    this.announce(m)
  }

  /** Broadcast now and again after 1, 4, 16, 64, 256 s: operator decisions must reach everyone. */
  private announce(m: VoteMessage): void {
    this.broadcast(m)
    this.announcements.push({ msg: m, at: this.now + 1000, gapMs: 1000, left: 5 })
  }

  private retire(node: string): void {
    const w = this.wave
    if (this.role !== 'coordinator' || !w) return this.drop(this.id, 'unknown-wave', `retire ${node}`)
    const m = this.sign<RetireMsg>({ k: 'retire', wave: w.id, node, by: this.id })
    this.onRetire(m)
    this.announce(m)
  }

  // ---- memory loss -------------------------------------------------------------------------

  private startRecovery(now: number): void {
    this.recovery = { quietUntil: now + this.cfg.quietMs, countedNonces: new Set(), answers: new Set(), coordAnswered: false, nextSyncAt: now + this.cfg.quietMs, rounds: 0 }
  }

  /**
   * After the quiet period: ask for promises. The first round asks just enough members
   * (plus some slack) in roster order after us; later rounds ask everyone not yet heard.
   * Without a known wave, ask everyone (the answers carry the wave).
   */
  private sendSyncRequest(r: Recovery): void {
    const n = ++this.nonce
    r.countedNonces.add(n)
    // Back off (up to 32x): members that cannot answer yet (down, relearning) are asked less often.
    r.nextSyncAt = this.now + this.cfg.syncRetryMs * Math.min(32, 2 ** Math.min(r.rounds, 5))
    const req = this.sign<SyncReqMsg>({ k: 'sync?', wave: this.wave?.id ?? '*', from: this.id, nonce: n })
    const w = this.wave
    if (!w) {
      if (r.rounds++ >= 2) {
        // Nobody answered with a wave: there is none to relearn.
        this.recovery = undefined
        return
      }
      return this.broadcast(req)
    }
    const need = syncAnswersNeeded(this.rosterIds.length, false)
    const me = Math.max(0, this.rosterIds.indexOf(this.id))
    const ask = r.rounds++ === 0 ? need + Math.max(2, Math.ceil(need / 10)) : Infinity
    let asked = 0
    for (let i = 1; i < this.rosterIds.length && asked < ask; i++) {
      const id = this.rosterIds[(me + i) % this.rosterIds.length]!
      if (r.answers.has(id)) continue
      this.send(id, req)
      asked++
    }
    if (!r.coordAnswered) this.send(w.coord.id, req)
  }

  private onSyncRequest(from: string, m: SyncReqMsg): void {
    const w = this.wave
    if (!w || (m.wave !== '*' && m.wave !== w.id)) return
    if (!this.rosterKeys.has(m.from)) return this.drop(from, DropReason.notOnRoster, `sync? from ${m.from}`)
    if (!this.keyring.verify(this.rosterKeys.get(m.from)!, signingBytes(m), m.sig)) return this.drop(from, DropReason.badSignature, `sync? from ${m.from}`)
    if (m.from === this.id) return
    const promises: SyncMsg['promises'] = []
    const grants: SyncMsg['grants'] = []
    this.slots.forEach((s, slot) => {
      for (const [cand, p] of s.promises) promises.push({ slot, term: p.term, cand, own: p.own })
      if (s.grant) grants.push({ slot, term: s.grant.term, holder: s.grant.holder })
    })
    this.send(m.from, this.sign<SyncMsg>({ k: 'sync', wave: w.id, from: this.id, to: m.from, nonce: m.nonce, complete: !this.recovery, waveMsg: w, promises, grants, retires: this.retireMsgs }))
  }

  private onSync(m: SyncMsg, fromCoord: boolean): void {
    if (m.to !== this.id) return this.drop(m.from, DropReason.stale, 'sync for another node')
    for (const r of m.retires) if (!this.retired.has(r.node)) this.onMessage(m.from, r)
    for (const p of m.promises) {
      this.learnPromise(p.slot, p.term, p.cand)
      // A member's own promise to us is its vote: a lease we forgot can be counted back.
      if (p.cand === this.id && p.own) {
        const key = `${p.slot}:${p.term}`
        const set = this.reclaimVotes.get(key) ?? new Set<string>()
        set.add(fromCoord ? COORD_MARK : m.from)
        this.reclaimVotes.set(key, set)
      }
    }
    for (const g of m.grants) {
      const s = this.slots[g.slot]!
      const res = s.resolutions.get(g.holder)
      if (g.term > s.forcedUpTo && (!res || res.term < g.term) && (!s.grant || s.grant.term < g.term)) {
        s.grant = { term: g.term, holder: g.holder, queryAt: this.now + this.cfg.staleQueryMs, queryEveryMs: this.cfg.staleQueryMs }
        s.knownTerm = Math.max(s.knownTerm, g.term)
      }
    }
    this.dirty = true
    const r = this.recovery
    if (!r || !m.complete || !r.countedNonces.has(m.nonce)) return
    if (fromCoord) r.coordAnswered = true
    else r.answers.add(m.from)
    if (r.answers.size >= syncAnswersNeeded(this.rosterIds.length, r.coordAnswered)) {
      this.recovery = undefined
      this.count('recovered')
      this.log.info({ component: 'vote', node: this.id, answers: r.answers.size }, 'promises relearned; voting again')
    }
  }

  private learnPromise(slot: number, term: number, cand: string): void {
    const s = this.slots[slot]
    if (!s || term <= s.forcedUpTo) return
    const res = s.resolutions.get(cand)
    if (res && res.term >= term) return
    const p = s.promises.get(cand)
    if (p && p.term >= term) return
    s.promises.set(cand, { term, own: false, queryAt: this.now + this.cfg.staleQueryMs, queryEveryMs: this.cfg.staleQueryMs })
    s.knownTerm = Math.max(s.knownTerm, term)
  }

  // ---- persistence ---------------------------------------------------------------------------

  /** The durable part of the state, as written through the Store. */
  snapshot(): PersistedVote {
    return {
      wave: this.wave,
      memoryWhole: !this.recovery,
      retired: [...this.retired],
      slots: this.slots.map((s, slot) => ({
        slot,
        knownTerm: s.knownTerm,
        forcedUpTo: s.forcedUpTo,
        promises: [...s.promises].map(([cand, p]) => ({ cand, term: p.term, own: p.own })),
        grant: s.grant ? { term: s.grant.term, holder: s.grant.holder } : undefined,
        myVotes: [...s.myVotes],
      })),
      lease: this.lease ? { ...this.lease } : undefined,
      collecting: this.collecting ? { slot: this.collecting.slot, term: this.collecting.term } : undefined,
    }
  }

  private restore(p: PersistedVote): void {
    if (p.wave) this.adoptWave(p.wave)
    this.retired = new Set(p.retired)
    for (const ps of p.slots) {
      const s = this.slots[ps.slot]
      if (!s) continue
      s.knownTerm = ps.knownTerm
      s.forcedUpTo = ps.forcedUpTo
      for (const pr of ps.promises) s.promises.set(pr.cand, { term: pr.term, own: pr.own, queryAt: this.now + this.cfg.staleQueryMs, queryEveryMs: this.cfg.staleQueryMs })
      if (ps.grant) s.grant = { ...ps.grant, queryAt: this.now + this.cfg.staleQueryMs, queryEveryMs: this.cfg.staleQueryMs }
      for (const [t, c] of ps.myVotes) s.myVotes.set(t, c)
    }
    this.lease = p.lease ? { ...p.lease } : undefined
    // An interrupted collection is not resumed as such: the reclaim path asks again for the same term.
    if (!p.memoryWhole) this.startRecovery(this.now)
  }

  private flushPersist(): void {
    if (!this.dirty || !this.wave) return
    this.dirty = false
    // Persist goes before every effect already queued in this step that sends something.
    const firstSend = this.effects.findIndex((e) => e.type === 'send' || e.type === 'broadcast' || e.type === 'lease-acquired')
    const eff: VoteEffect = { type: 'persist', key: `vote/${this.wave.id}`, state: this.snapshot() }
    if (firstSend < 0) this.effects.push(eff)
    else this.effects.splice(firstSend, 0, eff)
  }

  // ---- plumbing --------------------------------------------------------------------------------

  private sign<M extends VoteMessage>(m: Unsigned<M>): M {
    return { ...m, sig: this.keyring.sign(signingBytes(m as Unsigned<VoteMessage>)) } as unknown as M
  }

  private send(to: string, msg: VoteMessage): void {
    this.effects.push({ type: 'send', to, msg })
  }

  /** To a peer, or to ourselves at once (our own vote for our own request). */
  private deliver(to: string, msg: VoteMessage): void {
    if (to !== this.id) return this.send(to, msg)
    if (msg.k === 'vote') this.onVote(msg, false)
    else if (msg.k === 'nack') this.onNack(msg, false)
  }

  private broadcast(msg: VoteMessage): void {
    this.effects.push({ type: 'broadcast', msg })
  }

  private count(name: string): void {
    this.counters[name] = (this.counters[name] ?? 0) + 1
  }

  private drop(from: string, reason: DropReason | 'unknown-wave' | 'quiet', detail: string): void {
    this.count(`dropped.${reason}`)
    this.effects.push({ type: 'dropped', from, reason, detail })
  }
}

function newSlot(): SlotState {
  return { knownTerm: 0, forcedUpTo: 0, promises: new Map(), grant: undefined, myVotes: new Map(), resolutions: new Map(), leader: undefined }
}

/** Our votes at terms below every open promise and the last force can never be asked again. */
function pruneVotes(s: SlotState): void {
  if (s.myVotes.size < 32) return
  const keep = [...s.myVotes.keys()].sort((a, b) => b - a).slice(0, 16)
  for (const t of [...s.myVotes.keys()]) if (!keep.includes(t)) s.myVotes.delete(t)
}
