/**
 * VoteRuntime: runs the pure VoteNode (agent/protocol/vote) inside a process that already
 * runs the mesh, with the same driving rules as the mesh runtime: one input at a time,
 * effects in order, a `persist` effect finished (awaited) before any later effect of the
 * same step — a vote is on disk before it leaves — and one timer at `nextWakeAt()`.
 *
 * Wiring: vote `broadcast` -> mesh `broadcast`, vote `send` -> mesh `send-app` (direct or
 * addressed along the tree), both on VOTE_TOPIC; mesh `app` events on VOTE_TOPIC -> vote
 * `message`; wave-control messages (WAVE_CONTROL_TOPIC) -> the WaveGate; record and member
 * events -> `view-changed`. Lease events are re-emitted for the executor and the API.
 */
import { EventEmitter } from 'node:events'
import { pack, unpack } from '../protocol/frame.js'
import type { MeshEvent, MeshInput } from '../protocol/mesh-types.js'
import { silentLogger, type Clock, type Logger, type Store } from '../protocol/ports.js'
import { decodeVoteMessage, encodeVoteMessage, VOTE_TOPIC, type Lease, type PersistedVote, type VoteEffect, type VoteInput, type VoteNode } from '../protocol/vote/index.js'
import { WAVE_CONTROL_TOPIC, type WaveGate } from '../protocol/wave-control.js'

/** What the vote needs of the mesh runtime (agent/mesh MeshRuntime satisfies it). */
export interface MeshPort {
  input(input: MeshInput): void
  on(event: 'event', listener: (event: MeshEvent, at: number) => void): unknown
  off(event: 'event', listener: (event: MeshEvent, at: number) => void): unknown
}

export interface VoteRuntimeEvents {
  'lease-acquired': [lease: Lease]
  'lease-released': [lease: Lease]
  'lease-lost': [lease: Lease, reason: string]
  /** The view the vote judges by may have changed (for the WaveGate and the API). */
  'view-changed': []
}

export interface VoteRuntimeOptions {
  vote: VoteNode
  mesh: MeshPort
  clock: Clock
  /** Where promises survive a process restart (level in production). Absent: memory only. */
  store?: Store
  gate?: WaveGate
  logger?: Logger
}

export const VOTE_STATE_KEY = 'vote/state'

/** Reads what the vote persisted, if anything, for a process restart (not a RAM boot). */
export async function loadPersistedVote(store: Store, key = VOTE_STATE_KEY): Promise<PersistedVote | undefined> {
  const bytes = await store.get(key)
  if (!bytes) return undefined
  try {
    return unpack(bytes) as PersistedVote
  } catch {
    return undefined
  }
}

export class VoteRuntime extends EventEmitter<VoteRuntimeEvents> {
  readonly counters: Record<string, number> = {}
  private readonly vote: VoteNode
  private readonly mesh: MeshPort
  private readonly clock: Clock
  private readonly store: Store | undefined
  private readonly gate: WaveGate | undefined
  private readonly log: Logger
  private readonly queue: VoteInput[] = []
  private running = false
  private timer: NodeJS.Timeout | undefined
  private viewDirty = false
  /** Members whose records or liveness changed in the burst under way; undefined: something else changed too (a control message), anyone may look different. */
  private viewChangedIds: Set<string> | undefined = new Set()
  private closed = false
  private started = false

  constructor(opts: VoteRuntimeOptions) {
    super()
    this.vote = opts.vote
    this.mesh = opts.mesh
    this.clock = opts.clock
    this.store = opts.store
    this.gate = opts.gate
    this.log = opts.logger ?? silentLogger
  }

  start(): void {
    if (this.started) return
    this.started = true
    this.mesh.on('event', this.onMeshEvent)
    this.input({ type: 'tick' })
  }

  /** Queues an input; steps run one at a time, in order. */
  input(input: VoteInput): void {
    if (this.closed) return
    this.queue.push(input)
    void this.drain()
  }

