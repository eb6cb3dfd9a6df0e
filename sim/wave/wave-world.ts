/**
 * WaveWorld: one simulated upgrade wave, on the engine's parts (virtual clock = EventQueue,
 * seeded SimRng, the network's fault model: planArrivals + Partitions), with the production
 * vote (agent/protocol/vote) in every node and in the coordinator.
 *
 * Modelling choice, for speed (10,000 seeds x 200 nodes): vote messages do not ride the
 * full mesh (SWIM + Plumtree) here. A mesh broadcast is modelled as one message to every
 * node, each copy independently subject to latency, loss, duplication, reordering and
 * partitions; a direct `send-app` as one message. Gossiped node state (image, Ready,
 * cordoned, health) reaches other nodes after `gossipDelayMs` (the mesh's measured
 * convergence), and not at all across a partition. The mesh itself is proven in its own
 * sim scenarios (sim/engine); what this world proves is the vote on top of it.
 *
 * Each node runs production's upgrade cycle (agent/protocol/upgrade-cycle, the machine
 * agent/upgrade/executor.ts drives with the real steps), here over the models: noout and
 * the joint ok-to-stop through the Ceph model, cordon and drain through the Kubernetes
 * model, the reboot as the machine going down. Availability is production's rule
 * (agent/protocol/availability.ts) over the model state. The sim has no operator to act on
 * a failed node, so its cycle policy has no drain deadline and no verify timeout (both are
 * pinned by the cycle's unit tests); polls are production's.
 */
import { EventQueue } from '../engine/event-queue.js'
import { Partitions, emptyNetworkStats, networkConfig, planArrivals, type NetworkConfig, type NetworkStats } from '../engine/network.js'
import { SimRng } from '../engine/rng.js'
import { uniformLatency } from '../engine/latency.js'
import { simPublicKey, simVoteKeyring } from './sim-vote-keyring.js'
import type { ClusterView, NodeFacts } from '../../agent/protocol/vote/cluster-view.js'
import { voteConfig, type VoteConfig } from '../../agent/protocol/vote/vote-config.js'
import type { VoteMessage } from '../../agent/protocol/vote/vote-messages.js'
import { VoteNode, type Lease, type VoteEffect, type VoteInput } from '../../agent/protocol/vote/vote-node.js'
import { inCycle, isAvailable, pastReboot, type AvailabilityInput } from '../../agent/protocol/availability.js'
import { jointSet, slotHolders } from '../../agent/protocol/joint-safety.js'
import { defaultCyclePolicy, idleCycle, stepCycle, type CycleAction, type CycleInput, type CyclePolicy } from '../../agent/protocol/upgrade-cycle/index.js'
import type { Phase } from '../../agent/protocol/node-record.js'
import { CephModel } from '../models/ceph-model.js'
import { groupBlockers, neverStops } from '../../agent/protocol/stop-facts.js'
import { KubeModel } from '../models/kube-model.js'
import { InvariantChecker, WaveViolation } from './invariant-checker.js'
import { lowerBoundMs, replayCommand, type Range, type WaveSimConfig } from './wave-config.js'
import type { SimNode } from './sim-node.js'
import type { WaveResult, WaveRunOptions } from './wave-result.js'

export const COORDINATOR = 'coord'
const EPOCH = Date.UTC(2026, 0, 1)
const WAVE_START_MS = 10_000
const OLD = 'v1'
const TARGET = 'v2'
/** The cluster was up this long before the simulation begins (no cold start unless a scenario makes one). */
const BOOTED_BEFORE_MS = 3_600_000
/** A node's view version is shared version x OWN_VERSIONS + its own changes (fewer than this per run). */
const OWN_VERSIONS = 1_000_000

/**
 * Production's cycle policy, without the two limits only an operator can act on (see the
 * header). The post gate's poll is only a backstop here: the world pokes the cycle at every
 * change of the gate's inputs (kubelet Ready, a recovery finishing), which is when a poll
 * would first see it pass — so a slow poll changes no timing and saves events.
 */
const SIM_CYCLE_POLICY: CyclePolicy = Object.freeze({ ...defaultCyclePolicy, drainDeadlineMs: Infinity, verifyTimeoutMs: Infinity, verifyPollMs: 60_000 })

const AVAILABILITY_SCRATCH: AvailabilityInput = { liveness: 'alive', phase: 'ready', health: 'ok', cordoned: false }

const SIM_PHASE: Record<SimNode['phase'], Phase> = { idle: 'ready', draining: 'draining', rebooting: 'rebooting', verifying: 'verifying', failed: 'failed' }

type Ev =
  | { k: 'msg'; to: string; inst: number; from: string; msg: VoteMessage }
  | { k: 'tick'; id: string; inst: number }
  | { k: 'call'; fn: () => void }

