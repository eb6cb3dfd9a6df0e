/**
 * MeshNode: one agent's view of the cluster, as a deterministic state machine.
 *
 *   step(input, now) -> effects      (see mesh-types.ts for the driving rules)
 *
 * The state is owned by the instance and mutated in place (at N=1000 copying it per step
 * would dominate the simulator); the step is still pure in the sense that matters: no IO,
 * no clock, no global randomness — the same inputs give the same effects.
 *
 * Three protocols share it:
 * - Membership (SWIM + Lifeguard): each node probes its overlay neighbours round-robin;
 *   a failed probe (direct, then indirect) becomes a signed suspect claim; the subject
 *   refutes with a higher incarnation, or the accusers declare it dead when a suspicion
 *   timeout (shortened by independent confirmations) runs out.
 * - Dissemination (Plumtree): every new fact — a signed NodeRecord, a claim, an app
 *   broadcast — is pushed at once along the broadcast tree and announced lazily elsewhere.
 * - Anti-entropy (Scuttlebutt with bucket hashes): with one random neighbour per second,
 *   and with every new neighbour at once, so anything lost is repaired.
 *
 * No claim outlives its subject: incarnations start at a node's boot second, so a signed
 * record or claim whose incarnation its subject cannot have reached yet (see
 * `incarnationBound`) is dropped and counted, and every claim a member accepts is one its
 * subject can still outbid.
 */
import { BucketHashes, LIVENESS_CODE, livenessNewer, type AeEntry, type DigestEntry } from './anti-entropy.js'
import { aeEntry, answerDigest, digestMessages } from './anti-entropy-exchange.js'
import { DropReason } from './errors.js'
import type { MeshConfig } from './mesh-config.js'
import type { Liveness, MemberView, MeshEffect, MeshEvent, MeshInput, SelfPatch } from './mesh-types.js'
import { appBytes, claimBytes, type Claim, type MeshMessage, type OutMessage, type Update, updateId } from './messages.js'
import { newerThan, openRecord, signRecord, type NodeRecordBody, type VerifiedRecord } from './node-record.js'
import { Plumtree } from './plumtree.js'
import { pick, shuffle } from './random.js'
import { recordHead } from './record-head.js'
import type { Keyring, Logger, Rng } from './ports.js'
import { silentLogger } from './ports.js'
import type { Roster } from './roster.js'
import { suspicionTimeoutMs } from './suspicion.js'

export interface MeshNodeInit {
  /** This node's own record, without the fields the node manages itself. */
  self: Omit<NodeRecordBody, 'key' | 'inc' | 'ver'>
  config: MeshConfig
  roster: Roster
  keyring: Keyring
  rng: Rng
  logger?: Logger
}

interface Member {
  id: string
  status: Liveness
  statusInc: number
  statusSince: number
  /** The signed proof of a suspect/dead status (absent while alive). */
  claim: Claim | undefined
  record: VerifiedRecord | undefined
  updatedAt: number
  suspicion: { start: number; deadline: number; accusers: Set<string>; mine: boolean } | undefined
}

interface ProbeState {
  target: string
  seq: number
  phase: 'direct' | 'indirect'
  deadline: number
  /** Helpers that answered "I could not reach it either" (Lifeguard nacks). */
  nacks: number
  /** When the direct ping left, for the round-trip sample. */
  sentAt: number
}

/** Round-trip samples kept until an adapter takes them (drainProbeRtts); older ones are dropped past this. */
const MAX_RTT_SAMPLES = 1024

const APP_SEEN_TTL_MS = 10 * 60_000
const AWARENESS_MAX = 8

export class MeshNode {
  readonly id: string
  /** Dropped input by reason, plus a few activity counts; served by /v1/self. */
  readonly counters: Record<string, number> = {}
  /** Direct-probe round trips (ms) not yet taken by an adapter (the agent's /metrics histogram). */
  private rttSamples: number[] = []

  private readonly cfg: MeshConfig
  private readonly roster: Roster
  private readonly keyring: Keyring
  private readonly rng: Rng
  private readonly log: Logger
  private readonly members = new Map<string, Member>()
  private readonly hashes = new BucketHashes()
  private readonly tree: Plumtree
  private readonly neighbours = new Set<string>()
  private readonly pendingConnects = new Map<string, number>()
  /** Peers we dialled again after an unexpected disconnect, to learn whether they live. */
  private readonly checking = new Set<string>()
  /** Links closed on purpose (by us, or the peer said bye): not a failure. */
  private readonly intentional = new Set<string>()
  private readonly suspected = new Set<string>()
  private readonly relays = new Map<number, { origin: string; originSeq: number; deadline: number }>()
  private readonly seenApp = new Map<string, number>()
  private readonly badFrames = new Map<string, number>()
  private readonly ignoredTypes = new Set<string>()
  private selfRec: VerifiedRecord
  private probe: ProbeState | undefined
  private probeOrder: string[] = []
  private urgentProbe: string | undefined
  private seq = 0
  private appSeq = 0
  /**
   * Lifeguard's local health (0 = healthy, up to AWARENESS_MAX): raised when our own probes
   * fail or someone suspects us, lowered by each answered probe. Our probe interval and
   * timeout stretch by (awareness + 1): a node that is itself slow (GC, a loaded CPU)
   * stops accusing its peers of its own slowness.
   */
  private awareness = 0
  private nextProbeAt: number
  private nextAeAt: number
  private nextIhaveAt = Infinity
  private nextDeadProbeAt: number
  private nextSweepAt: number
  private out: MeshEffect[] = []

