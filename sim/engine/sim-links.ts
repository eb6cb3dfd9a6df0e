/**
 * The simulator's network between processes: links opening, carrying frames and closing,
 * as a transport (hyperswarm's secret streams) does for the agent. Simulation owns the
 * instances, the clock and the queue; this owns what happens on the wire between them:
 * a `send` effect encoded to real bytes and counted, its arrivals planned by the network
 * model (network.ts), decoded again at delivery; `connect` answered by an open link or a
 * failure; closes told to each side in the order a real transport would.
 *
 * Split from simulation.ts with no change in behaviour: every draw from the network's
 * random stream and every queue push happens in the order it did, so a seed's output is
 * byte-identical.
 */
import { DropReason } from '../../agent/protocol/errors.js'
import type { MeshEffect, MeshInput } from '../../agent/protocol/mesh-types.js'
import { decodeMessage, encodeMessage, type Decoded, type OutMessage } from '../../agent/protocol/messages.js'
import type { EventQueue } from './event-queue.js'
import { planArrivals, type NetworkConfig, type NetworkStats, type NodeTraffic, type Partitions } from './network.js'
import type { SimRng } from './rng.js'

/** The inputs the engine itself produces. A process's input type must include these. */
export type EngineInput = Extract<MeshInput, { type: 'tick' | 'message' | 'bad-frame' | 'connected' | 'disconnected' }>

/** Wire codec; the default is the mesh's own (encodeMessage / decodeMessage). */
export interface Codec {
  encode(msg: unknown): Uint8Array
  decode(bytes: Uint8Array): Decoded
}
export const meshCodec: Codec = { encode: (m) => encodeMessage(m as OutMessage), decode: decodeMessage }

/** One started process of an id (a restart makes a new one). */
export interface Instance<P> {
  id: string
  proc: P
  boot: number
  up: boolean
  links: Map<string, Link<P>>
  /** This id's traffic counters (shared by all its instances). */
  traffic: NodeTraffic
  /** A later instance of the same id has started: this one is gone for good. */
  replaced: boolean
  /** Time of the valid pending tick (Infinity: none). */
  wakeAt: number
  /** Until this virtual time the process is frozen (a GC pause, an overloaded CPU): its inputs wait. */
  stalledUntil: number
  ticksAtSameTime: number
  lastTickAt: number
}

export interface Link<P> {
  a: Instance<P>
  /** Undefined while a connect to a down/unknown/cut-off peer waits to fail. */
  b: Instance<P> | undefined
  state: 'opening' | 'open' | 'closed'
  lastAtoB: number
  lastBtoA: number
  /** Set when a node closed the link on purpose: its frames already sent still arrive (a graceful close). */
  closer: Instance<P> | undefined
}

export type SimEvent<P, I> =
  | { k: 'tick'; inst: Instance<P> }
  | { k: 'deliver'; link: Link<P>; from: Instance<P>; to: Instance<P>; bytes: Uint8Array }
  | { k: 'open'; link: Link<P> }
  | { k: 'connect-failed'; link: Link<P>; peer: string }
  | { k: 'closed'; inst: Instance<P>; link: Link<P>; peer: string }
  | { k: 'connected'; inst: Instance<P>; link: Link<P>; peer: string }
  | { k: 'link-timeout'; link: Link<P>; epoch: number }
  | { k: 'input'; inst: Instance<P>; input: I }
  | { k: 'call'; fn: () => void }

/** The link events: the part of the queue's events this file handles. */
export type LinkEvent<P, I> = Extract<SimEvent<P, I>, { k: 'deliver' | 'open' | 'connect-failed' | 'closed' | 'connected' | 'link-timeout' }>

/** What the links need of the simulation that owns them. */
export interface LinkHost<P, I> {
  readonly queue: EventQueue<SimEvent<P, I>>
  readonly instances: ReadonlyMap<string, Instance<P>>
  readonly network: NetworkConfig
  readonly stats: NetworkStats
  readonly partitions: Partitions
  readonly netRng: SimRng
  readonly codec: Codec
  /** Virtual ms now. */
  now(): number
  /** Steps `inst` with `input` (held if it is stalled). */
  step(inst: Instance<P>, input: I | EngineInput): void
}

export class SimLinks<P, I> {
  /** Frames and bytes sent, by message type (the `t` field), for tuning the protocol. */
  readonly byType = new Map<string, { frames: number; bytes: number }>()
  private lastEncoded: { msg: unknown; bytes: Uint8Array } | undefined

  constructor(private readonly host: LinkHost<P, I>) {}