export class WaveWorld {
  readonly cfg: WaveSimConfig
  readonly seed: number
  readonly rng: SimRng
  private readonly netRng: SimRng
  private readonly drawRng: SimRng
  readonly net: NetworkConfig
  readonly netStats: NetworkStats = emptyNetworkStats()
  readonly partitions = new Partitions()
  readonly ceph: CephModel
  readonly kube: KubeModel
  readonly checker: InvariantChecker
  readonly voteCfg: VoteConfig
  readonly nodes = new Map<string, SimNode>()
  readonly order: SimNode[] = []
  private ids: string[] = []
  readonly coord: SimNode
  private readonly queue = new EventQueue<Ev>()
  t = 0
  private events = 0
  /** A run that needs more events than this is stuck in a loop (a bug): stop and say so. */
  maxEvents = 50_000_000
  private pokeAt = -Infinity
  private cephNextAt = Infinity
  private okCache = new Map<string, boolean>()
  /** ClusterView.version, the shared part: a change became visible to the others, or the partitions changed. */
  private viewVersion = 0
  /** Each node's boot second, as the mesh shows it (the coordinator holds a wave back at a cold start). */
  private readonly bootSeconds = new Map<string, number>()
  /** visibleLog[v]: whose change took the shared view from version v to v+1 (undefined: a partition changed). */
  private readonly visibleLog: (string | undefined)[] = []
  /** Nodes whose latest change becomes visible to others at changedAt + gossipDelayMs, oldest first. */
  private pendingVisible: SimNode[] = []
  private okCacheVersion = -1
  readonly messagesByKind: Record<string, number> = {}
  leases = 0
  /** Times a holder's joint ok-to-stop said no and it waited (WaveResult.jointWaits). */
  jointWaits = 0
  faults: string[] = []
  healAt = Infinity
  waveStartAt = WAVE_START_MS
  completedAt: number | undefined
  /** The coordinator's start check refused the wave: it could never finish (why, and what to change). */
  refused: string | undefined
  maxUnavailable = 0

  constructor(cfg: WaveSimConfig, seed: number, opts: WaveRunOptions = {}) {
    this.cfg = cfg
    this.seed = seed
    const root = new SimRng(seed)
    this.rng = root.fork()
    this.netRng = root.fork()
    this.drawRng = root.fork()
    const f = cfg.faults
    this.net = networkConfig({
      latency: uniformLatency(cfg.latencyMs[0], cfg.latencyMs[1]),
      lossProbability: f.enabled ? this.rng.uniform(0, f.maxLoss) : 0,
      duplicateProbability: f.enabled ? this.rng.uniform(0, f.maxDuplicate) : 0,
      reorderProbability: f.enabled ? this.rng.uniform(0, f.maxReorder) : 0,
    })
    this.voteCfg = voteConfig({ maxDriftRatio: Math.max(1e-3, f.maxDriftRatio), ...cfg.vote })
    this.checker = new InvariantChecker(cfg.k, seed, () => this.t, opts.fullTrace, replayCommand(cfg, seed))
    if (opts.maxEvents) this.maxEvents = opts.maxEvents
    const hosts: { id: string; domain: string }[] = []
    for (let i = 0; i < cfg.nodes; i++) {
      const id = `n${String(i).padStart(String(cfg.nodes - 1).length, '0')}`
      hosts.push({ id, domain: `rack${i % cfg.domains}` })
    }
    this.ceph = new CephModel(hosts, { ...cfg.ceph, placeBy: cfg.ceph.placeBy }, seed)
    this.kube = new KubeModel(
      hosts.map((h) => h.id),
      cfg.kube,
      () => this.drawRng.next(),
    )
    const mk = (id: string, idx: number, domain: string): SimNode => {
      const n: SimNode = {
        id,
        idx,
        domain,
        image: OLD,
        up: true,
        inst: 0,
        boot: 0,
        vote: undefined,
        store: undefined,
        rho: f.enabled ? this.rng.uniform(-f.maxDriftRatio, f.maxDriftRatio) : 0,
        offsetMs: f.enabled ? this.rng.uniform(-f.maxOffsetMs, f.maxOffsetMs) : 0,
        kubeletReady: true,
        cordoned: false,
        phase: 'idle',
        lease: undefined,
        cycle: idleCycle,
        cycleInbox: [],
        cycling: false,
        cycleWakeAt: Infinity,
        pendingLease: undefined,
        view: undefined,
        waveReboot: false,
        returnsUnhealthy: false,
        permanentlyDead: false,
        retired: false,
        load: this.drawRng.next(),
        facts: undefined as unknown as NodeFacts,
        prev: undefined as unknown as NodeFacts,
        changedAt: -Infinity,
        ownVersion: 0,
        wakeAt: Infinity,
        lastTickAt: -1,
        ticksAtOnce: 0,
      }
      n.facts = this.computeFacts(n)
      n.prev = n.facts
      return n
    }
    hosts.forEach((h, i) => {
      const n = mk(h.id, i, h.domain)
      this.nodes.set(h.id, n)
      this.order.push(n)
    })
    this.ids = this.order.map((n) => n.id)
    this.coord = mk(COORDINATOR, -1, 'controller')
    this.nodes.set(COORDINATOR, this.coord)
    // Every agent started before the wave: nothing to relearn.
    for (const n of this.nodes.values()) this.bootVote(n, false)
    this.at(this.waveStartAt, () => this.publishWave())
    opts.script?.(this)
  }

  // ---- time ------------------------------------------------------------------------------

  localNow(n: SimNode): number {
    return EPOCH + this.t * (1 + n.rho) + n.offsetMs
  }

  private toSim(n: SimNode, local: number): number {
    return (local - EPOCH - n.offsetMs) / (1 + n.rho)
  }

  at(t: number, fn: () => void): void {
    this.queue.push(Math.max(t, this.t), { k: 'call', fn })
  }