  constructor(init: MeshNodeInit, now: number) {
    this.cfg = init.config
    this.roster = init.roster
    this.keyring = init.keyring
    this.rng = init.rng
    this.log = init.logger ?? silentLogger
    this.id = init.self.id
    this.tree = new Plumtree(this.cfg.graftTimeoutMs)
    // A worker lives in RAM: it remembers no incarnation across reboots. Starting from
    // the clock's seconds makes a rebooted node's facts newer than its old ones at once;
    // refutation (below) covers a clock that went backwards.
    this.selfRec = signRecord(
      { ...init.self, key: this.keyring.publicKey, inc: Math.floor(now / 1000), ver: Math.max(1, Math.floor(now)) },
      this.keyring,
    )
    this.upsertSelf(now)
    // Spread timer phases so that simulated nodes started together do not tick together.
    this.nextProbeAt = now + this.rng.int(this.cfg.probeIntervalMs)
    this.nextAeAt = now + this.rng.int(this.cfg.antiEntropyIntervalMs)
    this.nextDeadProbeAt = now + this.cfg.deadProbeIntervalMs + this.rng.int(this.cfg.deadProbeIntervalMs)
    this.nextSweepAt = now + 10_000
  }

  // ---------------------------------------------------------------- public face

  step(input: MeshInput, now: number): MeshEffect[] {
    this.out = []
    switch (input.type) {
      case 'tick':
        break
      case 'message':
        this.onMessage(input.from, input.msg, now)
        break
      case 'bad-frame':
        this.onBadFrame(input.from, input.reason, input.detail)
        break
      case 'connected':
        this.onConnected(input.peer, now)
        break
      case 'disconnected':
        this.onDisconnected(input.peer, now)
        break
      case 'update-self':
        this.updateSelf(input.patch, now)
        break
      case 'broadcast':
        this.broadcastApp(input.topic, input.body, now)
        break
      case 'send-app':
        if (this.neighbours.has(input.to)) this.send(input.to, { t: 'app', topic: input.topic, body: input.body })
        else if (input.to !== this.id) this.broadcastApp(input.topic, input.body, now, input.to)
        break
    }
    this.runTimers(now)
    return this.out
  }

  nextWakeAt(): number {
    let t = Math.min(this.nextProbeAt, this.nextAeAt, this.nextIhaveAt, this.nextDeadProbeAt, this.nextSweepAt, this.tree.nextDeadline())
    if (this.probe) t = Math.min(t, this.probe.deadline)
    for (const id of this.suspected) {
      const s = this.members.get(id)?.suspicion
      if (s) t = Math.min(t, s.deadline)
    }
    for (const r of this.relays.values()) t = Math.min(t, r.deadline)
    return t
  }

  /** Every member this node knows, itself included. */
  view(): MemberView[] {
    const out: MemberView[] = []
    for (const m of this.members.values()) out.push(this.memberView(m))
    return out
  }

  member(id: string): MemberView | undefined {
    const m = this.members.get(id)
    return m ? this.memberView(m) : undefined
  }

  self(): NodeRecordBody {
    return this.selfRec.body
  }

  /** Current overlay neighbours (connected peers). */
  peers(): string[] {
    return [...this.neighbours]
  }

  // ---------------------------------------------------------------- inputs

