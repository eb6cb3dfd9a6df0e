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
 * (agent/protocol/availability.ts) over the model state.
 *
 * This class holds what every part shares (the clock and its agenda, the seeded RNGs, the
 * partitions, the models, the checker, the nodes) and the wave itself (publish, complete);
 * each idea is a part with its own state:
 * - vote-delivery.ts: the vote in each node, its effects, its messages over the network;
 * - node-views.ts: what each node sees of the others (gossip delay, partitions), and the pokes;
 * - cycle-steps.ts: each node's upgrade cycle over the Ceph and Kubernetes models;
 * - machine-power.ts: a machine going down and booting again;
 * - fault-injector.ts: crashes, restarts, partitions, the operator's cleanup (fault-schedule.ts says when).
 * stepVote and okToStop stay methods of this class: the seams scripted scenarios wrap.
 */
import { EventQueue } from '../engine/event-queue.js'
import { Partitions, networkConfig } from '../engine/network.js'
import { SimRng } from '../engine/rng.js'
import { uniformLatency } from '../engine/latency.js'
import { simPublicKey } from './sim-vote-keyring.js'
import type { NodeFacts } from '../../agent/protocol/vote/cluster-view.js'
import { voteConfig, type VoteConfig } from '../../agent/protocol/vote/vote-config.js'
import type { VoteInput } from '../../agent/protocol/vote/vote-node.js'
import { idleCycle } from '../../agent/protocol/upgrade-cycle/index.js'
import { CephModel } from '../models/ceph-model.js'
import { groupBlockers, neverStops } from '../../agent/protocol/stop-facts.js'
import { KubeModel } from '../models/kube-model.js'
import { InvariantChecker, WaveViolation } from './invariant-checker.js'
import { lowerBoundMs, replayCommand, type Range, type WaveSimConfig } from './wave-config.js'
import type { SimNode } from './sim-node.js'
import type { WaveResult, WaveRunOptions } from './wave-result.js'
import { COORDINATOR, EPOCH, OLD, TARGET, WAVE_START_MS } from './wave-constants.js'
import { VoteDelivery, type VoteEvent } from './vote-delivery.js'
import { NodeViews } from './node-views.js'
import { CycleSteps } from './cycle-steps.js'
import { MachinePower } from './machine-power.js'
import { FaultInjector } from './fault-injector.js'

type Ev = VoteEvent | { k: 'call'; fn: () => void }

export class WaveWorld {
  readonly cfg: WaveSimConfig
  readonly seed: number
  /** The scenario's RNG: the network's fault levels, clock drift, the fault schedule. */
  readonly rng: SimRng
  /** Model delays (pod starts, reboots, recoveries) and node loads. */
  private readonly drawRng: SimRng
  readonly partitions = new Partitions()
  readonly ceph: CephModel
  readonly kube: KubeModel
  readonly checker: InvariantChecker
  readonly voteCfg: VoteConfig
  readonly nodes = new Map<string, SimNode>()
  readonly order: SimNode[] = []
  readonly ids: string[] = []
  readonly coord: SimNode
  private readonly queue = new EventQueue<Ev>()
  t = 0
  private events = 0
  /** A run that needs more events than this is stuck in a loop (a bug): stop and say so. */
  maxEvents = 50_000_000
  waveStartAt = WAVE_START_MS
  completedAt: number | undefined
  /** The coordinator's start check refused the wave: it could never finish (why, and what to change). */
  refused: string | undefined

  readonly views = new NodeViews(this)
  readonly votes: VoteDelivery
  readonly cycles = new CycleSteps(this)
  readonly power = new MachinePower(this)
  readonly injector = new FaultInjector(this)

