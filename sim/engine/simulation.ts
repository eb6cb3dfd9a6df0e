/**
 * The deterministic simulator: a virtual clock over an event queue, processes that are
 * pure step machines, and an in-memory network between them (see network.ts for the
 * network model). Nothing here reads the wall clock or Math.random: a run is a function
 * of its seed and of the calls made on it.
 *
 * Processes: anything with `step(input, now) -> effects` and `nextWakeAt()` — the
 * driving rules of agent/protocol/mesh-types.ts, which the simulator follows exactly:
 * inputs are delivered one at a time, never re-entrantly; effects are carried out in
 * order; after every step `nextWakeAt()` is read and a `tick` is delivered then.
 * The engine understands three effects: `send` (encoded with the codec to real bytes,
 * counted, decoded again at delivery), `connect` and `disconnect`; sim-links.ts carries
 * them out (links, frames, closes). Every effect,
 * understood or not, is also handed to `onEffect` listeners, so scenarios can watch
 * `event` effects or act on their own effect types (a reboot, say).
 *
 * Instances: `start(id)` creates a fresh process from the factory; `crash(id)` drops it
 * silently; `restart(id)` is a crash (if up) plus a start: the worker lives in RAM, so the
 * new instance remembers nothing. Events aimed at an old instance are discarded.
 */
import type { MeshEffect, MeshInput } from '../../agent/protocol/mesh-types.js'
import { EventQueue } from './event-queue.js'
import { emptyNetworkStats, networkConfig, Partitions, type NetworkConfig, type NetworkStats, type NodeTraffic } from './network.js'
import { SimRng } from './rng.js'
import { meshCodec, SimLinks, type Codec, type EngineInput, type Instance, type SimEvent } from './sim-links.js'

export { meshCodec, type Codec, type EngineInput } from './sim-links.js'

export interface SimProcess<I extends { type: string } = MeshInput, E extends { type: string } = MeshEffect> {
  step(input: I | EngineInput, now: number): readonly E[]
  /** Virtual time (same clock as `now`) of the next tick wanted; Infinity for none. */
  nextWakeAt(): number
}

export interface ProcessContext {
  id: string
  /** This instance's own random stream, forked from the run's seed. */
  rng: SimRng
  /** The clock value the process will be stepped with (epochMs + virtual ms). */
  now: number
  /** 0 for the first start of this id, then 1, 2, ... per restart. */
  boot: number
}

export type ProcessFactory<P> = (ctx: ProcessContext) => P

export interface SimulationOptions<P> {
  /** The run's one seed; printed with every figure so a run can be reproduced. */
  seed: number
  factory: ProcessFactory<P>
  network?: Partial<NetworkConfig>
  codec?: Codec
  /** Added to virtual time before it is handed to processes. Default 2026-01-01T00:00Z, so records carry realistic times. */
  epochMs?: number
}

export type EffectListener<E> = (node: string, effect: E, now: number) => void
/** Called after every step of a process (its effects already carried out). */
export type StepListener<P> = (node: string, proc: P, now: number) => void
/** Called when an instance starts (fresh process) or goes down (crash). */
export type LifecycleListener<P> = (node: string, change: 'up' | 'down', proc: P) => void

const DEFAULT_EPOCH_MS = Date.UTC(2026, 0, 1)
/** A process that keeps asking for a tick at the current instant is stuck; stop the run and say so. */
const MAX_TICKS_AT_ONE_INSTANT = 1000

export class Simulation<P extends SimProcess<I, E>, I extends { type: string } = MeshInput, E extends { type: string } = MeshEffect> {
  readonly seed: number
  readonly network: NetworkConfig
  readonly stats: NetworkStats = emptyNetworkStats()
  readonly partitions = new Partitions()
  readonly epochMs: number
  /** Random stream for scenario decisions (which node to crash, ...), forked from the seed. */
  readonly rng: SimRng
  private readonly netRng: SimRng
  private readonly nodeRng: SimRng
  private readonly queue = new EventQueue<SimEvent<P, I>>()
  private readonly instances = new Map<string, Instance<P>>()
  /** The network between the instances: links, frames, closes (sim-links.ts). */
  private readonly links: SimLinks<P, I>
  /** Every id ever started, in first-start order (the instances map's order), and each one's place in it. */
  private readonly startOrder: string[] = []
  private readonly startSlot = new Map<string, number>()
  private upCount = 0
  private readonly boots = new Map<string, number>()
  private readonly trafficById = new Map<string, NodeTraffic>()
  private readonly listeners: EffectListener<E>[] = []
  private readonly stepListeners: StepListener<P>[] = []
  private readonly lifecycleListeners: LifecycleListener<P>[] = []
  private readonly factory: ProcessFactory<P>
  private t = 0
  private stepCount = 0
  private eventCount = 0

