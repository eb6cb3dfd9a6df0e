/**
 * The layer fetch's tuning (each value with its reason), what a fetch is given, and the
 * figures it returns (chunk-fetch.ts does the fetching).
 */
import type { Clock, Rng } from '../protocol/ports.js'
import type { LayerChunks } from '../protocol/layer-chunks.js'
import type { ChunkServer } from './chunk-server.js'

export interface ChunkFetchConfig {
  /** Peers followed at once: 8 spreads load over a rack without every worker polling every other. */
  maxPeers: number
  /**
   * Peers followed at most when the coordinator's refusals name holders: 24. A holder is
   * followed past maxPeers because it is the sure source of the chunk it was handed.
   */
  holderPeers: number
  /** Requests in flight per peer: 2 keeps a peer's pipe busy; deeper queues made duplicates (hypercore measured +72%). */
  peerInFlight: number
  /** Consecutive chunks asked of a peer in one request, at most: 4 (4 MiB, Kraken's piece size); each is still verified on its own. */
  peerRunChunks: number
  /** Requests in flight to the coordinator: 2. */
  originInFlight: number
  /**
   * A peer that sends nothing for this long while a chunk is due is slow: the chunk goes
   * elsewhere. 2 s at least; up to 4x that while chunks take that long anyway (a loaded
   * host: the peer is descheduled, not slow; see chunk-pace.ts).
   */
  peerStallMs: number
  /** A peer that takes longer than this for one chunk, even trickling, is slow too. 15 s (1 MiB: 70 KB/s). */
  peerChunkTimeoutMs: number
  /**
   * After a 429 from the coordinator, wait at least this long for a peer to show the chunk
   * before a fallback: 8 s, more while transfers are slow (chunk-fetch.ts fallbackWait).
   * The holders it names may still be queued at the coordinator behind a rack's first
   * copies (16 chunks of an 8 MiB image at 4 MiB/s: 4 s): with 2 s, 34 of a 25-worker
   * storm's chunks went back to the coordinator as fallbacks on a lightly loaded host.
   */
  originRetryMs: number
  /** Deadline of one request to the coordinator. */
  originTimeoutMs: number
  /** How often the tracker is asked for more peers while fewer than maxPeers are followed (5x as often once they are: to stay registered). */
  trackerIntervalMs: number
  /** Deadline of one have poll: 30 s, well past the server's hold (chunk-server.ts haveWaitMs, 15 s). */
  havePollTimeoutMs: number
  /** Pause before asking a peer that did not answer its have poll again (it may still be booting). */
  haveRetryMs: number
  /** A slow peer is skipped this long: 4 s (10 s kept the only holders of a chunk out of reach on a loaded host). */
  slowPenaltyMs: number
  /** A peer whose upload slots are full (503) is skipped this long: 150 ms; a peer that told its upload cap, a chunk's time at that cap if longer (at most slowPenaltyMs). */
  busyPauseMs: number
  /** At the start, the coordinator is asked only once every known peer said what it has, or after this long: 500 ms (see peerWaitRtts). */
  peerWaitMs: number
  /**
   * ... or after this many times the manifest's round trip (ChunkFetchInput.startRttMs) if
   * longer, at most peerWaitMaxMs: 3. On a loaded host the running workers named in
   * shoal.peers= took longer than 500 ms to answer a first have poll (the manifest itself took
   * 0.5-1.1 s); every booting worker then asked the coordinator for two chunks at once, the
   * broker handed every chunk out twice in the first second, each worker's two origin requests
   * sat 4-7 s in its queue, and the storm with running workers took 2-3x as long as with
   * answers in time (docs/layers.md "What a worker waited on"). 0: the fixed 500 ms alone.
   */
  peerWaitRtts: number
  /** The longest start wait for peers: 5 s (a named peer that never answers costs at most this). */
  peerWaitMaxMs: number
  /**
   * A chunk whose holders answered 503 busy (or were cut off as slow) and that no holder has
   * taken since goes to the coordinator after this long, or twice a peer chunk's time now if
   * longer (at most 10 s): 2 s. Asked without the fallback flag, so the broker still hands it
   * out at most twice and names the booting workers that got it. Without it, a storm among
   * running workers (capped, holding every chunk) sent every chunk to them: the coordinator
   * sat idle and the storm took 1.8x as long as without running workers (docs/layers.md).
   */
  busyOriginMs: number
  /**
   * A peer whose chunks take over twice as long as peers' chunks (median of the last 16;
   * paced per byte, as a whole chunk's time) and over this long is slow: one chunk per request, one request at a time, only chunks no
   * peer that is not slow has, and its chunk is raced after twice the storm's chunk time (at
   * least this; also the peers' median), so it holds few chunks while faster sources get them: 500 ms (1 MiB at
   * 2 MiB/s). A peer is also asked for one chunk per request until its first transfer showed its pace.
   */
  slowPeerMs: number
  /**
   * A chunk in flight at a peer of unknown pace longer than this, or 3x the storm's chunk time
   * if longer, is asked of a faster holder, or of the coordinator (not as a fallback), too: the
   * first verified copy is kept. 4 s.
   */
  raceAfterMs: number
  /** The whole fetch gives up after this (0: never; the boot's retry starts it again). */
  deadlineMs: number
}