  after(ms: number, fn: () => void): void {
    this.at(this.t + ms, fn)
  }

  draw(r: Range): number {
    return r[0] === r[1] ? r[0] : this.drawRng.uniform(r[0], r[1])
  }

  // ---- running ---------------------------------------------------------------------------

  /** Runs until the wave completes or `deadlineMs`; throws WaveViolation on a broken invariant. */
  run(deadlineMs: number): void {
    while (this.queue.size > 0 && this.completedAt === undefined && this.refused === undefined) {
      if (this.queue.peekAt() > deadlineMs) break
      const e = this.queue.pop()!
      this.t = e.at
      if (++this.events > this.maxEvents) throw new Error(`wave sim stuck: over ${this.maxEvents} events by ${this.t} ms (seed ${this.seed}); last: ${describe(e.item)}`)
      const ev = e.item
      switch (ev.k) {
        case 'msg': {
          const n = this.nodes.get(ev.to)!
          if (!n.up || n.inst !== ev.inst || !n.vote) {
            this.netStats.vanished++
            break
          }
          if (!this.partitions.reachable(ev.from, ev.to)) {
            this.netStats.cut++
            break
          }
          this.netStats.delivered++
          this.stepVote(n, { type: 'message', from: ev.from, msg: ev.msg })
          break
        }
        case 'tick': {
          const n = this.nodes.get(ev.id)!
          if (!n.up || n.inst !== ev.inst || !n.vote) break
          n.wakeAt = Infinity
          if (this.t === n.lastTickAt) {
            if (++n.ticksAtOnce > 1000) throw new Error(`wave sim: ${n.id} asks for ticks at ${this.t} ms without end (nextWakeAt does not advance; seed ${this.seed})`)
          } else {
            n.lastTickAt = this.t
            n.ticksAtOnce = 0
          }
          this.stepVote(n, { type: 'tick' })
          break
        }
        case 'call':
          ev.fn()
          break
      }
    }
  }

  result(violation?: WaveViolation, halted?: string): WaveResult {
    const lb = lowerBoundMs(this.cfg)
    const makespan = this.completedAt !== undefined ? this.completedAt - this.waveStartAt : undefined
    let voteMessages = 0
    for (const v of Object.values(this.messagesByKind)) voteMessages += v
    return {
      seed: this.seed,
      completed: this.completedAt !== undefined,
      makespanMs: makespan,
      lowerBoundMs: lb,
      ratio: makespan !== undefined ? makespan / lb : undefined,
      leases: this.leases,
      voteMessages,
      messagesByKind: { ...this.messagesByKind },
      maxHolders: this.checker.maxHolders,
      maxUnavailable: this.maxUnavailable,
      faults: this.faults,
      violation,
      halted,
      refused: this.refused,
      trace: this.checker.full,
      events: this.events,
      jointWaits: this.jointWaits,
    }
  }

  // ---- the vote in each node -----------------------------------------------------------------

  private bootVote(n: SimNode, mayHaveForgotten: boolean): void {
    // The agent's incarnation, as its mesh record shows it: a fresh process is a new one.
    if (mayHaveForgotten || !this.bootSeconds.has(n.id)) this.bootSeconds.set(n.id, Math.floor((mayHaveForgotten ? this.localNow(n) : EPOCH - BOOTED_BEFORE_MS) / 1000))
    n.inst++
    n.wakeAt = Infinity
    const view = this.viewFor(n)
    n.view = view
    n.vote = new VoteNode({
      id: n.id,
      role: n === this.coord ? 'coordinator' : 'node',
      keyring: simVoteKeyring(n.id),
      view,
      config: this.voteCfg,
      coordinatorKey: simPublicKey(COORDINATOR),
      now: this.localNow(n),
      persisted: n.store,
      mayHaveForgotten,
    })
    this.scheduleWake(n)
  }

  stepVote(n: SimNode, input: VoteInput): void {
    const v = n.vote
    if (!v) return
    const eff = v.step(input, this.localNow(n))
    for (const e of eff) this.effect(n, e)
    if (n.vote === v) {
      this.scheduleWake(n)
      this.maybeLeftover(n)
    }
  }

  private scheduleWake(n: SimNode): void {
    const v = n.vote
    if (!v) return
    const w = v.nextWakeAt()
    if (!Number.isFinite(w)) return
    const at = Math.max(this.t, this.toSim(n, w) + 1e-6)
    if (at >= n.wakeAt) return
    n.wakeAt = at
    this.queue.push(at, { k: 'tick', id: n.id, inst: n.inst })
  }

  private effect(n: SimNode, e: VoteEffect): void {
    switch (e.type) {
      case 'persist':
        n.store = e.state
        return
      case 'send':
        this.transmit(n, e.to, e.msg)
        return
      case 'broadcast':
        this.observeBroadcast(n, e.msg)
        for (const o of this.nodes.values()) if (o !== n) this.transmit(n, o.id, e.msg)
        return
      case 'lease-acquired':
        if (this.checker.acquired(e.lease)) this.leases++
        this.onLease(n, e.lease)
        return
      case 'lease-released':
        this.checker.resolved(n.id, e.lease.slot, e.lease.term, 'releases')
        return
      case 'lease-lost':
        this.checker.trace(`${n.id} lost slot ${e.lease.slot} term ${e.lease.term}: ${e.reason}`)
        this.onLeaseLost(n, e.lease)
        return
      case 'dropped':
        return
    }
  }