  /** Resolves once every queued input has been stepped and its effects carried out. */
  async idle(): Promise<void> {
    while (this.running || this.queue.length > 0) await new Promise<void>((r) => setImmediate(r))
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.mesh.off('event', this.onMeshEvent)
    if (this.timer) clearTimeout(this.timer)
  }

  private readonly onMeshEvent = (event: MeshEvent): void => {
    if (event.type === 'app') {
      if (event.topic === VOTE_TOPIC) {
        const d = decodeVoteMessage(event.body)
        if (!d.ok) return this.count(`dropped.${d.reason}`)
        this.input({ type: 'message', from: event.from, msg: d.msg })
      } else if (event.topic === WAVE_CONTROL_TOPIC && this.gate) {
        let raw: unknown
        try {
          raw = unpack(event.body)
        } catch {
          return this.count('dropped.malformed')
        }
        if (this.gate.onControl(raw) === 'new') this.viewChanged(undefined)
      }
      return
    }
    if (event.type === 'record' || event.type === 'member') this.viewChanged(event.id)
  }

  /**
   * Many gossip events arrive together: one `view-changed` per burst, naming the members
   * whose records or liveness changed (the vote then skips a change that concerns nobody
   * it watches: agent/protocol/vote/view-change.ts). A control message can change how any
   * member looks (a node verb's subject): that burst names nobody.
   */
  private viewChanged(id: string | undefined): void {
    if (id === undefined) this.viewChangedIds = undefined
    else this.viewChangedIds?.add(id)
    if (this.viewDirty) return
    this.viewDirty = true
    setImmediate(() => {
      this.viewDirty = false
      const changed = this.viewChangedIds
      this.viewChangedIds = new Set()
      this.emit('view-changed')
      this.input(changed ? { type: 'view-changed', changed } : { type: 'view-changed' })
    })
  }

  private async drain(): Promise<void> {
    if (this.running) return
    this.running = true
    try {
      let next: VoteInput | undefined
      while (!this.closed && (next = this.queue.shift()) !== undefined) {
        let effects: VoteEffect[]
        try {
          effects = this.vote.step(next, this.clock.now())
        } catch (err) {
          // A bug in the state machine must not take the agent down; it is logged and counted.
          this.count('step-errors')
          this.log.error({ component: 'vote', err }, 'vote step threw')
          continue
        }
        for (const e of effects) await this.carryOut(e)
      }
    } finally {
      this.running = false
    }
    this.arm()
  }

  private async carryOut(e: VoteEffect): Promise<void> {
    switch (e.type) {
      case 'broadcast': {
        this.mesh.input({ type: 'broadcast', topic: VOTE_TOPIC, body: encodeVoteMessage(e.msg) })
        return
      }
      case 'send':
        this.mesh.input({ type: 'send-app', to: e.to, topic: VOTE_TOPIC, body: encodeVoteMessage(e.msg) })
        return
      case 'persist':
        if (this.store) await this.store.put(e.key, pack(e.state))
        return
      case 'lease-acquired':
        this.log.info({ component: 'vote', lease: e.lease }, 'lease acquired')
        this.emit('lease-acquired', e.lease)
        return
      case 'lease-released':
        this.log.info({ component: 'vote', lease: e.lease }, 'lease released')
        this.emit('lease-released', e.lease)
        return
      case 'lease-lost':
        this.log.warn({ component: 'vote', lease: e.lease, reason: e.reason }, 'lease lost')
        this.emit('lease-lost', e.lease, e.reason)
        return
      case 'dropped':
        this.count(`dropped.${e.reason}`)
        return
    }
  }

  private arm(): void {
    if (this.closed) return
    if (this.timer) clearTimeout(this.timer)
    const at = this.vote.nextWakeAt()
    if (!Number.isFinite(at)) return
    const delay = Math.max(0, Math.min(at - this.clock.now(), 2 ** 31 - 1))
    this.timer = setTimeout(() => this.input({ type: 'tick' }), delay)
    this.timer.unref?.()
  }

  private count(name: string): void {
    this.counters[name] = (this.counters[name] ?? 0) + 1
  }
}
