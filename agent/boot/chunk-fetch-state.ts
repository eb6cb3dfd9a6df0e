/**
 * What a layer fetch knows (docs/layers.md): per chunk, where it stands (missing, in
 * flight, done) and its timers; per peer, what it said it has and how it is doing; the
 * requests in flight. No IO and no timers: chunk-fetch.ts does the requests, the
 * scheduler (chunk-schedule.ts) and the pace rules (chunk-pace.ts) read and change this.
 *
 * Chunks are numbered globally, g = 0 .. total-1, over the layers in order (fileOf/idxOf
 * map g back to the layer and its chunk index).
 */
import { chunkCount, encodeWant, hasBit, setBit } from '../protocol/layer-chunks.js'
import { ChunkPace } from './chunk-pace.js'
import type { ChunkedFile } from './chunk-fetch-config.js'

export const MISSING = 0
export const INFLIGHT = 1
export const DONE = 2

export interface PeerState {
  addr: string
  bits: Map<string, Uint8Array>
  gen: number
  inflight: number
  blacklisted: boolean
  slowUntil: number
  failures: number
  dropped: boolean
  /** It answered a have poll, or failed one, at least once. */
  heard: boolean
  /** How long its chunks take: a slow peer gets one chunk at a time (PaceRules.slowPeer). */
  pace: ChunkPace
  /** Its upload cap in bytes/s as its have answer told (a running worker); undefined: uncapped or not told. */
  cap?: number
  /** Named in shoal.peers= (running workers, by the coordinator's view): the start waits longer for its first answer. */
  named?: boolean
}

export function newPeer(addr: string): PeerState {
  return { addr, bits: new Map(), gen: -1, inflight: 0, blacklisted: false, slowUntil: 0, failures: 0, dropped: false, heard: false, pace: new ChunkPace(4) }
}

/** One request in flight: its chunks not settled yet, and how to cut it off once others delivered them all. */
export interface Flight {
  pending: Set<number>
  ctl: AbortController
  /** Cut off because another source delivered its chunks first. */
  lost?: boolean
}

export class FetchState {
  /** Global chunk index g -> its layer (index into files) and its chunk index in that layer. */
  readonly fileOf: number[] = []
  readonly idxOf: number[] = []
  readonly total: number
  /** MISSING, INFLIGHT or DONE. */
  readonly state: Uint8Array
  /** Not asked of the coordinator before this (it said origin-busy, or the request failed). */
  readonly notBefore: Float64Array
  /** When the coordinator refused chunk g (0: never): it waits fallbackWait() from then, as paced at the time of asking. */
  readonly refusedAt: Float64Array
  /** The next ask of the coordinator for g is a fallback (no usable peer has it, or the coordinator named holders). */
  readonly fallback: Uint8Array
  /** Requests in flight per chunk (two while a slow peer's chunk is raced), when the first one was due, and at whom (undefined: the coordinator). */
  readonly flights: Uint8Array
  readonly dueAt: Float64Array
  readonly flightPeer: (PeerState | undefined)[]
  readonly raced: Uint8Array
  /** When a holder of chunk g first turned it away busy (503) or was cut off as slow (0: never). */
  readonly busySince: Float64Array
  /** Chunk g is being written (a verified copy arrived). */
  readonly storing: Uint8Array
  readonly inFlight = new Set<Flight>()
  readonly peers = new Map<string, PeerState>()
  /** Peers heard of but not followed yet (the followed ones are full). */
  readonly candidates: string[] = []
  remaining: number
  originInflight = 0

