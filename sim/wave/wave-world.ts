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
 *
 * This file holds the world's state, its clock and the run loop; the rest is by concept: the
 * vote in each node (wave-vote.ts), what each node sees (wave-view.ts), the upgrade cycle over
 * the models and the machine going down and up (wave-cycle.ts), faults and their healing
 * (wave-faults.ts), the invariants (invariant-checker.ts). Those are functions of the
 * WaveWorld they act on; its public methods stay as they were.
 */
import { EventQueue } from '../engine/event-queue.js'
import { Partitions, emptyNetworkStats, networkConfig, type NetworkConfig, type NetworkStats } from '../engine/network.js'
import { SimRng } from '../engine/rng.js'
import { uniformLatency } from '../engine/latency.js'
import { simPublicKey } from './sim-vote-keyring.js'
import type { NodeFacts } from '../../agent/protocol/vote/cluster-view.js'
import { voteConfig, type VoteConfig } from '../../agent/protocol/vote/vote-config.js'
import type { VoteMessage } from '../../agent/protocol/vote/vote-messages.js'
import type { VoteInput } from '../../agent/protocol/vote/vote-node.js'
import { idleCycle } from '../../agent/protocol/upgrade-cycle/index.js'
import { CephModel } from '../models/ceph-model.js'
import { groupBlockers, neverStops } from '../../agent/protocol/stop-facts.js'
import { KubeModel } from '../models/kube-model.js'
import { InvariantChecker, WaveViolation } from './invariant-checker.js'
import { lowerBoundMs, replayCommand, type Range, type WaveSimConfig } from './wave-config.js'
import type { SimNode } from './sim-node.js'
import type { WaveResult, WaveRunOptions } from './wave-result.js'
import { kubeletUp, machineDown, machineUp } from './wave-cycle.js'
import { crash, heal, healPartition, operatorCleanup, partition, restartCoordinator, restartProcess } from './wave-faults.js'
import { computeFacts, refresh } from './wave-view.js'
import { bootVote, stepVote } from './wave-vote.js'

export const COORDINATOR = 'coord'
export const EPOCH = Date.UTC(2026, 0, 1)
const WAVE_START_MS = 10_000
const OLD = 'v1'
const TARGET = 'v2'
type Ev =
  | { k: 'msg'; to: string; inst: number; from: string; msg: VoteMessage }
  | { k: 'tick'; id: string; inst: number }
  | { k: 'call'; fn: () => void }

export class WaveWorld {
  readonly cfg: WaveSimConfig
  readonly seed: number
  readonly rng: SimRng
  readonly netRng: SimRng
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
  ids: string[] = []
  readonly coord: SimNode
  readonly queue = new EventQueue<Ev>()
  t = 0
  private events = 0
  /** A run that needs more events than this is stuck in a loop (a bug): stop and say so. */
  maxEvents = 50_000_000
  // What the nodes see (wave-view.ts keeps these up to date): pokes, Ceph changes, the ok-to-stop cache, the view log.
  pokeAt = -Infinity
  cephNextAt = Infinity
  okCache = new Map<string, boolean>()
  /** ClusterView.version, the shared part: a change became visible to the others, or the partitions changed. */
  viewVersion = 0
  /** Each node's boot second, as the mesh shows it (the coordinator holds a wave back at a cold start). */
  readonly bootSeconds = new Map<string, number>()
  /** visibleLog[v]: whose change took the shared view from version v to v+1 (undefined: a partition changed). */
  readonly visibleLog: (string | undefined)[] = []
  /** Nodes whose latest change becomes visible to others at changedAt + gossipDelayMs, oldest first. */
  pendingVisible: SimNode[] = []
  okCacheVersion = -1
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
      n.facts = computeFacts(this, n)
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
    for (const n of this.nodes.values()) bootVote(this, n, false)
    this.at(this.waveStartAt, () => this.publishWave())
    opts.script?.(this)
  }

  // ---- time ------------------------------------------------------------------------------

  localNow(n: SimNode): number {
    return EPOCH + this.t * (1 + n.rho) + n.offsetMs
  }

  toSim(n: SimNode, local: number): number {
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
          stepVote(this, n, { type: 'message', from: ev.from, msg: ev.msg })
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
          stepVote(this, n, { type: 'tick' })
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


  stepVote(n: SimNode, input: VoteInput): void {
    stepVote(this, n, input)
  }

  // ---- what each node sees -------------------------------------------------------------------

  /** Re-reads a node's facts; a change reaches the others after the gossip delay. */
  refresh(n: SimNode): void {
    refresh(this, n)
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
    stepVote(this, this.coord, {
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

  /** A machine stops: RAM (vote state, Store, executor state) is gone. */
  machineDown(n: SimNode): void {
    machineDown(this, n)
  }

  /** The machine boots (on the target image if this was the wave's reboot). */
  machineUp(n: SimNode): void {
    machineUp(this, n)
  }

  /** The kubelet of machine boot `boot` gets Ready (an agent restart does not touch it). */
  kubeletUp(n: SimNode, boot: number): void {
    kubeletUp(this, n, boot)
  }

  // ---- faults (used by the schedule and by scenarios) ----------------------------------------

  /** Power loss: the machine is gone for `downMs` (Infinity: never returns). */
  crash(n: SimNode, downMs: number, why: string): void {
    crash(this, n, downMs, why)
  }

  /** The coordinator comes back from its disk (level): promises intact, no quiet period. */
  restartCoordinator(): void {
    restartCoordinator(this)
  }

  /** The agent process restarts; the machine and its Store stay. */
  restartProcess(n: SimNode): void {
    restartProcess(this, n)
  }

  partition(groups: string[][]): void {
    partition(this, groups)
  }

  healPartition(): void {
    healPartition(this)
  }

  /** The operator deals with what never came back: retire it, force-release its slot, unset noout. */
  operatorCleanup(): void {
    operatorCleanup(this)
  }

  heal(): void {
    heal(this)
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
