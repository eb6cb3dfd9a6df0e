/**
 * Drives the pure MeshNode with real time and the hyperswarm transport, per the rules in
 * agent/protocol/mesh-types.ts: one input at a time (never re-entrant), effects carried
 * out in order, and one timer armed at `nextWakeAt()`. It re-emits the node's events for
 * the API and logs changes of state (not ticks).
 */
import { EventEmitter } from 'node:events'
import type { DropReason } from '../protocol/errors.js'
import type { MeshMessage, OutMessage } from '../protocol/messages.js'
import type { MemberView, MeshEffect, MeshEvent, MeshInput, SelfPatch } from '../protocol/mesh-types.js'
import { silentLogger, type Clock, type Logger } from '../protocol/ports.js'
import type { TransportEvents, TransportStats } from './swarm-transport.js'

/** What the runtime needs of agent/protocol/mesh-node.ts's MeshNode. */
export interface SteppableNode {
  step(input: MeshInput, now: number): MeshEffect[]
  nextWakeAt(): number
  view(): MemberView[]
  /** One member of view() (MeshNode has it; fakes may not). */
  member?(id: string): MemberView | undefined
  readonly counters: object
  /** Direct-probe round trips (ms) since the last call (MeshNode has it; fakes may not). */
  drainProbeRtts?(): number[]
}

/** The transport surface the runtime drives (SwarmTransport, or a fake in unit tests). */
export interface MeshTransport {
  start(): Promise<void>
  /** Binds the mesh socket before joining; resolves to the "host:port" peers may dial straight, if any. */
  bind?(): Promise<string | undefined>
  close(): Promise<void>
  /**
   * `address`: the mesh address the peer's record names, if any. `grow`: the link is only
   * wanted toward the target degree (MeshEffect `connect`): the transport may let it go.
   */
  connect(peer: string, address?: string, grow?: boolean): void
  disconnect(peer: string, reason: string): void
  send(peer: string, msg: OutMessage): boolean
  on<E extends keyof TransportEvents>(event: E, listener: (...args: TransportEvents[E]) => void): unknown
  off<E extends keyof TransportEvents>(event: E, listener: (...args: TransportEvents[E]) => void): unknown
  readonly stats: TransportStats
}

export interface MeshRuntimeEvents {
  /** Every event the node emits, in order. */
  event: [event: MeshEvent, at: number]
}

export interface RuntimeCounters {
  /** Inputs dropped at the edge or by the node, by reason (frames, records, claims). */
  dropped: Record<string, number>
  /** Connection attempts refused by the firewall, by reason. */
  refused: { 'not-on-roster': number; 'inbound-cap': number; 'protocol-version': number }
  /** Peers disconnected for sending bad frames. */
  disconnectedForBadFrames: number
  /** Steps that threw (a bug: the node must never throw), by input type (`message.TYPE` for messages). */
  stepErrors: Record<string, number>
  inputs: number
  effects: number
}

export const realClock: Clock = { now: () => Date.now() }

export class MeshRuntime extends EventEmitter<MeshRuntimeEvents> {
  private readonly queue: MeshInput[] = []
  private stepping = false
  private timer: NodeJS.Timeout | undefined
  private timerAt = Infinity
  private started = false
  private closed = false
  readonly startedAt: number
  private readonly counts: RuntimeCounters = {
    dropped: {},
    refused: { 'not-on-roster': 0, 'inbound-cap': 0, 'protocol-version': 0 },
    disconnectedForBadFrames: 0,
    stepErrors: {},
    inputs: 0,
    effects: 0,
  }

  constructor(
    readonly selfId: string,
    private readonly node: SteppableNode,
    private readonly transport: MeshTransport,
    private readonly clock: Clock = realClock,
    private readonly log: Logger = silentLogger,
  ) {
    super()
    this.startedAt = clock.now()
  }