  /** Ground truth follows withdraws and force-releases as they leave their signer. */
  private observeBroadcast(n: SimNode, m: VoteMessage): void {
    if (m.k === 'wd') this.checker.resolved(m.cand, m.slot, m.term, 'withdraws')
    else if (m.k === 'force') this.checker.forceReleased(m.slot, m.term)
    else if (m.k === 'req' && this.checker.full) this.checker.trace(`${n.id} requests slot ${m.slot} term ${m.term}`)
    if (m.k === 'wd' && this.checker.full) this.checker.trace(`${n.id} withdraws slot ${m.slot} term ${m.term} (leader ${m.leader ?? '-'})`)
  }

  private transmit(from: SimNode, to: string, msg: VoteMessage): void {
    this.messagesByKind[msg.k] = (this.messagesByKind[msg.k] ?? 0) + 1
    this.netStats.sent++
    const dst = this.nodes.get(to)
    if (!dst || !dst.up) {
      this.netStats.vanished++
      return
    }
    if (!this.partitions.reachable(from.id, to)) {
      this.netStats.cut++
      return
    }
    // No per-link stream order: a broadcast crosses the mesh on different paths.
    const plan = planArrivals(this.net, this.netRng, this.netStats, this.t, 0)
    for (const at of plan.times) this.queue.push(at, { k: 'msg', to, inst: dst.inst, from: from.id, msg })
  }

  // ---- what each node sees -------------------------------------------------------------------

  private viewFor(self: SimNode): ClusterView {
    return {
      facts: (id) => {
        const o = this.nodes.get(id)
        if (!o || o === this.coord) return undefined
        if (o === self) return o.facts
        if (!this.partitions.reachable(self.id, id)) return undefined
        return this.t - o.changedAt < this.cfg.gossipDelayMs ? o.prev : o.facts
      },
      okToStop: (hosts) => this.okToStop(hosts),
      drainable: (id) => (this.nodes.has(id) && id !== COORDINATOR ? this.kube.drainable(id, this.t) : false),
      // Changes when what `self` sees may change: its own facts, or a change reaching it.
      version: () => this.currentViewVersion() * OWN_VERSIONS + self.ownVersion,
      changedSince: (since) => this.changedSince(self, since),
      bootSecond: (id) => this.bootSeconds.get(id),
    }
  }

  /** Who may look different to `self` since its view's version `since` (undefined: a partition changed what it can see at all). */
  private changedSince(self: SimNode, since: number): string[] | undefined {
    const now = this.currentViewVersion()
    const from = Math.floor(since / OWN_VERSIONS)
    if (from > now) return undefined
    const out: string[] = []
    for (let i = from; i < now; i++) {
      const id = this.visibleLog[i]
      if (id === undefined) return undefined
      out.push(id)
    }
    if (since % OWN_VERSIONS !== self.ownVersion) out.push(self.id)
    return out
  }

  /** The shared view changed: because of `id` (its change reached the others), or of everything (a partition). */
  private bumpView(id: string | undefined): void {
    this.visibleLog[this.viewVersion] = id
    this.viewVersion++
  }

  /** The view's version now: a change turns visible to the others once the gossip delay passed. */
  private currentViewVersion(): number {
    const q = this.pendingVisible
    while (q.length > 0 && this.t - q[0]!.changedAt >= this.cfg.gossipDelayMs) {
      const n = q.shift()!
      // What the others saw (prev) gives way to the latest facts: a version only if it matters.
      if (n.prev.available !== n.facts.available || n.prev.image !== n.facts.image) this.bumpView(n.id)
    }
    return this.viewVersion
  }

  private okToStop(hosts: readonly string[]): boolean {
    if (this.okCacheVersion !== this.ceph.version) {
      this.okCache.clear()
      this.okCacheVersion = this.ceph.version
    }
    const key = hosts.length === 1 ? hosts[0]! : hosts.length === 2 ? (hosts[0]! < hosts[1]! ? `${hosts[0]},${hosts[1]}` : `${hosts[1]},${hosts[0]}`) : [...hosts].sort().join(',')
    let v = this.okCache.get(key)
    if (v === undefined) {
      v = this.ceph.okToStop(hosts)
      this.okCache.set(key, v)
    }
    return v
  }

  private computeFacts(n: SimNode): NodeFacts {
    // Production's rule over the model: a kubelet not Ready is what makes a record critical.
    const a = AVAILABILITY_SCRATCH // hot: every refresh of every node; one object, refilled
    a.liveness = n.up ? 'alive' : 'dead'
    a.phase = SIM_PHASE[n.phase]
    a.health = n.kubeletReady ? 'ok' : 'critical'
    a.cordoned = n.cordoned
    const available = isAvailable(a)
    const healthy = n.up && n.kubeletReady && n.idx >= 0 && this.ceph.hostClean(n.id, this.t)
    return { id: n.id, image: n.image, domain: n.domain, available, healthy, pods: n.idx >= 0 ? this.kube.podCount(n.id) : 0, load: n.load, cycling: inCycle(a), rebooted: pastReboot(a) }
  }

