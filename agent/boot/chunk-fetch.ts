/**
 * Fetches a version's layers chunk by chunk from peers and, for what no peer has, from the
 * coordinator (docs/layers.md). Every chunk is checked against the signed manifest's
 * sha256 before it is written into the layer file, and only then is it offered to others
 * (ChunkServer.markVerified): nothing unverified is kept, served or mounted.
 *
 * This file does the requests and the loop; the rest is split by concern:
 * - chunk-fetch-state.ts: what the fetch knows (each chunk, each peer, the requests out);
 * - chunk-peers.ts: following peers (have polls, the tracker, the holders a refusal names);
 * - chunk-schedule.ts: which chunk next and from whom (peers, races, the coordinator);
 * - chunk-pace.ts: the pace rules (a slow peer, the waits that scale with the storm).
 *
 * - The coordinator hands a chunk out at most twice while its holders live; a third asker
 *   gets 429 `chunk-at-peers` naming the holders and waits for a peer to show the chunk,
 *   then asks again with `x-shoal-chunk-fallback: 1` (a fallback, always served).
 * - A peer that sends a chunk whose sha256 is wrong is blacklisted for this boot; one that
 *   stalls or takes longer than `peerChunkTimeoutMs` for a chunk is skipped for a while;
 *   either way the chunk goes to another peer or, when no other peer has it, to the
 *   coordinator as a fallback.
 * Requests go through agent/http's bounded client (node:http, the initramfs has node's
 * built-ins only) over one keep-alive agent. Config, input and stats: chunk-fetch-config.ts.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { Agent } from 'node:http'
import { HttpClientError, httpExchange } from '../http/http-client.js'
import { ShoalError } from '../protocol/errors.js'
import { chunkHeaders, chunkSpan, layerRoutes, sha256Hex } from '../protocol/layer-chunks.js'
import { shuffle } from '../protocol/random.js'
import { chunkFetchDefaults, noStats, type ChunkFetchConfig, type ChunkFetchInput, type ChunkFetchStats } from './chunk-fetch-config.js'
import { DONE, FetchState, MISSING, type PeerState } from './chunk-fetch-state.js'
import { PaceRules, startWait } from './chunk-pace.js'
import { PeerFollowing, type PeerContext } from './chunk-peers.js'
import { schedule, type Scheduler } from './chunk-schedule.js'

export async function fetchChunks(input: ChunkFetchInput, cfg: ChunkFetchConfig = chunkFetchDefaults): Promise<ChunkFetchStats> {
  return new ChunkFetch(input, cfg).run()
}

class ChunkFetch implements PeerContext {
  readonly t0: number
  readonly agent = new Agent({ keepAlive: true, maxSockets: 4 })
  readonly base: string
  readonly st: FetchState
  readonly stats: ChunkFetchStats
  readonly pace: PaceRules
  readonly peerFollowing: PeerFollowing
  readonly controllers = new Set<AbortController>()
  closed = false
  private readonly handles: FileHandle[] = []
  private readonly scheduler: Scheduler
  private kick: () => void = () => undefined
  /** Pauses that end early when the fetch ends (the tracker's 5-10 s must not hold up its return). */
  private readonly pauses = new Set<() => void>()

  constructor(
    readonly input: ChunkFetchInput,
    readonly cfg: ChunkFetchConfig,
  ) {
    this.t0 = input.clock.now()
    this.base = input.coordinator.replace(/\/+$/, '')
    this.st = new FetchState(input.files)
    this.stats = noStats(this.st.total, input.files.reduce((s, f) => s + f.size, 0))
    this.pace = new PaceRules(cfg, Math.max(1, ...input.files.map((f) => f.chunks.bytes)))
    this.peerFollowing = new PeerFollowing(this)
    this.scheduler = {
      st: this.st,
      pace: this.pace,
      cfg,
      peerWaitMs: startWait(cfg, input.startRttMs),
      rng: input.rng,
      stats: this.stats,
      t0: this.t0,
      io: { fromPeer: (p, ks) => this.fromPeer(p, ks), fromOrigin: (g, fallback) => this.fromOrigin(g, fallback), trace: (line) => input.trace?.(line) },
    }
  }

  now(): number {
    return this.input.clock.now()
  }

  wake(): void {
    this.kick()
  }

  trace(line: string): void {
    this.input.trace?.(`${this.now() - this.t0} ${line}`)
  }

  delay(ms: number): Promise<void> {
    // Once the fetch has ended, no pause: a tracker answer that came in after the end started a
    // fresh 5 s pause, and the fetch's return waited for it (a storm's slowest worker, 4 storms in 14).
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t)
        this.pauses.delete(done)
        resolve()
      }
      const t = setTimeout(done, ms)
      this.pauses.add(done)
    })
  }

  async run(): Promise<ChunkFetchStats> {
    const { input, cfg, st } = this
    for (const f of input.files) {
      const h = await open(f.path, 'w')
      await h.truncate(f.size)
      this.handles.push(h)
    }
    this.peerFollowing.add(shuffle([...input.peers], input.rng))
    for (const a of input.peers) {
      const p = st.peers.get(a)
      if (p) p.named = true
    }
    const tracking = this.peerFollowing.track()
    /** Since when no request is out while chunks are missing (NaN: requests are out). */
    let idleSince = NaN
    try {
      while (st.remaining > 0) {
        if (cfg.deadlineMs > 0 && this.now() - this.t0 > cfg.deadlineMs) {
          throw new ShoalError('layer-fetch-timeout', `layers of ${input.version}: ${st.remaining} of ${st.total} chunks still missing after ${cfg.deadlineMs} ms`)
        }
        let tick: NodeJS.Timeout | undefined
        const woken = new Promise<void>((resolve) => {
          this.kick = resolve
          tick = setTimeout(resolve, 1000)
        })
        const now = this.now()
        const wakeAt = schedule(this.scheduler, now)
        if (wakeAt < Infinity) setTimeout(() => this.wake(), Math.max(1, wakeAt - now))
        // Waiting on a timer with nothing out: counted (waits.idleMs), it tells a stalled fetch from a slow one.
        if (st.inFlight.size === 0 && Number.isNaN(idleSince)) idleSince = now
        else if (st.inFlight.size > 0 && !Number.isNaN(idleSince)) {
          this.stats.waits.idleMs += now - idleSince
          idleSince = NaN
        }
        await woken
        clearTimeout(tick)
      }
    } finally {
      this.closed = true
      this.kick()
      for (const c of this.controllers) c.abort()
      for (const p of [...this.pauses]) p()
      await tracking.catch(() => undefined)
      this.agent.destroy()
      for (const h of this.handles) await h.close().catch(() => undefined)
    }
    this.stats.ms = this.now() - this.t0
    return this.stats
  }

  /** Chunk g back to missing after a failed or refused request (a fallback when no usable peer has it). */
  private retryLater(g: number): void {
    if (this.st.retryLater(g) === 'fallback') this.trace(`chunk ${g}: no usable peer has it; next ask of the coordinator is a fallback`)
  }

  /**
   * Chunks `ks` (consecutive, one layer) from p in one Range request. Each chunk is verified
   * on its own; a bad one blacklists p.
   */
  private fromPeer(p: PeerState, ks: number[]): void {
    const { st, stats, input, cfg, pace } = this
    const g = ks[0]!
    const last = ks[ks.length - 1]!
    const n = ks.length
    const f = st.fileOfChunk(g)
    p.inflight++
    const first = chunkSpan(f.size, f.chunks.bytes, st.idxOf[g]!)
    const end = chunkSpan(f.size, f.chunks.bytes, st.idxOf[last]!).end
    const want = end - first.start + 1
    const ctl = new AbortController()
    this.controllers.add(ctl)
    const fl = st.launch(ks, p, ctl, this.now(), pace.dueEach(p))
    this.asked(ks)
    const url = `http://${p.addr}${layerRoutes.layers}/${encodeURIComponent(input.version)}/${encodeURIComponent(f.name)}`
    const sent = this.now()
    const back = (busy = false) => {
      for (const k of ks) {
        if (!st.settle(fl, k)) continue
        if (busy && st.busySince[k] === 0) st.busySince[k] = this.now()
        this.retryLater(k)
      }
    }
    // Slow (the deadline for the run, or the stall: phase timeout) skips the peer a while.
    httpExchange(url, { agent: this.agent, headers: { range: `bytes=${first.start}-${end}` }, timeoutMs: cfg.peerChunkTimeoutMs * n, maxBytes: want, signal: ctl.signal, idleMs: pace.stallMs() })
      .then(async (r) => {
        this.trace(`peer ${p.addr} chunks ${g}-${last}: ${r.status} after ${this.now() - sent} ms`)
        if (r.status === 503) {
          // Its upload slots are full: another peer, or this one a moment later.
          stats.waits.busy++
          const pause = pace.busyPause(p)
          p.slowUntil = this.now() + pause
          setTimeout(() => this.wake(), pause)
          return back(true)
        }
        if (r.status !== 206 || r.body.length !== want) {
          // It does not have them after all (or answered nonsense): forget what it said it has.
          p.bits.get(f.name)?.fill(0)
          p.gen = -1
          return back()
        }
        pace.peerSent(p, sent, this.now(), want)
        for (const k of ks) {
          const alone = st.settle(fl, k)
          const span = chunkSpan(f.size, f.chunks.bytes, st.idxOf[k]!)
          const body = r.body.subarray(span.start - first.start, span.end - first.start + 1)
          if (sha256Hex(body) !== f.chunks.sha256[st.idxOf[k]!]) {
            stats.badChunks++
            stats.wastedBytes += body.length
            if (!p.blacklisted) {
              p.blacklisted = true
              stats.blacklisted.push(p.addr)
              input.say?.(`peer ${p.addr} sent a chunk of ${f.name} that does not match the signed manifest: not using that peer again this boot`)
              this.peerFollowing.fill()
            }
            if (alone) this.retryLater(k)
            continue
          }
          if (!(await this.store(k, body, p.cap ? 'c' : 'p'))) continue
          if (p.cap) stats.waits.cappedChunks++
          stats.peerChunks++
          stats.peerBytes += body.length
        }
      })
      .catch((err) => {
        this.trace(`peer ${p.addr} chunks ${g}-${last}: ${(err as Error).message} after ${this.now() - sent} ms`)
        if (err instanceof HttpClientError && err.phase === 'timeout' && !this.closed) {
          stats.slowPeers++
          stats.wastedBytes += err.received
          p.slowUntil = this.now() + cfg.slowPenaltyMs
          // Counted over what was asked: a stalled booting peer is mostly one the loaded host did
          // not schedule, and over what it had sent (often nothing) it counted as 4x its stall.
          pace.peerCut(p, sent, this.now(), want)
          return back(true)
        }
        // Lost a race: its pace is what it sent by then (a trickler counted over what was asked looked as fast as the winner).
        if (fl.lost) pace.peerCut(p, sent, this.now(), err instanceof HttpClientError ? err.received : 0)
        back()
      })
      .finally(() => {
        this.controllers.delete(ctl)
        st.inFlight.delete(fl)
        back()
        p.inflight--
        this.wake()
      })
  }

  private fromOrigin(g: number, isFallback: boolean): void {
    const { st, stats, input, cfg, pace } = this
    st.originInflight++
    const f = st.fileOfChunk(g)
    const span = chunkSpan(f.size, f.chunks.bytes, st.idxOf[g]!)
    const headers: Record<string, string> = { range: `bytes=${span.start}-${span.end}` }
    if (input.self) headers[chunkHeaders.peer] = input.self
    if (isFallback) this.trace(`origin chunk ${g}: fallback; following ${[...st.peers.values()].filter((p) => st.usable(p)).length} peers, ${st.candidates.length} candidates waiting`)
    if (isFallback) headers[chunkHeaders.fallback] = '1'
    const ctl = new AbortController()
    this.controllers.add(ctl)
    const fl = st.launch([g], undefined, ctl, this.now(), 0)
    this.asked([g])
    const sent = this.now()
    httpExchange(`${this.base}/images/${encodeURIComponent(input.version)}/${encodeURIComponent(f.name)}`, { agent: this.agent, headers, timeoutMs: cfg.originTimeoutMs, maxBytes: span.end - span.start + 1, signal: ctl.signal })
      .then(async (r) => {
        this.trace(`origin chunk ${g}${isFallback ? ' (fallback)' : ''}: ${r.status}`)
        if (r.status === 429) {
          if (st.settle(fl, g) && st.state[g] !== DONE) st.state[g] = MISSING
          const named = String(r.headers[chunkHeaders.holders] ?? '')
            .split(',')
            .filter((a) => /^[A-Za-z0-9.-]+:\d{1,5}$/.test(a))
          if (named.length === 0) {
            // origin-busy: come back when told.
            st.notBefore[g] = this.now() + Math.min(10_000, Math.max(50, Number(r.headers[chunkHeaders.retryMs]) || 500))
            return
          }
          // chunk-at-peers: follow its holders; if none of them shows it in time, a fallback.
          // A race refused: the slow peer still has the chunk; race it again to the holders named.
          stats.refusals++
          st.raced[g] = 0
          st.fallback[g] = 1
          st.refusedAt[g] = this.now()
          this.peerFollowing.add(named, true)
          return
        }
        if (r.status !== 206 || r.body.length !== span.end - span.start + 1) throw new Error(`HTTP ${r.status}`)
        if (sha256Hex(r.body) !== f.chunks.sha256[st.idxOf[g]!]) {
          stats.badChunks++
          stats.wastedBytes += r.body.length
          throw new Error('chunk from the coordinator does not match the signed manifest')
        }
        pace.originSent(sent, this.now(), r.body.length)
        st.settle(fl, g)
        if (!(await this.store(g, r.body, 'o'))) return
        stats.originChunks++
        stats.originBytes += r.body.length
        if (isFallback) stats.fallbacks++
      })
      .catch(() => {
        if (!st.settle(fl, g) || st.state[g] === DONE || this.closed) return
        st.state[g] = MISSING
        st.notBefore[g] = this.now() + 1000
      })
      .finally(() => {
        this.controllers.delete(ctl)
        st.inFlight.delete(fl)
        if (st.settle(fl, g) && st.state[g] !== DONE) st.state[g] = MISSING
        st.originInflight--
        this.wake()
      })
  }

  /** Chunks `ks` asked for once more (waits.chunks: the first time, and how many requests). */
  private asked(ks: number[]): void {
    for (const k of ks) {
      const c = this.stats.waits.chunks[k]!
      if (c[3]++ === 0) c[0] = this.now() - this.t0
    }
  }

  /** Writes verified chunk g (from `src`: 'o' the coordinator, 'c' a capped peer, 'p' another); false when another copy got here first (thrown away, counted as wasted). */
  private async store(g: number, body: Buffer, src: 'o' | 'c' | 'p'): Promise<boolean> {
    const { st } = this
    // Both sides of a race may deliver: the second copy is thrown away, also while the first is being written
    // (counted twice, `remaining` reached 0 with a chunk never written: the layer's whole hash caught it).
    if (st.state[g] === DONE || st.storing[g]) {
      this.stats.wastedBytes += body.length
      return false
    }
    st.storing[g] = 1
    const f = st.fileOfChunk(g)
    const span = chunkSpan(f.size, f.chunks.bytes, st.idxOf[g]!)
    await this.handles[st.fileOf[g]!]!.write(body, 0, body.length, span.start)
    // The losing side of a race: its chunks are all here now, its upload slot is someone else's.
    const lost = st.done(g)
    const w = this.stats.waits
    const at = this.now() - this.t0
    w.chunks[g]![1] = at
    w.chunks[g]![2] = src
    if (w.firstChunkMs < 0) w.firstChunkMs = at
    this.input.server?.markVerified(f.name, st.idxOf[g]!)
    for (const fl of lost) fl.ctl.abort()
    return true
  }
}