  private onMessage(from: string, msg: MeshMessage, now: number): void {
    this.count('messages-in')
    switch (msg.t) {
      case 'ping':
        this.send(from, { t: 'ack', seq: msg.seq })
        return
      case 'ack':
        return this.onAck(msg.seq, now)
      case 'ping-req': {
        if (!this.neighbours.has(msg.target)) {
          this.send(from, { t: 'nack', seq: msg.seq })
          return
        }
        const seq = this.nextSeq()
        this.relays.set(seq, { origin: from, originSeq: msg.seq, deadline: now + this.cfg.probeTimeoutMs })
        this.send(msg.target, { t: 'ping', seq })
        return
      }
      case 'nack':
        this.count('nacks-in')
        if (this.probe && this.probe.seq === msg.seq) this.probe.nacks++
        return
      case 'gossip': {
        const result = this.applyUpdate(msg.u, from, now)
        if (result === 'new') this.disseminate(msg.u, from, msg.h + 1, now)
        else if (result === 'dup' && this.tree.eager.has(from)) {
          this.tree.demote(from)
          this.send(from, { t: 'prune' })
        }
        return
      }
      case 'ihave':
        for (const id of msg.ids) if (!this.knows(id)) this.tree.heardOf(id, from, now)
        return
      case 'graft':
        this.tree.promote(from)
        for (const id of msg.ids) {
          const u = this.tree.cached(id) ?? this.currentFor(id)
          if (u) this.send(from, { t: 'gossip', h: 0, u })
        }
        return
      case 'prune':
        this.tree.demote(from)
        return
      case 'bye':
        this.intentional.add(from)
        return
      case 'ae-sum': {
        const buckets = this.hashes.differing(msg.b)
        if (buckets.length > 0) this.sendDigests(from, buckets, true)
        return
      }
      case 'ae-dig':
        return this.onDigest(from, msg.buckets, msg.e, msg.reply)
      case 'ae-delta':
        // Facts the sender holds about itself (a joiner's record) are news for everyone:
        // push them eagerly. Second-hand repairs go out lazily (IHAVE): the neighbours are
        // likely repairing the same facts by anti-entropy, and eager copies would storm.
        for (const u of msg.u) {
          if (this.applyUpdate(u, from, now) !== 'new') continue
          this.disseminate(u, from, 1, now, this.originOf(u) === from ? 'eager' : 'lazy')
        }
        return
      case 'app':
        this.emit({ type: 'app', from, topic: msg.topic, body: msg.body, direct: true })
        return
    }
  }

  private onBadFrame(from: string, reason: string, detail: string): void {
    // decodeMessage names an unknown type in `detail`.
    if (reason === DropReason.unknownType) return this.ignoreType(from, detail)
    this.drop(from, reason, detail)
  }

  private onConnected(peer: string, now: number): void {
    if (peer === this.id) return
    this.pendingConnects.delete(peer)
    this.checking.delete(peer)
    this.intentional.delete(peer)
    this.neighbours.add(peer)
    this.tree.addNeighbour(peer)
    // A fresh link starts with anti-entropy (a joiner learns the cluster, the cluster the
    // joiner), opened by one side only: both would run the full exchange twice.
    if (this.id < peer) this.send(peer, { t: 'ae-sum', b: this.hashes.toBytes() })
    if (this.neighbours.size > this.cfg.maxDegree) this.trimOverlay()
  }

  private onDisconnected(peer: string, now: number): void {
    const wasNeighbour = this.neighbours.delete(peer)
    const wasPending = this.pendingConnects.delete(peer)
    this.tree.removeNeighbour(peer)
    if (this.probe?.target === peer) this.probe = undefined
    if (this.intentional.delete(peer)) return
    const m = this.members.get(peer)
    if (this.checking.delete(peer)) {
      // We dialled it again to see whether it lives, and could not reach it.
      if (m && m.status === 'alive') this.accuse(m, now)
      return
    }
    if (wasNeighbour && !wasPending && m && m.status !== 'dead') {
      // The link broke without a goodbye: either the peer died or the path did. Dial once.
      this.checking.add(peer)
      this.dial(peer, now)
    }
  }

  // ---------------------------------------------------------------- self

  private updateSelf(patch: SelfPatch, now: number): void {
    const body = { ...this.selfRec.body, ...patch, ver: Math.max(this.selfRec.body.ver + 1, Math.floor(now)) }
    this.publishSelf(body, now)
  }

  private publishSelf(body: NodeRecordBody, now: number): void {
    this.selfRec = signRecord(body, this.keyring)
    this.upsertSelf(now)
    const u: Update = { k: 'rec', rec: this.selfRec.signed }
    this.disseminate(u, undefined, 0, now)
  }

  private upsertSelf(now: number): void {
    let m = this.members.get(this.id)
    if (!m) {
      m = { id: this.id, status: 'alive', statusInc: 0, statusSince: now, claim: undefined, record: undefined, updatedAt: now, suspicion: undefined }
      this.members.set(this.id, m)
    }
    m.record = this.selfRec
    m.status = 'alive'
    m.statusInc = this.selfRec.body.inc
    m.claim = undefined
    m.updatedAt = now
    this.hashes.set(this.entryOf(m))
  }