  /** Re-reads a node's facts; a change reaches the others after the gossip delay. */
  refresh(n: SimNode): void {
    if (n === this.coord) return
    // Changes that turned visible before this one are logged first, whoever asked for the
    // version since: otherwise a node changing again after its last change turned visible,
    // with no version asked between, dropped that change from the log, and a vote's cached
    // roster pass kept the older facts until the next change (the log depended on when the
    // votes happened to look).
    this.currentViewVersion()
    const f = this.computeFacts(n)
    const o = n.facts
    if (f.available === o.available && f.healthy === o.healthy && f.image === o.image && f.pods === o.pods && f.cycling === o.cycling && f.rebooted === o.rebooted) return
    n.prev = this.t - n.changedAt < this.cfg.gossipDelayMs ? n.prev : n.facts
    n.facts = f
    n.changedAt = this.t
    if (f.available !== o.available || f.image !== o.image) n.ownVersion++ // the others see it later (currentViewVersion)
    const i = this.pendingVisible.indexOf(n)
    if (i >= 0) this.pendingVisible.splice(i, 1)
    this.pendingVisible.push(n)
    this.trackUnavailable()
    this.schedulePoke()
  }

  private trackUnavailable(): void {
    let u = 0
    for (const n of this.order) if (!n.retired && !n.facts.available) u++
    this.maxUnavailable = Math.max(this.maxUnavailable, u)
  }

  /** Tell every vote its view changed, once the change has been gossiped. */
  private schedulePoke(): void {
    const at = this.t + this.cfg.gossipDelayMs
    // A poke at or after `at` already covers this change (it is visible by then).
    if (this.pokeAt >= at) return
    this.pokeAt = at
    this.at(at, () => {
      if (this.pokeAt === at) this.pokeAt = -Infinity
      for (const n of this.nodes.values()) {
        if (!n.up || !n.vote) continue
        this.stepVote(n, { type: 'view-changed' })
        this.pokeCycle(n)
      }
      this.checkComplete()
    })
  }

  private cephChanged(): void {
    const next = this.ceph.advance(this.t)
    for (const n of this.order) {
      this.refresh(n)
      this.pokeCycle(n)
    }
    this.checkComplete()
    if (next < this.cephNextAt || this.cephNextAt <= this.t) {
      this.cephNextAt = next
      if (Number.isFinite(next)) this.at(next, () => this.cephChanged())
    }
  }

  // ---- the wave --------------------------------------------------------------------------

  private publishWave(): void {
    this.waveStartAt = this.t
    // The coordinator's start check, on what each agent would publish (agent/protocol/stop-facts.ts).
    const never = groupBlockers(new Map(this.order.map((n) => [n.id, neverStops(this.ceph.stopFacts(n.id))])))
    if (never.length > 0) {
      this.refused = `refused: the wave can never finish — ${never.map((g) => `${g.blocker.message} (${g.nodes.length} node(s)); fix: ${g.blocker.fix}`).join(' | ')}`
      this.checker.trace(`coordinator refuses wave w1 -> ${TARGET}: ${this.refused}`)
      return
    }
    this.checker.trace(`coordinator publishes wave w1 -> ${TARGET}, K=${this.cfg.k}, ${this.order.length} nodes, policy ${this.cfg.policy}`)
    this.stepVote(this.coord, {
      type: 'publish-wave',
      wave: {
        id: 'w1',
        target: TARGET,
        slots: this.cfg.k,
        policy: this.cfg.policy,
        roster: this.order.map((n) => ({ id: n.id, key: simPublicKey(n.id) })),
        coord: { id: COORDINATOR, key: simPublicKey(COORDINATOR) },
        startedAt: Math.floor(this.localNow(this.coord)),
      },
    })
  }

  checkComplete(): void {
    if (this.completedAt !== undefined || this.t < this.waveStartAt) return
    for (const n of this.order) {
      if (n.retired) continue
      if (n.image !== TARGET || !n.facts.healthy || !n.facts.available || n.lease) return
    }
    if (this.checker.holders().length > 0) return
    this.completedAt = this.t
    this.checker.trace(`wave complete: makespan ${((this.t - this.waveStartAt) / 1000).toFixed(1)} s`)
  }

  // ---- the upgrade cycle (production's machine over the models) ------------------------------

  private onLease(n: SimNode, lease: Lease): void {
    if (n === this.coord) return
    // Already carrying out this very lease (resumed after an agent restart): nothing new.
    if (n.lease && n.lease.slot === lease.slot && n.lease.term === lease.term && n.cycle.run) return
    if (n.cycle.run) {
      // Finishing something else first (a leftover cycle): this lease comes next.
      n.pendingLease = lease
      return
    }
    this.startCycle(n, lease, false)
  }

  private startCycle(n: SimNode, lease: Lease, resume: boolean): void {
    n.lease = lease
    n.pendingLease = undefined
    this.cycleInput(n, { type: 'lease', lease, target: TARGET, image: n.image, fence: this.fence(n), policy: SIM_CYCLE_POLICY, ...(resume ? { resume: true } : {}) })
  }

  private fence(n: SimNode): boolean {
    return !!n.lease && !!n.vote && n.vote.fenceValid(n.lease)
  }