  /** Carries out one link event taken off the queue. */
  handle(ev: LinkEvent<P, I>): void {
    const h = this.host
    switch (ev.k) {
      case 'deliver': {
        const { link, from, to } = ev
        const inFlight = link.state === 'open' || (link.state === 'closed' && link.closer === from)
        if (!inFlight || !to.up || !current(to)) {
          h.stats.vanished++
          return
        }
        if (!h.partitions.reachable(from.id, to.id)) {
          h.stats.cut++
          return
        }
        const size = ev.bytes.length + h.network.frameOverheadBytes
        const tr = to.traffic
        tr.recvBytes += size
        tr.recvFrames++
        h.stats.delivered++
        const d = h.codec.decode(ev.bytes)
        if (d.ok) {
          // A newer minor's update kinds inside a delta: reported like an unknown type.
          if (d.ignored) for (const type of d.ignored) h.step(to, { type: 'bad-frame', from: from.id, reason: DropReason.unknownType, detail: type })
          h.step(to, { type: 'message', from: from.id, msg: d.msg, bytes: size })
        } else {
          h.stats.badFrames++
          h.step(to, { type: 'bad-frame', from: from.id, reason: d.reason, detail: d.detail })
        }
        return
      }
      case 'open': {
        const { link } = ev
        if (link.state !== 'opening') return
        const b = link.b!
        if (link.a.up && b.up && current(link.a) && current(b) && h.partitions.reachable(link.a.id, b.id)) {
          link.state = 'open'
          h.stats.connectsOpened++
          h.step(link.a, { type: 'connected', peer: b.id })
          if (link.state === 'open' && b.up) h.step(b, { type: 'connected', peer: link.a.id })
        } else {
          // Something changed while the handshake was in flight: it fails for whoever is left.
          h.stats.connectsFailed++
          this.close(link, undefined)
        }
        return
      }
      case 'connect-failed': {
        if (ev.link.state === 'closed') return
        h.stats.connectsFailed++
        this.close(ev.link, undefined)
        return
      }
      case 'connected':
        if (ev.link.state === 'open' && ev.inst.up) h.step(ev.inst, { type: 'connected', peer: ev.peer })
        return
      case 'closed':
        if (ev.inst.links.get(ev.peer) === ev.link) ev.inst.links.delete(ev.peer)
        if (ev.inst.up && current(ev.inst)) h.step(ev.inst, { type: 'disconnected', peer: ev.peer })
        return
      case 'link-timeout': {
        const { link } = ev
        if (link.state !== 'open' || !link.b) return
        const silent = !link.a.up || !link.b.up || (ev.epoch >= 0 && !h.partitions.reachable(link.a.id, link.b.id))
        if (!silent) return
        h.stats.linkTimeouts++
        this.close(link, undefined)
        return
      }
    }
  }

  /** `inst` powered off: each of its open links goes silent and times out at the far end. */
  crashed(inst: Instance<P>): void {
    const h = this.host
    for (const link of inst.links.values()) {
      if (link.state === 'open') h.queue.push(h.now() + h.network.linkTimeoutMs, { k: 'link-timeout', link, epoch: -1 })
    }
  }

  /** A partition now stands: every open link it cuts times out (each once, from its `a` side). */
  cut(): void {
    const h = this.host
    const epoch = h.partitions.epoch
    for (const inst of h.instances.values()) {
      if (!inst.up) continue
      for (const link of inst.links.values()) {
        if (link.a === inst && link.b && link.state === 'open' && !h.partitions.reachable(link.a.id, link.b.id)) {
          h.queue.push(h.now() + h.network.linkTimeoutMs, { k: 'link-timeout', link, epoch })
        }
      }
    }
  }

  /** A `send` effect: encoded (once per message object fanned out), counted by type, put on the link. */
  send(src: Instance<P>, eff: Extract<MeshEffect, { type: 'send' }>): void {
    const h = this.host
    const link = src.links.get(eff.to)
    if (link?.state === 'closed') {
      // The far end closed; this side has not heard yet. The write goes nowhere.
      h.stats.vanished++
      return
    }
    if (!link || link.state !== 'open') {
      h.stats.noLink++
      return
    }
    // One message object fanned out to many peers is encoded once.
    const cached = this.lastEncoded
    let bytes: Uint8Array
    if (cached !== undefined && cached.msg === eff.msg) bytes = cached.bytes
    else {
      bytes = h.codec.encode(eff.msg)
      this.lastEncoded = { msg: eff.msg, bytes }
    }
    const type = String((eff.msg as { t?: unknown }).t ?? '?')
    let bt = this.byType.get(type)
    if (!bt) this.byType.set(type, (bt = { frames: 0, bytes: 0 }))
    bt.frames++
    bt.bytes += bytes.length + h.network.frameOverheadBytes
    this.transmit(src, link, bytes)
  }