  /**
   * The highest plausible incarnation, by the receiver's clock (`now`), with S the allowed
   * clock skew in seconds. A node's first incarnation is its boot second (the constructor)
   * and only refutation raises it, one above the claim it answers:
   * - 'claim' (about another node): its subject booted by now, on a clock at most S ahead: now + S.
   * - 'own-claim' (about this node): what any member — whose clock may be S ahead of ours —
   *   accepts as a claim: now + 2S. We refute everything up to it.
   * - 'record': our refutation of such a claim, seen from a clock up to S behind ours:
   *   now + 3S + 1. So every claim a member accepts is outbid by a record every member accepts.
   */
  private incarnationBound(kind: 'claim' | 'own-claim' | 'record', now: number): number {
    const s = Math.ceil(this.cfg.maxClockSkewMs / 1000)
    const nowS = Math.floor(now / 1000)
    return kind === 'claim' ? nowS + s : kind === 'own-claim' ? nowS + 2 * s : nowS + 3 * s + 1
  }

  /** Someone holds a fact about us at least as new as ours: outbid it (SWIM refutation). */
  private refute(inc: number, ver: number, now: number): void {
    const b = this.selfRec.body
    const newInc = Math.max(b.inc, inc + 1)
    if (newInc > Number.MAX_SAFE_INTEGER) {
      // Unreachable behind incarnationBound; a record there would not even encode.
      this.count('refutations-impossible')
      return
    }
    this.log.info({ component: 'mesh', node: this.id, inc: newInc }, 'refuting a claim about this node')
    this.count('refutations')
    this.awareness = Math.min(AWARENESS_MAX, this.awareness + 1)
    this.publishSelf({ ...b, inc: newInc, ver: Math.max(b.ver + 1, ver + 1, Math.floor(now)) }, now)
  }

  // ---------------------------------------------------------------- facts

  /** Applies one update; 'new' means it changed our state and should travel on, 'dup' that we held it already. */
  private applyUpdate(u: Update, from: string, now: number): 'new' | 'dup' | 'bad' | 'skip' {
    switch (u.k) {
      case 'rec':
        return this.applyRecord(u.rec, from, now)
      case 'claim':
        return this.applyClaim(u, from, now)
      case 'app':
        return this.applyApp(u, from, now)
    }
  }

  private applyRecord(signed: VerifiedRecord['signed'], from: string, now: number): 'new' | 'dup' | 'bad' {
    // Most copies are duplicates: compare the unverified head first, verify only news.
    const head = recordHead({ k: 'rec', rec: signed })
    const held = head && head.id !== this.id ? this.members.get(head.id)?.record?.body : undefined
    if (head && held && !newerThan(head, held)) return 'dup'
    const check = openRecord(signed, this.keyring)
    if (!check.ok) {
      this.drop(from, check.reason, 'record')
      return 'bad'
    }
    const body = check.record.body
    if (!this.roster.admits(body.id, body.key)) {
      this.drop(from, DropReason.notOnRoster, `record of ${body.id}`)
      return 'bad'
    }
    if (body.inc > this.incarnationBound('record', now)) {
      this.dropImplausible(from, `record of ${body.id} at incarnation ${body.inc}`)
      return 'bad'
    }
    if (body.id === this.id) {
      if (body.key === this.keyring.publicKey && newerThan(body, this.selfRec.body)) this.refute(body.inc, body.ver, now)
      return 'dup'
    }
    let m = this.members.get(body.id)
    if (m?.record && !newerThan(body, m.record.body)) return 'dup'
    const previous = m?.record?.body
    if (!m) {
      m = { id: body.id, status: 'alive', statusInc: body.inc, statusSince: now, claim: undefined, record: undefined, updatedAt: now, suspicion: undefined }
      this.members.set(body.id, m)
      this.emit({ type: 'member', id: body.id, status: 'alive', previous: undefined, inc: body.inc })
    } else if (body.inc > m.statusInc || (m.status === 'alive' && body.inc >= m.statusInc)) {
      this.setStatus(m, 'alive', body.inc, undefined, now)
    }
    m.record = check.record
    m.updatedAt = now
    this.hashes.set(this.entryOf(m))
    this.emit({ type: 'record', id: body.id, record: body, previous })
    return 'new'
  }