  constructor(cfg: WaveSimConfig, seed: number, opts: WaveRunOptions = {}) {
    this.cfg = cfg
    this.seed = seed
    const root = new SimRng(seed)
    this.rng = root.fork()
    const netRng = root.fork()
    this.drawRng = root.fork()
    const f = cfg.faults
    const net = networkConfig({
      latency: uniformLatency(cfg.latencyMs[0], cfg.latencyMs[1]),
      lossProbability: f.enabled ? this.rng.uniform(0, f.maxLoss) : 0,
      duplicateProbability: f.enabled ? this.rng.uniform(0, f.maxDuplicate) : 0,
      reorderProbability: f.enabled ? this.rng.uniform(0, f.maxReorder) : 0,
    })
    this.votes = new VoteDelivery(this, net, netRng)
    this.voteCfg = voteConfig({ maxDriftRatio: Math.max(1e-3, f.maxDriftRatio), ...cfg.vote })
    this.checker = new InvariantChecker(cfg.maxUnavailable, seed, () => this.t, opts.fullTrace, replayCommand(cfg, seed))
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
      n.facts = this.views.computeFacts(n)
      n.prev = n.facts
      return n
    }
    hosts.forEach((h, i) => {
      const n = mk(h.id, i, h.domain)
      this.nodes.set(h.id, n)
      this.order.push(n)
    })
    this.ids.push(...this.order.map((n) => n.id))
    this.coord = mk(COORDINATOR, -1, 'controller')
    this.nodes.set(COORDINATOR, this.coord)
    // Every agent started before the wave: nothing to relearn.
    for (const n of this.nodes.values()) this.votes.bootVote(n, false)
    this.at(this.waveStartAt, () => this.publishWave())
    opts.script?.(this)
  }

  // ---- time ------------------------------------------------------------------------------

  localNow(n: SimNode): number {
    return EPOCH + this.t * (1 + n.rho) + n.offsetMs
  }

  /** Simulated time at which `n`'s clock reads `local`. */
  toSim(n: SimNode, local: number): number {
    return (local - EPOCH - n.offsetMs) / (1 + n.rho)
  }

  at(t: number, fn: () => void): void {
    this.queue.push(Math.max(t, this.t), { k: 'call', fn })
  }

  after(ms: number, fn: () => void): void {
    this.at(this.t + ms, fn)
  }

  /** A vote message or wake-up onto the agenda (vote-delivery.ts). */
  enqueue(at: number, ev: VoteEvent): void {
    this.queue.push(at, ev)
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
        case 'msg':
          this.votes.deliver(ev)
          break
        case 'tick':
          this.votes.tick(ev)
          break
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
    for (const v of Object.values(this.votes.messagesByKind)) voteMessages += v
    return {
      seed: this.seed,
      completed: this.completedAt !== undefined,
      makespanMs: makespan,
      lowerBoundMs: lb,
      ratio: makespan !== undefined ? makespan / lb : undefined,
      leases: this.votes.leases,
      voteMessages,
      messagesByKind: { ...this.votes.messagesByKind },
      maxHolders: this.checker.maxHolders,
      maxUnavailable: this.views.maxUnavailable,
      faults: this.injector.injected,
      violation,
      halted,
      refused: this.refused,
      trace: this.checker.full,
      events: this.events,
      jointWaits: this.cycles.jointWaits,
    }
  }

  // ---- the seams scenarios wrap --------------------------------------------------------------

  /** One step of `n`'s vote, its effects carried out. Every step goes through here. */
  stepVote(n: SimNode, input: VoteInput): void {
    this.votes.step(n, input)
  }

  /** The voters' ok-to-stop port (their ClusterView's okToStop). */
  okToStop(hosts: readonly string[]): boolean {
    return this.views.okToStop(hosts)
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
    this.checker.trace(`coordinator publishes wave w1 -> ${TARGET}, K=${this.cfg.maxUnavailable}, ${this.order.length} nodes, policy ${this.cfg.policy}`)
    this.stepVote(this.coord, {
      type: 'publish-wave',
      wave: {
        id: 'w1',
        target: TARGET,
        slots: this.cfg.maxUnavailable,
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

  // ---- faults (fault-injector.ts; used by the schedule and by scenarios) -----------------------

  /** What the schedule injected, `kind@seconds`. */
  get faults(): string[] {
    return this.injector.injected
  }

  /** When every fault heals (Infinity: no schedule). */
  get healAt(): number {
    return this.injector.healAt
  }

  set healAt(at: number) {
    this.injector.healAt = at
  }

  crash(n: SimNode, downMs: number, why: string): void {
    this.injector.crash(n, downMs, why)
  }

  restartCoordinator(): void {
    this.injector.restartCoordinator()
  }

  restartProcess(n: SimNode): void {
    this.injector.restartProcess(n)
  }

  partition(groups: string[][]): void {
    this.injector.partition(groups)
  }

  healPartition(): void {
    this.injector.healPartition()
  }

  heal(): void {
    this.injector.heal()
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
export { COORDINATOR, TARGET, OLD }

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