  constructor(opts: SimulationOptions<P>) {
    const root = new SimRng(opts.seed)
    this.seed = opts.seed
    this.rng = root.fork()
    this.netRng = root.fork()
    this.nodeRng = root.fork()
    this.network = networkConfig(opts.network)
    this.factory = opts.factory
    this.epochMs = opts.epochMs ?? DEFAULT_EPOCH_MS
    if (!Number.isSafeInteger(this.epochMs)) throw new RangeError(`epochMs must be a whole number of ms, got ${this.epochMs}`)
    this.links = new SimLinks<P, I>({
      queue: this.queue,
      instances: this.instances,
      network: this.network,
      stats: this.stats,
      partitions: this.partitions,
      netRng: this.netRng,
      codec: opts.codec ?? meshCodec,
      now: () => this.t,
      step: (inst, input) => this.step(inst, input),
    })
  }

  /** Frames and bytes sent, by message type (the `t` field), for tuning the protocol. */
  get byType(): ReadonlyMap<string, { frames: number; bytes: number }> {
    return this.links.byType
  }

  /** Virtual ms since the run began. */
  get now(): number {
    return this.t
  }

  /**
   * The clock value processes see: whole ms, epochMs + floor(now), as Date.now() gives in
   * production. Events are ordered at full precision; only the reading is truncated.
   */
  get clock(): number {
    return this.epochMs + Math.floor(this.t)
  }

  /** Process steps taken so far (a cost figure for benchmarks). */
  get steps(): number {
    return this.stepCount
  }

  /** Events taken off the queue so far (frames, ticks, link changes, calls; superseded ticks included): the engine's throughput figure. */
  get events(): number {
    return this.eventCount
  }

  onEffect(listener: EffectListener<E>): () => void {
    this.listeners.push(listener)
    return () => {
      const i = this.listeners.indexOf(listener)
      if (i >= 0) this.listeners.splice(i, 1)
    }
  }

  onStep(listener: StepListener<P>): void {
    this.stepListeners.push(listener)
  }

  onLifecycle(listener: LifecycleListener<P>): void {
    this.lifecycleListeners.push(listener)
  }

  // ---- nodes -------------------------------------------------------------------------

  /** Starts a fresh instance of `id` now and opens links to a few random up nodes (the DHT lookup). */
  start(id: string): P {
    const old = this.instances.get(id)
    if (old?.up) throw new RangeError(`node ${id} is already up; crash or restart it instead`)
    const boot = this.boots.get(id) ?? 0
    this.boots.set(id, boot + 1)
    if (!this.trafficById.has(id)) this.trafficById.set(id, { sentBytes: 0, recvBytes: 0, sentFrames: 0, recvFrames: 0 })
    const proc = this.factory({ id, rng: this.nodeRng.fork(), now: this.clock, boot })
    const inst: Instance<P> = { id, proc, boot, up: true, links: new Map(), traffic: this.trafficById.get(id)!, replaced: false, wakeAt: Infinity, stalledUntil: 0, ticksAtSameTime: 0, lastTickAt: -1 }
    if (old) old.replaced = true
    this.instances.set(id, inst)
    if (!this.startSlot.has(id)) {
      this.startSlot.set(id, this.startOrder.length)
      this.startOrder.push(id)
    }
    this.upCount++
    for (const l of this.lifecycleListeners) l(id, 'up', proc)
    this.scheduleWake(inst)
    for (const peer of this.bootstrapPeersOf(inst)) this.links.connect(inst, peer)
    return proc
  }

