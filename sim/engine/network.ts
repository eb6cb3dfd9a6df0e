/**
 * The in-memory network's rules: latency, loss, duplication, reordering and partitions,
 * plus the traffic counters. It decides *whether and when* a frame arrives; the
 * Simulation owns the links and carries the decision out on the event queue.
 *
 * Model, and where it departs from the real transport (hyperswarm over UDX):
 * - A link is a connection between two node instances. Frames on one direction of a link
 *   arrive in send order (like a stream) unless `reorderProbability` says otherwise.
 * - `lossProbability` and `duplicateProbability` act per frame. UDX streams are reliable,
 *   so these are fault injection, a harsher world than production, not a model of it.
 * - A partition drops every frame between the sides, including frames already in flight;
 *   a real stream would hold them and deliver after a short cut, so again harsher.
 *   Connections that stay cut for `linkTimeoutMs` are closed on both sides, as the
 *   transport's keep-alive would.
 * - A crashed machine is silent: no FIN, no RST. Frames to it vanish; its peers learn of
 *   it only through the protocol, or when `linkTimeoutMs` closes their side.
 */
import type { LatencyModel } from './latency.js'
import { latencyPresets } from './latency.js'
import type { SimRng } from './rng.js'

export interface NetworkConfig {
  /** One-way latency per frame. Default: the LAN preset, 0.1–1 ms. */
  latency: LatencyModel
  /** Probability a frame is silently lost. Default 0: UDX streams are reliable. */
  lossProbability: number
  /** Probability a frame is delivered twice (the copy with its own latency). Default 0. */
  duplicateProbability: number
  /** Probability a frame leaves its link's send order and arrives up to `reorderExtraMs` late. Default 0. */
  reorderProbability: number
  /** Extra delay of a reordered frame: uniform in [0, this). Default 5 ms: beyond the LAN latency spread. */
  reorderExtraMs: number
  /** A connect to a node that is down, unknown or cut off fails after this long. 3 s: a hyperdht connect attempt's order of magnitude. */
  connectTimeoutMs: number
  /** A link whose other end is silent (crashed, cut off) is closed after this long. 13 s: the UDX ETIMEDOUT seen on loopback. */
  linkTimeoutMs: number
  /** Links the engine opens for a node that starts, modelling the hyperswarm DHT topic lookup. 3: a lookup's first answers. */
  bootstrapPeers: number
  /** Bytes of framing added to every message (the u32 length prefix of agent/protocol/frame.ts). */
  frameOverheadBytes: number
}

export const defaultNetworkConfig: Readonly<NetworkConfig> = Object.freeze({
  latency: latencyPresets.lan,
  lossProbability: 0,
  duplicateProbability: 0,
  reorderProbability: 0,
  reorderExtraMs: 5,
  connectTimeoutMs: 3000,
  linkTimeoutMs: 13_000,
  bootstrapPeers: 3,
  frameOverheadBytes: 4,
})

export function networkConfig(overrides: Partial<NetworkConfig> = {}): NetworkConfig {
  for (const k of Object.keys(overrides)) {
    if (!(k in defaultNetworkConfig)) throw new RangeError(`unknown network option "${k}"; known: ${Object.keys(defaultNetworkConfig).join(', ')}`)
  }
  const c = { ...defaultNetworkConfig, ...overrides }
  for (const k of ['lossProbability', 'duplicateProbability', 'reorderProbability'] as const) {
    if (!(c[k] >= 0 && c[k] <= 1)) throw new RangeError(`${k} must be in [0, 1], got ${c[k]}`)
  }
  for (const k of ['reorderExtraMs', 'connectTimeoutMs', 'linkTimeoutMs', 'bootstrapPeers', 'frameOverheadBytes'] as const) {
    if (!(c[k] >= 0) || !Number.isFinite(c[k])) throw new RangeError(`${k} must be a finite number >= 0, got ${c[k]}`)
  }
  return c
}

/** What happened to frames, network-wide. */
export interface NetworkStats {
  /** Frames handed to the network by a node (with a link to send on). */
  sent: number
  delivered: number
  /** Dropped by `lossProbability`. */
  lost: number
  /** Extra copies made by `duplicateProbability`. */
  duplicated: number
  /** Delivered out of their link's send order on purpose (`reorderProbability`). */
  reordered: number
  /** Dropped because sender and receiver were on different sides of a partition. */
  cut: number
  /** Sent to a crashed node, or still in flight when the link closed or its receiver crashed. */
  vanished: number
  /** A node sent to a peer it had no open link to (a protocol bug or a race; the frame is not sent). */
  noLink: number
  /** Delivered bytes the codec rejected (handed to the node as `bad-frame`). */
  badFrames: number
  connectsOpened: number
  connectsFailed: number
  /** Links closed because their other end went silent for `linkTimeoutMs`. */
  linkTimeouts: number
}

export function emptyNetworkStats(): NetworkStats {
  return { sent: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0, cut: 0, vanished: 0, noLink: 0, badFrames: 0, connectsOpened: 0, connectsFailed: 0, linkTimeouts: 0 }
}

/** One node id's traffic, summed over all its boots. Bytes include framing. */
export interface NodeTraffic {
  sentBytes: number
  recvBytes: number
  sentFrames: number
  recvFrames: number
}

/**
 * Partition membership: every node is on side 0 unless a partition put it elsewhere.
 * Two nodes can talk when they are on the same side.
 */
export class Partitions {
  private side = new Map<string, number>()
  /** Bumped on every change, so a pending timeout can tell whether its cut still stands. */
  epoch = 0

  /** Each listed group becomes its own side; nodes in no group share side 0. */
  set(groups: Iterable<Iterable<string>>): void {
    this.side = new Map()
    let i = 1
    for (const g of groups) {
      for (const id of g) {
        if (this.side.has(id)) throw new RangeError(`node ${id} is in two partition groups`)
        this.side.set(id, i)
      }
      i++
    }
    this.epoch++
  }

  heal(): void {
    this.side = new Map()
    this.epoch++
  }

  get active(): boolean {
    return this.side.size > 0
  }

  reachable(a: string, b: string): boolean {
    if (this.side.size === 0) return true
    return (this.side.get(a) ?? 0) === (this.side.get(b) ?? 0)
  }
}

/**
 * When (if at all) each copy of one frame arrives. `lastAt` is the link direction's
 * latest scheduled arrival, for stream order; returns the arrival times and the new lastAt.
 */
export function planArrivals(cfg: NetworkConfig, rng: SimRng, stats: NetworkStats, now: number, lastAt: number): { times: number[]; lastAt: number } {
  if (rng.chance(cfg.lossProbability)) {
    stats.lost++
    return { times: [], lastAt }
  }
  const copies = rng.chance(cfg.duplicateProbability) ? 2 : 1
  if (copies === 2) stats.duplicated++
  const times: number[] = []
  for (let c = 0; c < copies; c++) {
    let at = now + cfg.latency(rng)
    if (rng.chance(cfg.reorderProbability)) {
      stats.reordered++
      at += rng.uniform(0, cfg.reorderExtraMs)
    } else {
      // Stream order: never before an earlier frame of the same direction.
      at = Math.max(at, lastAt)
      lastAt = at
    }
    times.push(at)
  }
  return { times, lastAt }
}
