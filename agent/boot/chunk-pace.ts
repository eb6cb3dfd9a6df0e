/**
 * How long chunk transfers take right now, and the waits of the layer fetch that scale
 * with it (docs/layers.md). Fixed waits were right for one host load and wrong for
 * another: on a quiet host a 1 MiB chunk crosses loopback in tens of ms, on a loaded one
 * in 1-9 s, and a 2 s wait then sent chunks to the coordinator that peers were about to
 * serve (each one a quarter second of a 4 MiB/s uplink, so the storm became as slow as
 * the coordinator) and cut peers off as "stalled" that were only descheduled.
 *
 * ChunkPace keeps recent transfer times; PaceRules turns them into the fetch's decisions
 * (which peer is slow, how long to wait before a race, a busy chunk's trip to the
 * coordinator, a fallback). Pure: times come in as numbers from the fetch's clock.
 */
import { LAYER_CHUNK_BYTES } from '../protocol/layer-chunks.js'
import type { ChunkFetchConfig } from './chunk-fetch-config.js'

export class ChunkPace {
  private readonly recent: number[] = []

  /** `keep`: transfers remembered (the median of the last 16 follows load changes within a few seconds). */
  constructor(private readonly keep = 16) {}

  /** One chunk arrived `ms` after it was asked for (a run of k chunks counts its time / k each). */
  add(ms: number): void {
    if (!(ms >= 0)) return
    this.recent.push(ms)
    if (this.recent.length > this.keep) this.recent.shift()
  }

  /** Median of the recent transfers; undefined before the first. */
  median(): number | undefined {
    if (this.recent.length === 0) return undefined
    const s = [...this.recent].sort((a, b) => a - b)
    return s[Math.floor(s.length / 2)]!
  }

  /** `factor` x the median, never below `floor` (also before any transfer) nor above `cap`. */
  scaled(floor: number, factor: number, cap: number): number {
    const m = this.median()
    return Math.min(cap, Math.max(floor, m === undefined ? 0 : factor * m))
  }
}

/**
 * How long the fetch waits at its start for the peers it knows to say what they have before it
 * asks the coordinator: peerWaitMs, or peerWaitRtts x the manifest's round trip if longer (a
 * loaded host answers a first have poll no faster than it sent the manifest), at most peerWaitMaxMs.
 */
export function startWait(cfg: Pick<ChunkFetchConfig, 'peerWaitMs' | 'peerWaitRtts' | 'peerWaitMaxMs'>, startRttMs = 0): number {
  return Math.max(cfg.peerWaitMs, Math.min(cfg.peerWaitMaxMs, cfg.peerWaitRtts * startRttMs))
}

/** What the pace rules know of a peer: its own pace, and the upload cap it told (bytes/s). */
export interface PacedPeer {
  pace: ChunkPace
  cap?: number | undefined
}

export type PaceConfig = Pick<ChunkFetchConfig, 'slowPeerMs' | 'busyOriginMs' | 'raceAfterMs' | 'originRetryMs' | 'peerStallMs' | 'peerInFlight' | 'busyPauseMs' | 'slowPenaltyMs'>

/**
 * The layer fetch's pace: the peers' and the coordinator's chunk times and the waits and
 * judgements made of them. Paces are per byte, kept as the time of a whole chunk
 * (`chunkBytes`) at that rate: counted per chunk, a layer's short last chunk made a peer
 * that trickles look fast (a 12 KiB tail in 200 ms at 64 KiB/s, where its 1 MiB chunks take
 * 16 s), and it was then no longer raced. A transfer shorter than a quarter chunk is not
 * counted when it arrives: its time is mostly the round trip, which says nothing of the rate
 * (a 777-byte tail in 20 ms would be 27 s a MiB). One cut off (slow, or it lost a race) is
 * counted for that peer, as at least that slow.
 */
export class PaceRules {
  /** Chunk times from peers (every peer) and from the coordinator. */
  readonly peers = new ChunkPace()
  readonly origin = new ChunkPace()
  private readonly minBytes: number

  constructor(
    private readonly cfg: PaceConfig,
    /** A whole chunk (the manifest's chunk size, 1 MiB): the unit of every pace and wait. */
    readonly chunkBytes = LAYER_CHUNK_BYTES,
  ) {
    this.minBytes = Math.ceil(chunkBytes / 4)
  }

  /** A whole chunk's time at the rate of `bytes` in `ms`. */
  private perChunk(ms: number, bytes: number): number {
    return (ms * this.chunkBytes) / bytes
  }

  /** A peer sent `bytes` (its chunks of one request) asked for at `sentAt`; they arrived at `now`. */
  peerSent(p: PacedPeer, sentAt: number, now: number, bytes: number): void {
    if (bytes < this.minBytes) return
    const t = this.perChunk(now - sentAt, bytes)
    this.peers.add(t)
    p.pace.add(t)
  }

  /**
   * A transfer from p was cut off at `now` (slow, or it lost a race) with `bytes` of it
   * received: its rate is what it sent by then, for p's own pace (at most a quarter chunk in
   * that time: its round trip is in it). Counted as the whole request's time, a trickler cut
   * off when the coordinator's copy won looked as fast as the coordinator and was not raced again.
   */
  peerCut(p: PacedPeer, sentAt: number, now: number, bytes: number): void {
    p.pace.add(this.perChunk(now - sentAt, Math.max(bytes, this.minBytes)))
  }