  constructor(readonly files: readonly Pick<ChunkedFile, 'name' | 'size' | 'chunks'>[]) {
    files.forEach((f, fi) => {
      for (let i = 0; i < chunkCount(f.size, f.chunks.bytes); i++) {
        this.fileOf.push(fi)
        this.idxOf.push(i)
      }
    })
    const total = (this.total = this.fileOf.length)
    this.remaining = total
    this.state = new Uint8Array(total)
    this.notBefore = new Float64Array(total)
    this.refusedAt = new Float64Array(total)
    this.fallback = new Uint8Array(total)
    this.flights = new Uint8Array(total)
    this.dueAt = new Float64Array(total)
    this.flightPeer = new Array(total)
    this.raced = new Uint8Array(total)
    this.busySince = new Float64Array(total)
    this.storing = new Uint8Array(total)
  }

  fileOfChunk(g: number): Pick<ChunkedFile, 'name' | 'size' | 'chunks'> {
    return this.files[this.fileOf[g]!]!
  }

  peerHas(p: PeerState, g: number): boolean {
    const bits = p.bits.get(this.fileOfChunk(g).name)
    return bits !== undefined && hasBit(bits, this.idxOf[g]!)
  }

  usable(p: PeerState): boolean {
    return !p.blacklisted && !p.dropped
  }

  /** Usable peers that have chunk g. */
  holders(g: number): number {
    let n = 0
    for (const p of this.peers.values()) if (this.usable(p) && this.peerHas(p, g)) n++
    return n
  }

  /** Peers followed now (not dropped, not blacklisted). */
  following(): number {
    let n = 0
    for (const p of this.peers.values()) if (this.usable(p)) n++
    return n
  }

  /**
   * What p's next have poll waits for: the chunks still missing here that p has not said it
   * has. p answers only when it gets one of them, not for chunks we have already: most of a
   * storm's have answers were news to nobody (each one two process wake-ups and an HTTP
   * exchange, the largest CPU cost of a shared storm).
   */
  wantOf(p: PeerState): string {
    const bits = this.files.map((f) => new Uint8Array(Math.ceil(chunkCount(f.size, f.chunks.bytes) / 8)))
    for (let g = 0; g < this.total; g++) if (this.state[g] !== DONE && !this.peerHas(p, g)) setBit(bits[this.fileOf[g]!]!, this.idxOf[g]!)
    return encodeWant(bits)
  }

  /**
   * Chunks `ks` asked of p (undefined: the coordinator) at `now`: in flight; the first
   * request for each is due `each` ms after the one before it (a run's chunks arrive in turn).
   */
  launch(ks: number[], p: PeerState | undefined, ctl: AbortController, now: number, each: number): Flight {
    ks.forEach((k, i) => {
      this.state[k] = INFLIGHT
      if (this.flights[k]++ === 0) {
        this.dueAt[k] = now + i * each
        this.flightPeer[k] = p
      }
    })
    const fl = { pending: new Set(ks), ctl }
    this.inFlight.add(fl)
    return fl
  }

  /** One request for chunk g settled (delivered, refused, failed): true when no other request for it is still out. */
  settle(fl: Flight, g: number): boolean {
    if (!fl.pending.delete(g)) return false
    this.flights[g]!--
    if (this.flights[g] === 0) this.flightPeer[g] = undefined
    return this.flights[g] === 0
  }

  /**
   * Back to missing (unless done, or another request for it is still out: 'done'); when no
   * usable peer has it, the next ask of the coordinator is a fallback ('fallback' the first time).
   */
  retryLater(g: number): 'done' | 'missing' | 'fallback' {
    if (this.state[g] === DONE || this.flights[g]! > 0) return 'done'
    this.state[g] = MISSING
    if (this.holders(g) === 0) {
      const was = this.fallback[g]
      this.fallback[g] = 1
      return was ? 'missing' : 'fallback'
    }
    return 'missing'
  }

  /** Chunk g verified and written: the flights whose chunks are all here now lost their race (returned, to cut off). */
  done(g: number): Flight[] {
    this.state[g] = DONE
    this.remaining--
    const lost: Flight[] = []
    for (const fl of this.inFlight) {
      if (fl.pending.size > 0 && [...fl.pending].every((k) => this.state[k] === DONE)) {
        fl.lost = true
        lost.push(fl)
      }
    }
    return lost
  }
}