  /**
   * Feeds the node's cycle one input and carries out its effects, as agent/upgrade/executor.ts
   * does; actions the models answer at once go straight back in. Re-entrant calls (a
   * release steps the vote, whose effects may start a cycle) queue behind the running one.
   */
  private cycleInput(n: SimNode, input: CycleInput): void {
    n.cycleInbox.push(input)
    if (n.cycling) return
    n.cycling = true
    try {
      for (let next = n.cycleInbox.shift(); next; next = n.cycleInbox.shift()) {
        const inst = n.inst
        const r = stepCycle(n.cycle, next, this.t)
        n.cycle = r.state
        for (const e of r.effects) {
          switch (e.type) {
            case 'phase':
              this.setPhase(n, e.phase, e.reason)
              break
            case 'log':
              if (e.level !== 'info') this.checker.trace(`${n.id} cycle: ${e.msg}`)
              break
            case 'release':
              this.checker.trace(`${n.id} passes its post-reboot gate: uncordon, unset noout, release`)
              this.stepVote(n, { type: 'gate', lease: e.lease, passed: true })
              break
            case 'wake':
              this.cycleWake(n, e.at)
              break
            case 'do': {
              const done = this.perform(n, e.action, inst)
              if (done) n.cycleInbox.push(done)
              break
            }
            case 'end':
              this.cycleEnded(n, e.outcome)
              break
          }
          if (n.inst !== inst) return // the machine went down (its reboot): RAM is gone
        }
      }
    } finally {
      n.cycling = false
      n.cycleInbox.length = 0
    }
  }

  private cycleEnded(n: SimNode, outcome: string): void {
    if (outcome !== 'rebooting') n.lease = undefined
    if (outcome === 'fenced' || outcome === 'finished') this.checker.trace(`${n.id} cycle ends: ${outcome}`)
    const next = n.pendingLease
    n.pendingLease = undefined
    if (next && n.vote?.fenceValid(next)) this.after(0, () => this.onLease(n, next))
  }

  /** Only the latest wake counts: a poke (a model change) may have run the check since. */
  private cycleWake(n: SimNode, at: number): void {
    n.cycleWakeAt = at
    const inst = n.inst
    this.at(at, () => {
      if (n.inst !== inst || !n.up || n.cycleWakeAt !== at) return
      n.cycleWakeAt = Infinity
      this.cycleInput(n, { type: 'tick', fence: this.fence(n) })
    })
  }

  /**
   * What a waiting gate depends on changed (Ceph, or a record reaching this node): the post
   * gate may pass now (kubelet Ready, PGs clean) — try it at once, as the next poll would;
   * a holder waiting at its pre-gate or joint check is poked, as production's executor is on
   * a view change (it tries again no sooner than pokeMinGapMs after its last try).
   */
  private pokeCycle(n: SimNode): void {
    const r = n.cycle.run
    if (!r || r.inFlight || !n.up || !n.vote) return
    if (r.step === 'post-gate') this.cycleInput(n, { type: 'tick', fence: this.fence(n) })
    else if (r.step === 'pre-gate' || r.step === 'joint-check') this.cycleInput(n, { type: 'poke', fence: this.fence(n) })
  }

  private setPhase(n: SimNode, phase: Phase, reason?: string): void {
    const p = phase === 'ready' || phase === 'joining' || phase === 'booting' || phase === 'leaving' ? 'idle' : phase
    if (reason && this.checker.full) this.checker.trace(`${n.id} ${phase}: ${reason}`)
    if (p === n.phase) return
    n.phase = p
    this.refresh(n)
  }

  /** The joint ok-to-stop of `n` in its own view: itself plus everyone it sees down, holding or rebooting. */
  private jointVerdict(n: SimNode, what: string): { pass: boolean; reasons: string[] } {
    const view = n.view
    const holders = n.vote ? slotHolders(n.vote.view().slots) : []
    const set = jointSet({
      self: n.id,
      ids: this.ids,
      unavailable: (id) => !(view?.facts(id)?.available ?? false),
      // Ground truth here: the model counts a down host as stopped whether it is listed or not.
      down: (id) => !this.nodes.get(id)!.up,
      holders,
      // What its record shows, as n sees it (gossip-delayed): a holder even if n's vote missed the grant.
      cycling: (id) => view?.facts(id)?.cycling === true,
      rebooted: (id) => view?.facts(id)?.rebooted === true,
    })
    // The model itself (not the voters' cached port): what the holder asks is Ceph, live.
    if (this.ceph.okToStop([n.id, ...set])) return { pass: true, reasons: [] }
    this.jointWaits++
    const why = `Ceph not ok-to-stop jointly with ${set.join(',') || 'nobody'}`
    this.checker.trace(`${n.id} ${what}: ${why}`)
    return { pass: false, reasons: [why] }
  }