  /** Puts `bytes` on `link` from `src`: counted as sent, arrivals planned by the network model. */
  transmit(src: Instance<P>, link: Link<P>, bytes: Uint8Array): void {
    const h = this.host
    const tr = src.traffic
    tr.sentBytes += bytes.length + h.network.frameOverheadBytes
    tr.sentFrames++
    h.stats.sent++
    const forward = link.a === src
    const dst = forward ? link.b! : link.a
    if (!dst.up) {
      h.stats.vanished++
      return
    }
    if (!h.partitions.reachable(src.id, dst.id)) {
      h.stats.cut++
      return
    }
    const now = h.now()
    const plan = planArrivals(h.network, h.netRng, h.stats, now, forward ? link.lastAtoB : link.lastBtoA)
    if (forward) link.lastAtoB = plan.lastAt
    else link.lastBtoA = plan.lastAt
    for (const at of plan.times) h.queue.push(at, { k: 'deliver', link, from: src, to: dst, bytes })
  }

  /** A `connect` effect (or a starting node's bootstrap): every connect gets an answer. */
  connect(src: Instance<P>, peer: string): void {
    const h = this.host
    if (peer === src.id) return
    let existing = src.links.get(peer)
    if (existing?.state === 'open') {
      const far = existing.a === src ? existing.b : existing.a
      const now = h.instances.get(peer)
      if (far !== now && now?.up) {
        // The peer rebooted since this connection was made: dialling it finds the new
        // instance, and the dead connection is dropped (this side hears it at once).
        this.close(existing, undefined)
        existing = undefined
      }
    }
    if (existing?.state === 'open') {
      // Already connected: answer anyway (every connect gets an answer), as a transport would.
      h.queue.push(h.now(), { k: 'connected', inst: src, link: existing, peer })
      return
    }
    if (existing) return // a handshake under way (either direction) or a close not yet heard: that answers it
    const dst = h.instances.get(peer)
    if (dst?.up && h.partitions.reachable(src.id, peer)) {
      const stale = dst.links.get(src.id)
      // The peer still holds a link to an earlier instance of src: the transport replaces it.
      if (stale) this.close(stale, undefined)
      const link: Link<P> = { a: src, b: dst, state: 'opening', lastAtoB: 0, lastBtoA: 0, closer: undefined }
      src.links.set(peer, link)
      dst.links.set(src.id, link)
      h.queue.push(h.now() + h.network.latency(h.netRng), { k: 'open', link })
    } else {
      const link: Link<P> = { a: src, b: undefined, state: 'opening', lastAtoB: 0, lastBtoA: 0, closer: undefined }
      src.links.set(peer, link)
      h.queue.push(h.now() + h.network.connectTimeoutMs, { k: 'connect-failed', link, peer })
    }
  }

  /** A `disconnect` effect: `src` closes its link to `peer` gracefully. */
  disconnect(src: Instance<P>, peer: string): void {
    const link = src.links.get(peer)
    if (!link || link.state === 'closed') return
    this.close(link, src)
  }

  /**
   * Closes `link`. A link still opening only tells its initiator, whose connect failed.
   * An open link is closed on both sides and each side that is up hears `disconnected`:
   * - closed by a node (`closer`): a graceful close. The closer hears at once and can no
   *   longer send; frames it already sent still arrive, and the far side hears after
   *   them, one latency later. Frames toward the closer vanish.
   * - closed by the network (keep-alive timeout, a replaced connection): both sides at
   *   once, and every frame in flight vanishes.
   */
  private close(link: Link<P>, closer: Instance<P> | undefined): void {
    const h = this.host
    const wasOpen = link.state === 'open'
    const wasOpening = link.state === 'opening'
    if (link.state === 'closed') return
    link.state = 'closed'
    link.closer = closer
    for (const [self, other] of [
      [link.a, link.b],
      [link.b, link.a],
    ] as const) {
      if (!self) continue
      const peerId = other ? other.id : [...self.links.entries()].find(([, l]) => l === link)?.[0]
      if (peerId === undefined || self.links.get(peerId) !== link) continue
      const tell = self.up && current(self) && (wasOpen || (wasOpening && self === link.a))
      if (!tell) {
        self.links.delete(peerId)
        continue
      }
      const now = h.now()
      let at = now
      if (wasOpen && closer !== undefined && self !== closer) {
        // After the closer's last frame (same-instant events run in scheduling order).
        at = Math.max(now + h.network.latency(h.netRng), closer === link.a ? link.lastAtoB : link.lastBtoA)
      } else {
        self.links.delete(peerId) // the side that knows already holds no link
      }
      h.queue.push(at, { k: 'closed', inst: self, link, peer: peerId })
    }
  }
}

/** Not replaced by a later instance of its id. */
export function current<P>(inst: Instance<P>): boolean {
  return !inst.replaced
}