export const chunkFetchDefaults: Readonly<ChunkFetchConfig> = Object.freeze({
  maxPeers: 8,
  holderPeers: 24,
  peerInFlight: 2,
  peerRunChunks: 4,
  originInFlight: 2,
  peerStallMs: 2000,
  peerChunkTimeoutMs: 15_000,
  originRetryMs: 8000,
  originTimeoutMs: 30_000,
  trackerIntervalMs: 1000,
  havePollTimeoutMs: 30_000,
  haveRetryMs: 500,
  slowPenaltyMs: 4000,
  busyPauseMs: 150,
  peerWaitMs: 500,
  peerWaitRtts: 3,
  peerWaitMaxMs: 5000,
  busyOriginMs: 2000,
  slowPeerMs: 500,
  raceAfterMs: 4000,
  deadlineMs: 0,
})

export interface ChunkedFile {
  name: string
  size: number
  chunks: LayerChunks
  /** Where the layer is assembled (created, sized, written at chunk offsets). */
  path: string
}

export interface ChunkFetchInput {
  /** Coordinator base URL. */
  coordinator: string
  version: string
  files: readonly ChunkedFile[]
  /** This worker's own chunk server, HOST:PORT (told to the tracker and the coordinator). */
  self?: string
  /** This worker's failure domain: the tracker names peers of the same domain first. */
  domain?: string
  /** Peers to start with (shoal.peers=). */
  peers: readonly string[]
  /** How long the manifest took to come, ms: a round trip to the coordinator on this network and host, now (the start's wait for peers scales with it). */
  startRttMs?: number
  /** Where verified chunks are announced to other workers. */
  server?: ChunkServer
  clock: Clock
  rng: Rng
  say?(line: string): void
  /** Debugging: one line per request outcome. */
  trace?(line: string): void
}

export interface ChunkFetchStats {
  chunks: number
  bytes: number
  originChunks: number
  originBytes: number
  peerChunks: number
  peerBytes: number
  /** Bytes received and thrown away: bad chunks, transfers cut off as slow. */
  wastedBytes: number
  /** Chunks the coordinator served as fallbacks (after a refusal, or a peer that failed). */
  fallbacks: number
  /** 429 chunk-at-peers answers. */
  refusals: number
  badChunks: number
  blacklisted: string[]
  slowPeers: number
  /** Chunks asked of a second source because the first (a slow peer) had not sent them in time. */
  races: number
  /** Chunks asked of the coordinator (not as fallbacks) because every peer that has them was busy. */
  busyToOrigin: number
  peersSeen: number
  ms: number
  /** What the fetch waited on (docs/layers.md "What a worker waited on"): cheap, always kept. */
  waits: ChunkFetchWaits
}

/**
 * What a fetch waited on, for explaining a slow storm after the fact (the storm bench reports
 * it per worker). Times in ms from the fetch's start.
 */
export interface ChunkFetchWaits {
  /** The first chunk verified (-1: none yet). */
  firstChunkMs: number
  /** When every peer shoal.peers= named had first answered its have poll (or failed it): -1 none named, or not all yet. */
  namedHeardMs: number
  /** Chunks from peers that told an upload cap (running workers); the rest of peerChunks came from uncapped (booting) peers. */
  cappedChunks: number
  /** 503 busy answers from peers. */
  busy: number
  /** Time with chunks missing and no request out: waiting on a timer (the start's wait for peers, a busy chunk's or a fallback's wait, a retry). */
  idleMs: number
  /**
   * Per chunk (global index g): [first asked, verified, source, requests]; source 'o' the
   * coordinator, 'c' a capped peer, 'p' another peer, '' not yet.
   */
  chunks: [number, number, string, number][]
}

/** The figures of a fetch of `chunks` chunks (`bytes` in all) before it began. */
export function noStats(chunks: number, bytes: number): ChunkFetchStats {
  return {
    chunks,
    bytes,
    originChunks: 0,
    originBytes: 0,
    peerChunks: 0,
    peerBytes: 0,
    wastedBytes: 0,
    fallbacks: 0,
    refusals: 0,
    badChunks: 0,
    blacklisted: [],
    slowPeers: 0,
    races: 0,
    busyToOrigin: 0,
    peersSeen: 0,
    ms: 0,
    waits: { firstChunkMs: -1, namedHeardMs: -1, cappedChunks: 0, busy: 0, idleMs: 0, chunks: Array.from({ length: chunks }, () => [-1, -1, '', 0]) },
  }
}