  /** The coordinator sent `bytes` asked for at `sentAt`. */
  originSent(sentAt: number, now: number, bytes: number): void {
    if (bytes >= this.minBytes) this.origin.add(this.perChunk(now - sentAt, bytes))
  }

  /** Median chunk time of the storm now (peers and coordinator, the faster); undefined before any transfer. */
  stormPace(): number | undefined {
    const m = Math.min(this.origin.median() ?? Infinity, this.peers.median() ?? Infinity)
    return m === Infinity ? undefined : m
  }

  /**
   * A peer whose chunks take over twice what peers' chunks take (and over slowPeerMs): a capped
   * running worker among many askers. Against peers, not the coordinator: measured against the
   * coordinator's quicker chunks, booting peers on a loaded host counted as slow, and a plain
   * storm took 41 s instead of 22-30 s (more races, 8.6% of its bytes thrown away).
   */
  slowPeer(p: PacedPeer): boolean {
    const m = this.peerPace(p)
    // Until a peer has sent a chunk, the coordinator's pace is the only one to go by (a peer
    // that only ever had transfers cut off, a trickler alone among the peers).
    const ref = this.peers.median() ?? this.origin.median()
    return m !== undefined && ref !== undefined && m > this.cfg.slowPeerMs && m > 2 * ref
  }

  /** A whole chunk's time at p's told upload cap, all of it for one asker; undefined: uncapped, or not told. */
  capChunkMs(p: PacedPeer): number | undefined {
    return p.cap ? (this.chunkBytes * 1000) / p.cap : undefined
  }

  /** p's chunk time: what its transfers showed, never quicker than its cap allows; undefined: nothing known. */
  peerPace(p: PacedPeer): number | undefined {
    const m = p.pace.median()
    const c = this.capChunkMs(p)
    return m === undefined ? c : c === undefined ? m : Math.max(m, c)
  }

  /** Its pace is known: it sent (or was cut off) at least once, or told its cap. */
  known(p: PacedPeer): boolean {
    return this.peerPace(p) !== undefined
  }

  /**
   * A peer whose cap alone makes a chunk take over slowPeerMs: one chunk per request, one
   * request at a time, whatever the others' pace (a run of 4 chunks at 0.84 MiB/s is 4.8 s;
   * a second request only waits behind the first for the same cap, or is turned away busy).
   */
  thin(p: PacedPeer): boolean {
    return (this.capChunkMs(p) ?? 0) > this.cfg.slowPeerMs
  }

  /** Requests in flight at p at most: one for a slow or thin peer. */
  peerLimit(p: PacedPeer): number {
    return this.slowPeer(p) || this.thin(p) ? 1 : this.cfg.peerInFlight
  }

  /** A peer that turned a request away busy is not asked again for this long: busyPauseMs, or a chunk's time at its cap (its slot frees no sooner), at most slowPenaltyMs. */
  busyPause(p: PacedPeer): number {
    return Math.min(this.cfg.slowPenaltyMs, Math.max(this.cfg.busyPauseMs, this.capChunkMs(p) ?? 0))
  }

  /** A chunk its holders turned away busy goes to the coordinator after this. */
  busyWait(): number {
    return Math.min(10_000, Math.max(this.cfg.busyOriginMs, 2 * (this.peers.median() ?? 0)))
  }

  /** A chunk at a peer of unknown pace is raced after this. */
  raceAfter(): number {
    return Math.min(30_000, Math.max(this.cfg.raceAfterMs, 3 * (this.stormPace() ?? 0)))
  }

  /** A slow peer's chunk is raced once a faster source would have sent it: twice the peers' chunk time (at least slowPeerMs). */
  raceSlowAfter(): number {
    return Math.min(this.raceAfter(), Math.max(this.cfg.slowPeerMs, 2 * (this.peers.median() ?? 0)))
  }

  /**
   * When a chunk at p is raced, past its due time: a slow peer's after raceSlowAfter, but not
   * before twice a chunk's time at its told cap (what it was expected to take; a running
   * worker's first chunks come from its burst, so its capped ones looked slow against them,
   * and one booting worker among three running raced 2 of 8 chunks to the coordinator); a
   * peer of unknown pace after raceAfter.
   */
  raceAfterAt(p: PacedPeer): number {
    if (!this.slowPeer(p)) return this.raceAfter()
    return Math.min(30_000, Math.max(this.raceSlowAfter(), 2 * (this.capChunkMs(p) ?? 0)))
  }

  /**
   * How long a chunk the coordinator refused waits for a peer to show it before it is asked
   * for as a fallback: its holders must get it from the coordinator and we from them, so
   * twice the time both take now, never below originRetryMs, at most 30 s.
   */
  fallbackWait(): number {
    return Math.min(30_000, Math.max(this.cfg.originRetryMs, 2 * ((this.origin.median() ?? 0) + (this.peers.median() ?? 0))))
  }

  /** A peer transfer that sends nothing for this long is cut off: peerStallMs, up to 4x while peers' chunks take that long anyway. */
  stallMs(): number {
    return this.peers.scaled(this.cfg.peerStallMs, 1, 4 * this.cfg.peerStallMs)
  }

  /** When the i-th chunk of a run asked of p at `now` is due (a run's chunks arrive in turn). */
  dueEach(p: PacedPeer | undefined): number {
    return (p && this.peerPace(p)) ?? 0
  }
}