  private applyClaim(c: Claim, from: string, now: number): 'new' | 'dup' | 'bad' | 'skip' {
    const key = this.roster.keyOf(c.by)
    if (!key || !this.roster.keyOf(c.about)) {
      this.drop(from, DropReason.notOnRoster, `claim by ${c.by} about ${c.about}`)
      return 'bad'
    }
    // Most copies of a claim are duplicates: verify only one that would change something.
    const verified = (): boolean => {
      if (this.keyring.verify(key, claimBytes(c), c.sig)) return true
      this.drop(from, DropReason.badSignature, `claim by ${c.by}`)
      return false
    }
    if (c.about === this.id) {
      if (c.inc < this.selfRec.body.inc) return 'dup'
      // Above what any member within the clock skew accepts: nobody believes it, and
      // outbidding it would put our own records out of everyone's reach.
      if (c.inc > this.incarnationBound('own-claim', now)) {
        this.dropImplausible(from, `claim by ${c.by} about this node at incarnation ${c.inc}`)
        return 'bad'
      }
      if (!verified()) return 'bad'
      this.refute(c.inc, 0, now)
      return 'dup'
    }
    const m = this.members.get(c.about)
    // A claim at the subject's own signed incarnation is always plausible; above it, only
    // up to what the subject could have reached by now.
    if (c.inc > Math.max(this.incarnationBound('claim', now), m?.record?.body.inc ?? 0)) {
      this.dropImplausible(from, `claim by ${c.by} about ${c.about} at incarnation ${c.inc}`)
      return 'bad'
    }
    // A claim about a node whose record we have not seen yet: keep nothing (a member
    // without a record would never be announced to watchers); anti-entropy delivers the
    // record and, if still current, the claim.
    if (!m) return verified() ? 'skip' : 'bad'
    const code = LIVENESS_CODE[c.status]
    if (livenessNewer({ status: code, statusInc: c.inc }, { status: LIVENESS_CODE[m.status], statusInc: m.statusInc })) {
      if (!verified()) return 'bad'
      this.setStatus(m, c.status, c.inc, c, now)
      if (c.status === 'suspect') {
        const mine = c.by === this.id
        m.suspicion = { start: now, deadline: 0, accusers: new Set([c.by]), mine }
        m.suspicion.deadline = this.suspicionDeadline(m)
        this.suspected.add(m.id)
        if (!mine && this.neighbours.has(m.id)) this.urgentProbe = m.id
      }
      this.hashes.set(this.entryOf(m))
      return 'new'
    }
    if (c.status === 'suspect' && m.status === 'suspect' && m.statusInc === c.inc && m.suspicion && !m.suspicion.accusers.has(c.by)) {
      if (!verified()) return 'bad'
      // An independent suspicion of the same incarnation: a Lifeguard confirmation.
      m.suspicion.accusers.add(c.by)
      if (c.by === this.id) m.suspicion.mine = true
      m.suspicion.deadline = this.suspicionDeadline(m)
      return 'new'
    }
    return 'dup'
  }

  private applyApp(a: Extract<Update, { k: 'app' }>, from: string, now: number): 'new' | 'dup' | 'bad' {
    const key = this.roster.keyOf(a.origin)
    if (!key) {
      this.drop(from, DropReason.notOnRoster, `app broadcast from ${a.origin}`)
      return 'bad'
    }
    const id = updateId(a)
    if (this.seenApp.has(id) || a.origin === this.id) return 'dup'
    if (!this.keyring.verify(key, appBytes(a), a.sig)) {
      this.drop(from, DropReason.badSignature, `app broadcast from ${a.origin}`)
      return 'bad'
    }
    this.seenApp.set(id, now + APP_SEEN_TTL_MS)
    if (a.to === undefined) this.emit({ type: 'app', from: a.origin, topic: a.topic, body: a.body, direct: false })
    else if (a.to === this.id) this.emit({ type: 'app', from: a.origin, topic: a.topic, body: a.body, direct: true })
    return 'new'
  }

  private setStatus(m: Member, status: Liveness, inc: number, claim: Claim | undefined, now: number): void {
    const previous = m.status
    m.statusInc = inc
    m.claim = claim
    if (status !== 'suspect' && m.suspicion) {
      m.suspicion = undefined
      this.suspected.delete(m.id)
    }
    if (previous === status) return
    m.status = status
    m.statusSince = now
    this.log.info({ component: 'mesh', node: this.id, member: m.id, status, inc }, `member ${status}`)
    this.emit({ type: 'member', id: m.id, status, previous, inc })
    if (status === 'dead' && this.neighbours.has(m.id)) this.closeLink(m.id, 'declared dead')
  }

  private suspicionDeadline(m: Member): number {
    const s = m.suspicion!
    const base = {
      clusterSize: this.members.size,
      probeIntervalMs: this.cfg.probeIntervalMs,
      minMult: this.cfg.suspicionMinMult,
      maxMult: this.cfg.suspicionMaxMult,
      confirmationsWanted: this.cfg.suspicionConfirmations,
    }
    // Accusers time out on Lifeguard's schedule; everyone else waits the longest time, as
    // a backstop, so a crash yields a handful of dead claims rather than one per node.
    const ms = s.mine
      ? suspicionTimeoutMs({ ...base, confirmations: s.accusers.size - 1 })
      : suspicionTimeoutMs({ ...base, confirmations: 0 }) + this.cfg.probeIntervalMs
    return s.start + ms
  }