  /** The peers a starting node's DHT lookup finds: a random few of the up nodes it can reach, drawn from those in start order. */
  private bootstrapPeersOf(inst: Instance<P>): string[] {
    const k = this.network.bootstrapPeers
    if (!this.partitions.active && this.upCount === this.startOrder.length) {
      // Everyone ever started is up and reachable: the candidates are all ids but this one,
      // in start order, so they are read by position instead of gathered (O(k), not O(N)).
      const self = this.startSlot.get(inst.id)!
      return this.netRng.sampleOf(this.startOrder.length - 1, k, (j) => this.startOrder[j < self ? j : j + 1]!)
    }
    const candidates: string[] = []
    for (const other of this.instances.values()) {
      if (other !== inst && other.up && this.partitions.reachable(inst.id, other.id)) candidates.push(other.id)
    }
    return this.netRng.sample(candidates, k)
  }

  /** Powers `id` off: no goodbye, its peers' links go silent. */
  crash(id: string): void {
    const inst = this.instances.get(id)
    if (!inst?.up) throw new RangeError(`node ${id} is not up`)
    inst.up = false
    this.upCount--
    for (const l of this.lifecycleListeners) l(id, 'down', inst.proc)
    this.links.crashed(inst)
  }

  /**
   * Freezes `id` for `ms` (a GC pause, a CPU hog): it stays up and its links stay open, but
   * every input that reaches it meanwhile (frames, ticks, connection events) waits, in
   * order, until the pause ends. The shape of a false positive in a failure detector.
   */
  stall(id: string, ms: number): void {
    const inst = this.instances.get(id)
    if (!inst?.up) throw new RangeError(`node ${id} is not up`)
    if (!(ms >= 0)) throw new RangeError(`stall needs ms >= 0, got ${ms}`)
    const until = this.t + ms
    if (until <= inst.stalledUntil) return
    inst.stalledUntil = until
    // The node wakes to its timers first: Node runs due timers before it reads the
    // sockets, so whatever arrived during the pause is handled after every deadline that
    // passed meanwhile (the harsher order; a prober must not take its own pause for a
    // silent peer). Scheduled now, this tick precedes every input held for the pause.
    this.queue.push(until, { k: 'input', inst, input: { type: 'tick' } as I })
  }

  /** A crash (if up) and a fresh start: nothing of the old instance survives. */
  restart(id: string): P {
    if (this.isUp(id)) this.crash(id)
    return this.start(id)
  }

  /** Virtual ms until which `id`'s current instance is frozen by `stall` (0 or a past time: running). */
  stalledUntil(id: string): number {
    return this.instances.get(id)?.stalledUntil ?? 0
  }

  isUp(id: string): boolean {
    return this.instances.get(id)?.up === true
  }

  /** The live process of `id`, or undefined if it is down or was never started. */
  process(id: string): P | undefined {
    const inst = this.instances.get(id)
    return inst?.up ? inst.proc : undefined
  }

  /** Every id ever started, in start order. */
  ids(): string[] {
    return [...this.instances.keys()]
  }

  upIds(): string[] {
    return [...this.instances.values()].filter((i) => i.up).map((i) => i.id)
  }

  /** Ids `id` has an open link to (its current instance's view of the network). */
  linksOf(id: string): string[] {
    const inst = this.instances.get(id)
    if (!inst?.up) return []
    return [...inst.links.entries()].filter(([, l]) => l.state === 'open').map(([peer]) => peer)
  }

  traffic(id: string): NodeTraffic {
    const t = this.trafficById.get(id)
    if (!t) throw new RangeError(`node ${id} was never started`)
    return { ...t }
  }

  // ---- faults ------------------------------------------------------------------------

  /** Splits the network: nodes in one group reach only each other; unlisted nodes form one more side. */
  partition(groups: Iterable<Iterable<string>>): void {
    this.partitions.set(groups)
    this.links.cut()
  }

  /** Ends every partition. Links that survived the cut carry traffic again at once. */
  heal(): void {
    this.partitions.heal()
  }

  /** Hands `bytes` to `to` as if `from` had sent them on their link (tests of the decode edge). */
  injectBytes(from: string, to: string, bytes: Uint8Array): void {
    const src = this.instances.get(from)
    const link = src?.up ? src.links.get(to) : undefined
    if (!src || !link || link.state !== 'open') throw new RangeError(`no open link ${from} -> ${to}`)
    this.links.transmit(src, link, bytes)
  }