  /** One action on the models. Returns its `done` when it finished at once, or undefined (it answers later). */
  private perform(n: SimNode, a: CycleAction, inst: number): CycleInput | undefined {
    const done = (extra: Partial<Extract<CycleInput, { type: 'done' }>> = {}): CycleInput => ({ type: 'done', step: a.step, fence: this.fence(n), ...extra })
    switch (a.step) {
      case 'pre-gate':
        return done({ verdict: this.jointVerdict(n, 'waits before noout') })
      case 'joint-check':
        return done({ verdict: this.jointVerdict(n, 'waits before its reboot') })
      case 'post-gate':
        return done({ verdict: n.kubeletReady && this.ceph.hostClean(n.id, this.t) ? { pass: true, reasons: [] } : { pass: false, reasons: ['not back yet'] } })
      case 'set-noout':
        this.ceph.setNoout(n.id, true)
        return done()
      case 'clear-noout':
        this.ceph.setNoout(n.id, false)
        return done()
      case 'cordon':
        n.cordoned = true
        this.kube.setCordoned(n.id, true)
        this.checker.trace(`${n.id} noout + cordon, draining ${this.kube.podCount(n.id)} pods`)
        this.refresh(n)
        return done()
      case 'uncordon':
        n.cordoned = false
        this.kube.setCordoned(n.id, false)
        this.refresh(n)
        return done()
      case 'drain':
        if (a.force) {
          this.kube.evacuate(n.id, this.t, () => this.draw(this.cfg.podStartMs))
          this.refresh(n)
          return done({ drain: { ok: true, blocking: [] } })
        }
        this.drainStep(n, inst, this.t + a.deadlineMs)
        return undefined
      case 'assign':
        return done()
      case 'reboot':
        this.rebootForWave(n)
        return undefined
    }
  }

  /** One pass of the drain through the Kubernetes model; answers the cycle when done (or at the deadline). */
  private drainStep(n: SimNode, inst: number, deadline: number): void {
    if (!n.up || n.inst !== inst) return
    const r = this.kube.evict(n.id, this.t, () => this.draw(this.cfg.podStartMs))
    this.refresh(n)
    this.schedulePoke() // PDB budgets changed for everyone
    const answer = (drain: { ok: boolean; blocking: string[] }) => {
      if (!n.up || n.inst !== inst) return
      this.cycleInput(n, { type: 'done', step: 'drain', fence: this.fence(n), drain })
    }
    if (r.left > 0) {
      if (r.retryAt >= deadline) return this.at(deadline, () => answer({ ok: false, blocking: [`${this.kube.podCount(n.id)} pod(s)`] }))
      return this.at(r.retryAt, () => this.drainStep(n, inst, deadline))
    }
    this.after(this.draw(this.cfg.drainGraceMs), () => answer({ ok: true, blocking: [] }))
  }

  private rebootForWave(n: SimNode): void {
    this.checker.waveReboot(n.id, n.lease, this.fence(n))
    this.checker.trace(`${n.id} reboots for the wave (slot ${n.lease!.slot} term ${n.lease!.term})`)
    n.waveReboot = true
    const inactive = this.ceph.hostDown(n.id, this.t)
    this.checker.pgsInactivated(n.id, inactive, (p) => this.ceph.pgHosts(p))
    this.machineDown(n)
    const downFor = this.draw(this.cfg.rebootMs)
    this.after(downFor, () => this.machineUp(n))
  }

  private onLeaseLost(n: SimNode, lease: Lease): void {
    // The cycle sees it at its next fence check (as in production); a lease queued behind another run is dropped.
    if (n.pendingLease && n.pendingLease.slot === lease.slot && n.pendingLease.term === lease.term) n.pendingLease = undefined
  }

  /**
   * After every vote step, as agent/upgrade/upgrade-agent.ts's maybeReady: a node that is
   * cordoned for a cycle but holds no lease (its reclaim failed, or an operator
   * force-released it, while it was down) finishes that cycle as a leftover — post gate,
   * uncordon, clear noout, nothing to release. (In the sim only the cycle cordons.)
   */
  private maybeLeftover(n: SimNode): void {
    if (n === this.coord || !n.cordoned || n.cycle.run || n.cycling || n.pendingLease) return
    const v = n.vote
    if (!v || v.abstaining || v.busy || v.currentLease()) return
    this.cycleInput(n, { type: 'leftover', mark: 'sim', policy: SIM_CYCLE_POLICY })
  }

  /** A machine stops: RAM (vote state, Store, executor state) is gone. */
  machineDown(n: SimNode): void {
    if (!n.up) return
    n.up = false
    n.vote = undefined
    n.store = undefined
    n.inst++
    n.boot++
    n.kubeletReady = false
    n.lease = undefined
    n.cycle = idleCycle
    n.pendingLease = undefined
    n.cycleWakeAt = Infinity
    if (n !== this.coord) {
      this.kube.setReady(n.id, false)
      if (this.kube.podCount(n.id) > 0) this.kube.evacuate(n.id, this.t, () => this.draw(this.cfg.podStartMs))
      this.ceph.hostDown(n.id, this.t)
      this.cephChanged()
    }
    this.refresh(n)
  }

  /** The machine boots (on the target image if this was the wave's reboot). */
  machineUp(n: SimNode): void {
    if (n.up || n.permanentlyDead) return
    n.up = true
    n.boot++
    if (n.waveReboot) n.image = TARGET
    n.waveReboot = false
    n.phase = 'idle'
    this.checker.trace(`${n.id} boots on ${n.image}${n.returnsUnhealthy ? ' (unhealthy)' : ''}`)
    this.bootVote(n, true)
    if (n === this.coord) return
    this.ceph.hostUp(n.id, this.t, this.draw(this.cfg.recoveryMs))
    this.cephChanged()
    const boot = n.boot
    this.after(this.draw(this.cfg.kubeletMs), () => this.kubeletUp(n, boot))
    this.refresh(n)
  }