  /** Our own probe of `m` failed: sign a suspect claim and spread it. */
  private accuse(m: Member, now: number): void {
    if (m.status === 'dead') return
    this.originate(this.signClaim(m.id, Math.max(m.statusInc, m.record?.body.inc ?? 0), 'suspect'), now)
  }

  private signClaim(about: string, inc: number, status: 'suspect' | 'dead'): Claim {
    const c = { about, inc, status, by: this.id }
    return { k: 'claim', ...c, sig: this.keyring.sign(claimBytes(c)) }
  }

  private broadcastApp(topic: string, body: Uint8Array, now: number, to?: string): void {
    this.appSeq = Math.max(this.appSeq + 1, Math.floor(now))
    const a = to === undefined ? { origin: this.id, seq: this.appSeq, topic, body } : { origin: this.id, seq: this.appSeq, topic, to, body }
    const u: Update = { k: 'app', ...a, sig: this.keyring.sign(appBytes(a)) }
    this.seenApp.set(updateId(u), now + APP_SEEN_TTL_MS)
    this.disseminate(u, undefined, 0, now)
  }

  /** Applies a fact we made ourselves and, if it changed anything, spreads it. */
  private originate(u: Update, now: number): void {
    if (this.applyUpdate(u, this.id, now) === 'new') this.disseminate(u, undefined, 0, now)
  }

  /** Plumtree: eager push now (or, for second-hand repairs, only an announcement to all), lazy announcement soon. */
  private disseminate(u: Update, from: string | undefined, hops: number, now: number, mode: 'eager' | 'lazy' = 'eager'): void {
    const id = this.idOf(u)
    this.tree.delivered(id, u, now)
    if (mode === 'eager') {
      for (const p of this.tree.eager) if (p !== from) this.send(p, { t: 'gossip', h: Math.min(hops, 255), u })
      this.tree.announce(id, from)
    } else {
      this.tree.announce(id, from, true)
    }
    if (this.tree.hasQueuedAnnouncements() && this.nextIhaveAt === Infinity) this.nextIhaveAt = now + this.cfg.ihaveIntervalMs
  }

  // ---------------------------------------------------------------- knowledge by id

  private originOf(u: Update): string | undefined {
    if (u.k === 'rec') return recordHead(u)?.id
    return u.k === 'claim' ? u.by : u.origin
  }

  private idOf(u: Update): string {
    if (u.k !== 'rec') return updateId(u)
    return updateId(u, recordHead(u))
  }

  /** Do we already hold the fact an IHAVE id names (or a newer one)? */
  private knows(id: string): boolean {
    const parts = id.split(':')
    if (parts[0] === 'r') {
      const m = this.members.get(parts[1] ?? '')
      const r = m?.record?.body
      if (parts[1] === this.id) return true
      return !!r && !newerThan({ inc: Number(parts[2]), ver: Number(parts[3]) }, r)
    }
    if (parts[0] === 'c') {
      if (parts[1] === this.id) return true
      const m = this.members.get(parts[1] ?? '')
      if (!m) return false
      const code = parts[3] === 'dead' ? 2 : 1
      const inc = Number(parts[2])
      if (livenessNewer({ status: code, statusInc: inc }, { status: LIVENESS_CODE[m.status], statusInc: m.statusInc })) return false
      if (code === 1 && m.status === 'suspect' && m.statusInc === inc && m.suspicion && !m.suspicion.accusers.has(parts[4] ?? '')) return false
      return true
    }
    return this.seenApp.has(id)
  }

  /** For a GRAFT of an id we no longer cache: our current fact about that node, if any. */
  private currentFor(id: string): Update | undefined {
    const parts = id.split(':')
    const m = this.members.get(parts[1] ?? '')
    if (!m) return undefined
    if (parts[0] === 'r' && m.record) return { k: 'rec', rec: m.record.signed }
    if (parts[0] === 'c' && m.claim) return m.claim
    return undefined
  }

  // ---------------------------------------------------------------- anti-entropy

  private entryOf(m: Member): AeEntry {
    return aeEntry(m)
  }

  private sendDigests(to: string, buckets: number[], reply: boolean): void {
    for (const msg of digestMessages(this.members.values(), buckets, reply)) this.send(to, msg)
  }

  private onDigest(from: string, buckets: number[], entries: DigestEntry[], reply: boolean): void {
    const { deltas, digestBack } = answerDigest(this.members.values(), (id) => this.members.get(id), buckets, entries, reply)
    for (const msg of deltas) this.send(from, msg)
    if (digestBack) this.sendDigests(from, digestBack, false)
  }

  // ---------------------------------------------------------------- probing