  /**
   * Wires the transport in and joins the mesh. Idempotent. The record this node first
   * spreads names its mesh address (`mesh`), so peers that learn of it dial it straight.
   */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    this.transport.on('connected', this.onConnected)
    this.transport.on('disconnected', this.onDisconnected)
    this.transport.on('message', this.onMessage)
    this.transport.on('bad-frame', this.onBadFrame)
    this.transport.on('rejected', this.onRejected)
    const mesh = await this.transport.bind?.()
    // A node made with its mesh address in its record is not re-signed for it.
    if (mesh && !this.closed && this.member(this.selfId)?.record?.mesh !== mesh) this.updateSelf({ mesh })
    this.input({ type: 'tick' })
    await this.transport.start()
  }

  /** Delivers one input; queued if a step is running (steps never nest). */
  input(input: MeshInput): void {
    if (this.closed) return
    this.queue.push(input)
    if (this.stepping) return
    this.stepping = true
    try {
      let next: MeshInput | undefined
      while ((next = this.queue.shift()) !== undefined) this.stepOnce(next)
    } finally {
      this.stepping = false
    }
    this.arm()
  }

  updateSelf(patch: SelfPatch): void {
    this.input({ type: 'update-self', patch })
  }

  view(): MemberView[] {
    return this.node.view()
  }

  /** One member, as view() would show it (without building the whole view). */
  member(id: string): MemberView | undefined {
    return this.node.member ? this.node.member(id) : this.node.view().find((m) => m.id === id)
  }

  now(): number {
    return this.clock.now()
  }

  counters(): RuntimeCounters & { node: object; transport: TransportStats } {
    const transport = this.transport.stats
    return { ...this.counts, disconnectedForBadFrames: transport.disconnectedForBadFrames, node: this.node.counters, transport }
  }

  /** Direct-probe round trips (ms) measured since the last call: the /metrics histogram takes them. */
  drainProbeRtts(): number[] {
    return this.node.drainProbeRtts?.() ?? []
  }

  /** Stops the timer and leaves the mesh. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.transport.off('connected', this.onConnected)
    this.transport.off('disconnected', this.onDisconnected)
    this.transport.off('message', this.onMessage)
    this.transport.off('bad-frame', this.onBadFrame)
    this.transport.off('rejected', this.onRejected)
    await this.transport.close()
  }

  private stepOnce(input: MeshInput): void {
    this.counts.inputs++
    let effects: MeshEffect[]
    try {
      effects = this.node.step(input, this.clock.now())
    } catch (err) {
      // The node must never throw; if it does, keep the process, count it, and say once per
      // input type what broke (a peer able to trigger it must not flood the log).
      const kind = input.type === 'message' ? `message.${input.msg.t}` : input.type
      const n = (this.counts.stepErrors[kind] = (this.counts.stepErrors[kind] ?? 0) + 1)
      if (n === 1) this.log.error({ component: 'mesh', node: this.selfId, input: kind, err }, 'mesh node step threw; counted in counters.stepErrors, logged once per input type')
      return
    }
    for (const effect of effects) this.carryOut(effect)
  }

  private carryOut(effect: MeshEffect): void {
    this.counts.effects++
    switch (effect.type) {
      case 'send':
        this.transport.send(effect.to, effect.msg)
        return
      case 'connect':
        this.transport.connect(effect.peer, this.member(effect.peer)?.record?.mesh, effect.grow)
        return
      case 'disconnect':
        this.transport.disconnect(effect.peer, effect.reason)
        return
      case 'event':
        this.onNodeEvent(effect.event)
        return
    }
  }

  private onNodeEvent(event: MeshEvent): void {
    if (event.type === 'member' && event.previous === undefined) {
      // Status changes are logged by the node itself; first sight of a member is ours to log,
      // at debug: a joining agent meets every member at once (N lines, ~2% of its join's CPU
      // at N=50), and the member table and watch stream already say who is there.
      this.log.debug({ component: 'mesh', node: this.selfId, member: event.id, status: event.status, inc: event.inc }, 'member joined')
    } else if (event.type === 'dropped') {
      this.countDrop(event.reason)
    }
    this.emit('event', event, this.clock.now())
  }

  /** The node logs a peer's first offence itself; here we only count, by reason. */
  private countDrop(reason: string): void {
    this.counts.dropped[reason] = (this.counts.dropped[reason] ?? 0) + 1
  }

  /**
   * One timer, at the node's next wake time. Early ticks are harmless, late ones are not:
   * a timer already armed at or before the wake time stays (it ticks early, and the tick
   * arms the next one). While a mesh forms the wake time moves with nearly every message (a
   * graft deadline set, then cleared by the copy that arrives); clearing and setting a
   * Node timer each time was ~1% of an agent's join CPU.
   */
  private arm(): void {
    if (this.closed) return
    const at = this.node.nextWakeAt()
    if (this.timer && at >= this.timerAt) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = at
    if (!Number.isFinite(at)) return
    const delay = Math.max(0, Math.min(at - this.clock.now(), 2 ** 31 - 1))
    this.timer = setTimeout(this.onTimer, delay)
  }

  private readonly onTimer = (): void => {
    this.timer = undefined
    this.timerAt = Infinity
    this.input({ type: 'tick' })
  }

  private readonly onConnected = (peer: string): void => this.input({ type: 'connected', peer })
  private readonly onDisconnected = (peer: string): void => this.input({ type: 'disconnected', peer })
  private readonly onMessage = (peer: string, msg: MeshMessage, bytes: number): void =>
    this.input({ type: 'message', from: peer, msg, bytes })
  private readonly onBadFrame = (peer: string, reason: DropReason, detail: string): void => {
    this.input({ type: 'bad-frame', from: peer, reason, detail })
  }
  private readonly onRejected = (_key: string, reason: 'not-on-roster' | 'inbound-cap' | 'protocol-version'): void => {
    this.counts.refused[reason]++
  }
}