  /** The kubelet of machine boot `boot` gets Ready (an agent restart does not touch it). */
  kubeletUp(n: SimNode, boot: number): void {
    if (!n.up || n.boot !== boot || n.returnsUnhealthy) return
    n.kubeletReady = true
    this.kube.setReady(n.id, true)
    this.refresh(n)
    this.pokeCycle(n)
  }

  // ---- faults (used by the schedule and by scenarios) ----------------------------------------

  /** Power loss: the machine is gone for `downMs` (Infinity: never returns). */
  crash(n: SimNode, downMs: number, why: string): void {
    if (!n.up) return
    this.checker.trace(`FAULT ${n.id} crashes (${why})${Number.isFinite(downMs) ? `, back in ${(downMs / 1000).toFixed(1)} s` : ', never returns'}`)
    n.waveReboot = false
    this.machineDown(n)
    if (!Number.isFinite(downMs)) n.permanentlyDead = true
    else this.after(downMs, () => this.machineUp(n))
  }

  /** The coordinator comes back from its disk (level): promises intact, no quiet period. */
  restartCoordinator(): void {
    const c = this.coord
    if (c.up) return
    c.up = true
    this.checker.trace('coordinator back')
    this.bootVote(c, false)
  }

  /** The agent process restarts; the machine and its Store stay. */
  restartProcess(n: SimNode): void {
    if (!n.up) return
    this.checker.trace(`FAULT ${n.id} agent restarts (store kept)`)
    // The process's RAM goes: its cycle (an action in flight is dropped with the old instance).
    n.cycle = idleCycle
    n.cycleInbox.length = 0
    n.pendingLease = undefined
    n.cycleWakeAt = Infinity
    n.lease = undefined
    this.bootVote(n, true)
    this.resumeCycle(n)
  }

  /**
   * The new agent process picks up where the old one stopped: a lease it read back from its
   * Store is carried on (resume: noout, cordon and drain again — idempotent — then the
   * joint check and the reboot; or the post gate when already on the target). Without one,
   * the cycle is idle: a reclaim, if any, starts it again; maybeLeftover finishes a cordon
   * nobody holds a lease for.
   */
  private resumeCycle(n: SimNode): void {
    if (n === this.coord || !n.vote) return
    const l = n.vote.currentLease()
    if (!l) {
      if (n.phase !== 'idle') this.setPhase(n, 'ready')
      return
    }
    this.checker.trace(`${n.id} resumes slot ${l.slot} term ${l.term} after the restart`)
    this.startCycle(n, l, n.image !== TARGET)
  }

  partition(groups: string[][]): void {
    this.checker.trace(`FAULT partition: ${groups.map((g) => `[${g.length <= 6 ? g.join(',') : `${g.length} nodes`}]`).join(' | ')}`)
    this.currentViewVersion()
    this.partitions.set(groups)
    this.bumpView(undefined)
    for (const n of this.order) this.refresh(n)
    this.schedulePoke()
  }

  healPartition(): void {
    if (!this.partitions.active) return
    this.checker.trace('partition heals')
    this.currentViewVersion()
    this.partitions.heal()
    this.bumpView(undefined)
    this.schedulePoke()
  }

  /** The operator deals with what never came back: retire it, force-release its slot, unset noout. */
  operatorCleanup(): void {
    const c = this.coord
    if (!c.vote) return
    for (const n of this.order) {
      if (!n.permanentlyDead || n.retired) continue
      n.retired = true
      this.checker.trace(`operator retires ${n.id} (never came back)`)
      this.stepVote(c, { type: 'retire', node: n.id })
      this.ceph.setNoout(n.id, false)
      // What the coordinator knows the node holds or was promised (`shoal lease release
      // NODE --force`): only up to that node's term, so a later holder keeps its lease.
      for (const s of c.vote.snapshot().slots) {
        if (s.grant?.holder === n.id || s.promises.some((p) => p.cand === n.id)) this.stepVote(c, { type: 'force-release', slot: s.slot, node: n.id })
      }
      // A lease the coordinator never heard of, as the holder's peers show it (`shoal status`).
      for (const l of this.checker.holders()) if (l.holder === n.id) this.stepVote(c, { type: 'force-release', slot: l.slot, term: l.term })
    }
    this.cephChanged()
  }

  heal(): void {
    this.checker.trace('faults heal')
    this.healPartition()
    for (const n of this.nodes.values()) {
      if (n.returnsUnhealthy) {
        n.returnsUnhealthy = false
        if (n.up && !n.kubeletReady) this.kubeletUp(n, n.boot)
      }
      if (n === this.coord && !n.up) this.restartCoordinator()
    }
    if (this.cfg.faults.operator) this.operatorCleanup()
  }

  node(id: string): SimNode {
    const n = this.nodes.get(id)
    if (!n) throw new RangeError(`no node ${id}`)
    return n
  }

  /** Nodes in a phase right now (fault targeting: "crash whoever is draining"). */
  inPhase(phase: SimNode['phase']): SimNode[] {
    return this.order.filter((n) => n.up && n.phase === phase)
  }
}

export type { SimNode }
export type { WaveResult, WaveRunOptions }
export { TARGET, OLD }

function describe(ev: Ev): string {
  switch (ev.k) {
    case 'msg':
      return `${ev.msg.k} ${ev.from} -> ${ev.to}`
    case 'tick':
      return `tick ${ev.id}`
    case 'call':
      return 'call'
  }
}