  private onAck(seq: number, now: number): void {
    if (this.probe && this.probe.seq === seq) {
      if (this.probe.phase === 'direct') {
        if (this.rttSamples.length >= MAX_RTT_SAMPLES) this.rttSamples.shift()
        this.rttSamples.push(Math.max(0, now - this.probe.sentAt))
      }
      this.probe = undefined
      this.awareness = Math.max(0, this.awareness - 1)
      return
    }
    const relay = this.relays.get(seq)
    if (relay) {
      this.relays.delete(seq)
      this.send(relay.origin, { t: 'ack', seq: relay.originSeq })
    }
  }

  private startProbe(now: number): void {
    if (this.probe) return
    let target = this.urgentProbe
    this.urgentProbe = undefined
    if (!target || !this.neighbours.has(target)) target = this.nextProbeTarget()
    if (!target) return
    const seq = this.nextSeq()
    this.probe = { target, seq, phase: 'direct', deadline: now + this.cfg.probeTimeoutMs * (this.awareness + 1), nacks: 0, sentAt: now }
    this.send(target, { t: 'ping', seq })
  }

  private nextProbeTarget(): string | undefined {
    for (let tries = 0; tries < 2; tries++) {
      while (this.probeOrder.length > 0) {
        const t = this.probeOrder.pop()!
        if (this.neighbours.has(t) && this.members.get(t)?.status !== 'dead') return t
      }
      // Round-robin over a fresh shuffle: every neighbour is probed once per round.
      this.probeOrder = shuffle([...this.neighbours], this.rng)
    }
    return undefined
  }

  private probeTimedOut(now: number): void {
    const p = this.probe!
    if (p.phase === 'direct' && this.cfg.indirectProbes > 0) {
      const helpers = shuffle(
        [...this.neighbours].filter((n) => n !== p.target),
        this.rng,
      ).slice(0, this.cfg.indirectProbes)
      if (helpers.length > 0) {
        p.phase = 'indirect'
        p.deadline = now + 2 * this.cfg.probeTimeoutMs * (this.awareness + 1)
        for (const h of helpers) this.send(h, { t: 'ping-req', seq: p.seq, target: p.target })
        return
      }
    }
    this.probe = undefined
    this.count('probe-failures')
    // Helpers that answered are alive and so are we; silence from them too points at us.
    if (p.phase === 'indirect' && p.nacks === 0) this.awareness = Math.min(AWARENESS_MAX, this.awareness + 1)
    const m = this.members.get(p.target)
    if (m) this.accuse(m, now)
  }

  // ---------------------------------------------------------------- overlay

  private dial(peer: string, now: number): void {
    if (this.pendingConnects.has(peer) || this.neighbours.has(peer)) return
    this.pendingConnects.set(peer, now + this.cfg.connectTimeoutMs)
    this.out.push({ type: 'connect', peer })
  }

  private closeLink(peer: string, reason: string): void {
    this.intentional.add(peer)
    this.neighbours.delete(peer)
    this.tree.removeNeighbour(peer)
    if (this.probe?.target === peer) this.probe = undefined
    this.out.push({ type: 'disconnect', peer, reason })
  }

  private trimOverlay(): void {
    const excess = this.neighbours.size - this.cfg.maxDegree
    if (excess <= 0) return
    for (const p of shuffle([...this.neighbours], this.rng).slice(0, excess)) {
      this.send(p, { t: 'bye' })
      this.closeLink(p, 'overlay above maximum degree')
    }
  }

  private maintainOverlay(now: number): void {
    for (const [peer, deadline] of this.pendingConnects) {
      if (deadline > now) continue
      this.pendingConnects.delete(peer)
      if (this.checking.delete(peer)) {
        const m = this.members.get(peer)
        if (m && m.status === 'alive') this.accuse(m, now)
      }
    }
    const want = this.cfg.targetDegree - this.neighbours.size - this.pendingConnects.size
    if (want > 0) {
      const candidates: string[] = []
      for (const m of this.members.values()) {
        if (m.id !== this.id && m.status === 'alive' && m.record && !this.neighbours.has(m.id) && !this.pendingConnects.has(m.id)) candidates.push(m.id)
      }
      for (const p of pick(candidates, want, this.rng)) this.dial(p, now)
    }
    this.trimOverlay()
  }

  // ---------------------------------------------------------------- timers