  // ---- scheduling --------------------------------------------------------------------

  /** Runs `fn` at virtual time `at` (ms since start), in order with every other event. */
  at(at: number, fn: () => void): void {
    if (at < this.t) throw new RangeError(`cannot schedule in the past (${at} < ${this.t})`)
    this.queue.push(at, { k: 'call', fn })
  }

  after(ms: number, fn: () => void): void {
    this.at(this.t + ms, fn)
  }

  /** Delivers `input` to the current instance of `id` at `at` (default: now, after what is already due). */
  input(id: string, input: I, at = this.t): void {
    const inst = this.instances.get(id)
    if (!inst?.up) throw new RangeError(`node ${id} is not up`)
    if (at < this.t) throw new RangeError(`cannot schedule in the past (${at} < ${this.t})`)
    this.queue.push(at, { k: 'input', inst, input })
  }

  /** Processes every event due up to and including `until`; the clock then reads `until`. */
  runUntil(until: number): void {
    while (this.queue.peekAt() <= until) this.runOne()
    if (until > this.t) this.t = until
  }

  runFor(ms: number): void {
    this.runUntil(this.t + ms)
  }

  /**
   * Runs until `done()` is true (checked after every event) or `deadline` (virtual ms)
   * passes. Returns the time `done()` first held, or undefined at the deadline.
   */
  runUntilTrue(done: () => boolean, deadline: number): number | undefined {
    if (done()) return this.t
    while (this.queue.peekAt() <= deadline) {
      this.runOne()
      if (done()) return this.t
    }
    if (deadline > this.t) this.t = deadline
    return undefined
  }

  private runOne(): void {
    const e = this.queue.pop()!
    this.eventCount++
    this.t = e.at
    const ev = e.item
    switch (ev.k) {
      case 'tick': {
        const inst = ev.inst
        if (!inst.up || e.at !== inst.wakeAt) return // superseded or a dead instance
        inst.wakeAt = Infinity
        if (e.at === inst.lastTickAt) {
          if (++inst.ticksAtSameTime > MAX_TICKS_AT_ONE_INSTANT) {
            throw new Error(`node ${inst.id} asked for ${MAX_TICKS_AT_ONE_INSTANT} ticks at virtual time ${e.at} ms: its nextWakeAt() does not advance (seed ${this.seed})`)
          }
        } else {
          inst.lastTickAt = e.at
          inst.ticksAtSameTime = 0
        }
        this.step(inst, { type: 'tick' })
        return
      }
      case 'input':
        if (ev.inst.up) this.step(ev.inst, ev.input)
        return
      case 'call':
        ev.fn()
        return
      default:
        this.links.handle(ev)
        return
    }
  }

  // ---- processes and effects ---------------------------------------------------------

  private step(inst: Instance<P>, input: I | EngineInput): void {
    if (this.t < inst.stalledUntil) {
      this.queue.push(inst.stalledUntil, { k: 'input', inst, input: input as I })
      return
    }
    this.stepCount++
    const now = this.clock
    const effects = inst.proc.step(input, now)
    for (const eff of effects) {
      if (!inst.up) break // a listener crashed it mid-way
      switch (eff.type) {
        case 'send':
          this.links.send(inst, eff as unknown as Extract<MeshEffect, { type: 'send' }>)
          break
        case 'connect':
          this.links.connect(inst, (eff as unknown as Extract<MeshEffect, { type: 'connect' }>).peer)
          break
        case 'disconnect':
          this.links.disconnect(inst, (eff as unknown as Extract<MeshEffect, { type: 'disconnect' }>).peer)
          break
      }
      for (const l of this.listeners) l(inst.id, eff, this.t)
    }
    for (const l of this.stepListeners) l(inst.id, inst.proc, this.t)
    if (inst.up) this.scheduleWake(inst)
  }

  private scheduleWake(inst: Instance<P>): void {
    // Rounded up, so the whole-ms clock read at the tick has reached the wanted time.
    const w = Math.ceil(inst.proc.nextWakeAt()) - this.epochMs
    if (!(w < inst.wakeAt)) return // Infinity/NaN, or a tick at or before it is already pending
    const at = Math.max(w, this.t)
    inst.wakeAt = at
    this.queue.push(at, { k: 'tick', inst })
  }
}