  private runTimers(now: number): void {
    if (this.probe && now >= this.probe.deadline) this.probeTimedOut(now)
    if (now >= this.nextProbeAt) {
      this.nextProbeAt = now + this.cfg.probeIntervalMs * (this.awareness + 1)
      this.maintainOverlay(now)
      this.startProbe(now)
    }
    for (const [seq, r] of this.relays) {
      if (r.deadline > now) continue
      this.relays.delete(seq)
      this.send(r.origin, { t: 'nack', seq: r.originSeq })
    }
    for (const id of [...this.suspected]) {
      const m = this.members.get(id)
      if (!m?.suspicion) {
        this.suspected.delete(id)
        continue
      }
      if (m.suspicion.deadline > now) continue
      this.suspected.delete(id)
      m.suspicion.deadline = Infinity
      this.originate(this.signClaim(id, m.statusInc, 'dead'), now)
    }
    const grafts = this.tree.dueGrafts(now)
    for (const [peer, ids] of grafts) {
      this.tree.promote(peer)
      this.send(peer, { t: 'graft', ids })
    }
    if (now >= this.nextIhaveAt) {
      this.nextIhaveAt = Infinity
      for (const [peer, ids] of this.tree.takeAnnouncements()) if (this.neighbours.has(peer)) this.send(peer, { t: 'ihave', ids })
    }
    if (now >= this.nextAeAt) {
      this.nextAeAt = now + this.cfg.antiEntropyIntervalMs
      const peer = pick([...this.neighbours], 1, this.rng)[0]
      if (peer) {
        this.count('anti-entropy-rounds')
        this.send(peer, { t: 'ae-sum', b: this.hashes.toBytes() })
      }
    }
    if (now >= this.nextDeadProbeAt) {
      this.nextDeadProbeAt = now + this.cfg.deadProbeIntervalMs
      const dead: string[] = []
      for (const m of this.members.values()) if (m.status === 'dead' && !this.pendingConnects.has(m.id)) dead.push(m.id)
      const p = pick(dead, 1, this.rng)[0]
      if (p) this.dial(p, now)
    }
    if (now >= this.nextSweepAt) {
      this.nextSweepAt = now + 10_000
      this.sweep(now)
    }
  }

  private sweep(now: number): void {
    this.tree.expire(now)
    for (const [id, exp] of this.seenApp) if (exp <= now) this.seenApp.delete(id)
    if (this.cfg.deadRetentionMs > 0) {
      for (const m of [...this.members.values()]) {
        if (m.status === 'dead' && now - m.statusSince > this.cfg.deadRetentionMs) {
          this.members.delete(m.id)
          this.hashes.delete(m.id)
        }
      }
    }
  }

  // ---------------------------------------------------------------- plumbing

  private send(to: string, msg: OutMessage): void {
    this.out.push({ type: 'send', to, msg })
  }

  private emit(event: MeshEvent): void {
    this.out.push({ type: 'event', event })
  }

  private count(name: string): number {
    return (this.counters[name] = (this.counters[name] ?? 0) + 1)
  }

  /**
   * An implausible incarnation is counted and logged, but not held against the peer that
   * passed it on: a signed claim travels through honest relays, whose clocks may differ.
   */
  private dropImplausible(from: string, detail: string): void {
    const reason = DropReason.implausibleIncarnation
    const n = this.count(`dropped.${reason}`)
    if (n === 1) this.log.warn({ component: 'mesh', node: this.id, peer: from, reason, detail }, 'dropped an implausible incarnation')
    this.emit({ type: 'dropped', from, reason, detail })
  }

  /**
   * A message type (or update kind) of a newer minor version: counted by type and ignored,
   * never held against the peer. Logged once per type.
   */
  private ignoreType(from: string, type: string): void {
    const known = this.ignoredTypes.has(type)
    if (!known && this.ignoredTypes.size >= 64) return void this.count('ignored-type.other')
    this.ignoredTypes.add(type)
    if (this.count(`ignored-type.${type}`) === 1) this.log.info({ component: 'mesh', node: this.id, peer: from, type }, 'ignoring a message type this version does not know (a newer minor version)')
  }

  /** Takes the direct-probe round trips (ms) measured since the last call. */
  drainProbeRtts(): number[] {
    const out = this.rttSamples
    this.rttSamples = []
    return out
  }

  private drop(from: string, reason: string, detail: string): void {
    this.count(`dropped.${reason}`)
    const n = (this.badFrames.get(from) ?? 0) + 1
    this.badFrames.set(from, n)
    // Log the first offence of a peer, then only when it is cut off: a noisy peer must not flood logs.
    if (n === 1) this.log.warn({ component: 'mesh', node: this.id, peer: from, reason, detail }, 'dropped bad input')
    this.emit({ type: 'dropped', from, reason, detail })
    if (n === this.cfg.maxBadFramesPerPeer && this.neighbours.has(from) && from !== this.id) {
      this.log.warn({ component: 'mesh', node: this.id, peer: from, count: n }, 'disconnecting a peer that keeps sending bad input')
      this.count('peers-cut-off')
      this.closeLink(from, 'too many bad frames')
    }
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) % 2 ** 32
    return this.seq
  }

  private memberView(m: Member): MemberView {
    return { id: m.id, status: m.status, inc: m.statusInc, updatedAt: m.updatedAt, statusSince: m.statusSince, record: m.record?.body }
  }
}
