/**
 * Fetches a version's layers chunk by chunk from peers and, for what no peer has, from the
 * coordinator (docs/layers.md). Every chunk is checked against the signed manifest's
 * sha256 before it is written into the layer file, and only then is it offered to others
 * (ChunkServer.markVerified): nothing unverified is kept, served or mounted.
 *
 * - Peers: those of shoal.peers=, those the coordinator's tracker names, and those its
 *   refusals name as holders; at most `maxPeers` are followed, each by a long poll of its
 *   have map. A chunk some peer has goes to a peer (rarest first, random tie-break, at most
 *   `peerInFlight` per peer); a chunk nobody has goes to the coordinator, random order, so
 *   a rack spreads over the image instead of all asking for chunk 0.
 * - The coordinator hands a chunk out at most twice while its holders live; a third asker
 *   gets 429 `chunk-at-peers` naming the holders and waits `originRetryMs` for a peer to
 *   show the chunk, then asks again with `x-shoal-chunk-fallback: 1` (a fallback, always
 *   served).
 * - A peer that sends a chunk whose sha256 is wrong is blacklisted for this boot; one that
 *   stalls `peerStallMs` or takes longer than `peerChunkTimeoutMs` for a chunk is skipped for a while; either way
 *   the chunk goes to another peer or, when no other peer has it, to the coordinator as a
 *   fallback.
 * Requests go through agent/http's bounded client (node:http, the initramfs has node's
 * built-ins only) over one keep-alive agent. Config, input and stats: chunk-fetch-config.ts.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { Agent } from 'node:http'
import { HttpClientError, httpExchange } from '../http/http-client.js'
import { ShoalError } from '../protocol/errors.js'
import { chunkCount, chunkHeaders, chunkSpan, decodeBits, encodeWant, HaveAnswer, hasBit, layerRoutes, LayerPeers, setBit, sha256Hex } from '../protocol/layer-chunks.js'
import { Backoff } from '../protocol/backoff.js'
import { shuffle } from '../protocol/random.js'
import { chunkFetchDefaults, noStats, type ChunkFetchConfig, type ChunkFetchInput, type ChunkFetchStats } from './chunk-fetch-config.js'
import { ChunkPace } from './chunk-pace.js'

interface PeerState {
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
  /** How long its chunks take (per chunk): a slow peer gets one chunk at a time (slowPeer). */
  pace: ChunkPace
}

/** One request in flight: its chunks not settled yet, and how to cut it off once others delivered them all. */
interface Flight {
  pending: Set<number>
  ctl: AbortController
  /** Cut off because another source delivered its chunks first. */
  lost?: boolean
}

const MISSING = 0
const INFLIGHT = 1
const DONE = 2

export async function fetchChunks(input: ChunkFetchInput, cfg: ChunkFetchConfig = chunkFetchDefaults): Promise<ChunkFetchStats> {
  const { clock, rng } = input
  const t0 = clock.now()
  const agent = new Agent({ keepAlive: true, maxSockets: 4 })
  const base = input.coordinator.replace(/\/+$/, '')
  // Global chunk index g -> (file, chunk).
  const fileOf: number[] = []
  const idxOf: number[] = []
  input.files.forEach((f, fi) => {
    for (let i = 0; i < chunkCount(f.size, f.chunks.bytes); i++) {
      fileOf.push(fi)
      idxOf.push(i)
    }
  })
  const total = fileOf.length
  const state = new Uint8Array(total)
  const notBefore = new Float64Array(total)
  /** When the coordinator refused chunk g (0: never): it waits fallbackWait() from then, as paced at the time of asking. */
  const refusedAt = new Float64Array(total)
  const fallback = new Uint8Array(total)
  /** Requests in flight per chunk (two while a slow peer's chunk is raced), when the first one was due, and at whom (undefined: the coordinator). */
  const flights = new Uint8Array(total)
  const dueAt = new Float64Array(total)
  const flightPeer: (PeerState | undefined)[] = new Array(total)
  const raced = new Uint8Array(total)
  /** When a holder of chunk g first turned it away busy (503) or was cut off as slow (0: never). */
  const busySince = new Float64Array(total)
  const inFlight = new Set<Flight>()
  /** Chunk g is being written (a verified copy arrived). */
  const storing = new Uint8Array(total)
  let remaining = total
  const stats = noStats(total, input.files.reduce((s, f) => s + f.size, 0))
  const handles: FileHandle[] = []
  for (const f of input.files) {
    const h = await open(f.path, 'w')
    await h.truncate(f.size)
    handles.push(h)
  }

  const peers = new Map<string, PeerState>()
  const candidates: string[] = []
  /** How long chunks take from peers and from the coordinator now: the waits below scale with it. */
  const peerPace = new ChunkPace()
  const originPace = new ChunkPace()
  const following = () => {
    let n = 0
    for (const p of peers.values()) if (!p.dropped && !p.blacklisted) n++
    return n
  }
  /**
   * `holders`: named by the coordinator as having a chunk we need. They are followed at once,
   * past maxPeers (up to holderPeers): they are the sure source of that chunk, and a holder
   * left among the candidates made the chunk a fallback, a second trip over the uplink.
   */
  const addCandidates = (addrs: readonly string[], holders = false) => {
    for (const a of addrs) {
      if (a === input.self || peers.has(a)) continue
      if (holders && following() < cfg.holderPeers) {
        const at = candidates.indexOf(a)
        if (at >= 0) candidates.splice(at, 1)
        follow(a)
      } else if (!candidates.includes(a)) candidates.push(a)
    }
    fillPeers()
  }
  let originInflight = 0
  let closed = false
  let kick: () => void = () => undefined
  const wake = () => kick()
  const controllers = new Set<AbortController>()

  function fillPeers(): void {
    while (!closed && candidates.length > 0 && following() < cfg.maxPeers) follow(candidates.shift()!)
  }

  function follow(addr: string): void {
    if (closed) return
    const p: PeerState = { addr, bits: new Map(), gen: -1, inflight: 0, blacklisted: false, slowUntil: 0, failures: 0, dropped: false, heard: false, pace: new ChunkPace(4) }
    peers.set(addr, p)
    stats.peersSeen++
    void followPeer(p)
  }

  async function followPeer(p: PeerState): Promise<void> {
    while (!closed && !p.blacklisted && !p.dropped) {
      const ctl = new AbortController()
      controllers.add(ctl)
      try {
        const r = await httpExchange(`http://${p.addr}${layerRoutes.layers}/${encodeURIComponent(input.version)}/have?after=${p.gen}&want=${wantOf(p)}`, { agent, timeoutMs: cfg.havePollTimeoutMs, maxBytes: 256 * 1024, signal: ctl.signal })
        if (r.status === 404) {
          // Not a chunk server for this version (an agent that predates chunks, another image).
          p.dropped = true
          p.heard = true
          wake()
          fillPeers()
          return
        }
        if (r.status !== 200) throw new Error(`HTTP ${r.status}`)
        const parsed = HaveAnswer.safeParse(JSON.parse(r.body.toString('utf8')))
        if (!parsed.success || parsed.data.version !== input.version) throw new Error('bad have answer')
        p.failures = 0
        p.heard = true
        p.gen = parsed.data.gen
        input.trace?.(`${clock.now() - t0} have ${p.addr} gen ${p.gen}`)
        input.files.forEach((f) => {
          const b64 = parsed.data.files[f.name]
          if (b64 !== undefined) p.bits.set(f.name, decodeBits(b64, chunkCount(f.size, f.chunks.bytes)))
        })
        wake()
      } catch (err) {
        if (closed) return
        input.trace?.(`${clock.now() - t0} have ${p.addr} failed: ${(err as Error).message}`)
        p.failures++
        p.heard = true
        wake()
        // A peer that never answers (not up, or not a chunk server) makes room for another.
        if (p.failures >= 6) {
          p.dropped = true
          fillPeers()
          return
        }
        await delay(cfg.haveRetryMs * Math.min(p.failures, 4))
      } finally {
        controllers.delete(ctl)
      }
    }
  }

  /**
   * What p's next have poll waits for: the chunks still missing here that p has not said it
   * has. p answers only when it gets one of them, not for chunks we have already: most of a
   * storm's have answers were news to nobody (each one two process wake-ups and an HTTP
   * exchange, the largest CPU cost of a shared storm).
   */
  function wantOf(p: PeerState): string {
    const bits = input.files.map((f) => new Uint8Array(Math.ceil(chunkCount(f.size, f.chunks.bytes) / 8)))
    for (let g = 0; g < total; g++) if (state[g] !== DONE && !peerHas(p, g)) setBit(bits[fileOf[g]!]!, idxOf[g]!)
    return encodeWant(bits)
  }

  function peerHas(p: PeerState, g: number): boolean {
    const bits = p.bits.get(input.files[fileOf[g]!]!.name)
    return bits !== undefined && hasBit(bits, idxOf[g]!)
  }
  const usable = (p: PeerState) => !p.blacklisted && !p.dropped
  function holders(g: number): number {
    let n = 0
    for (const p of peers.values()) if (usable(p) && peerHas(p, g)) n++
    return n
  }

  function schedule(): void {
    const now = clock.now()
    const order = shuffle([...peers.values()].filter((p) => usable(p) && p.slowUntil <= now), rng)
    const count = new Uint16Array(total)
    /** Holders that are not slow: a slow peer gets only chunks none of them has. */
    const fast = new Uint16Array(total)
    for (const p of peers.values()) {
      if (!usable(p)) continue
      const slow = slowPeer(p)
      for (let g = 0; g < total; g++) {
        if (state[g] === MISSING && peerHas(p, g)) {
          count[g]!++
          if (!slow) fast[g]!++
        }
      }
    }
    for (const p of order) {
      const slow = slowPeer(p)
      while (p.inflight < peerLimit(p)) {
        let best = -1
        let bestCount = Infinity
        let ties = 0
        for (let g = 0; g < total; g++) {
          if (state[g] !== MISSING || !peerHas(p, g) || (slow && fast[g]! > 0)) continue
          const c = count[g]!
          if (c < bestCount) {
            best = g
            bestCount = c
            ties = 1
          } else if (c === bestCount && rng.int(++ties) === 0) best = g
        }
        if (best < 0) break
        fromPeer(p, best)
      }
    }
    race(now)
    // Ask the coordinator only for what the peers we know of do not have, or what their holders were too busy to send.
    const waitPeers = now - t0 < cfg.peerWaitMs && [...peers.values()].some((p) => usable(p) && !p.heard)
    if (waitPeers) setTimeout(wake, Math.max(1, cfg.peerWaitMs - (now - t0)))
    while (!waitPeers && originInflight < cfg.originInFlight) {
      let pick = -1
      let seen = 0
      let soonest = Infinity
      for (let g = 0; g < total; g++) {
        if (state[g] !== MISSING) continue
        const busy = count[g]! > 0
        // A chunk its holders turned away (and none took since), asked once, not as a fallback: the broker still caps the copies.
        if (busy && !(busySince[g]! > 0 && refusedAt[g] === 0)) continue
        const due = Math.max(notBefore[g]!, busy ? busySince[g]! + busyWait() : refusedAt[g]! > 0 ? refusedAt[g]! + fallbackWait() : 0)
        if (due > now) {
          soonest = Math.min(soonest, due)
          continue
        }
        if (rng.int(++seen) === 0) pick = g
      }
      if (pick < 0) {
        if (soonest < Infinity) setTimeout(wake, Math.max(1, soonest - now))
        break
      }
      if (count[pick]! > 0) stats.busyToOrigin++
      fromOrigin(pick, count[pick] === 0 && fallback[pick] === 1)
    }
  }

  /** Median chunk time of the storm now (peers and coordinator, the faster); undefined before any transfer. */
  function stormPace(): number | undefined {
    const m = Math.min(originPace.median() ?? Infinity, peerPace.median() ?? Infinity)
    return m === Infinity ? undefined : m
  }

  /**
   * A peer whose chunks take over twice what peers' chunks take (and over slowPeerMs): a capped
   * running worker among many askers. Against peers, not the coordinator: measured against the
   * coordinator's quicker chunks, booting peers on a loaded host counted as slow, and a plain
   * storm took 41 s instead of 22-30 s (more races, 8.6% of its bytes thrown away).
   */
  function slowPeer(p: PeerState): boolean {
    const m = p.pace.median()
    const ref = peerPace.median()
    return m !== undefined && ref !== undefined && m > cfg.slowPeerMs && m > 2 * ref
  }
  const peerLimit = (p: PeerState) => (slowPeer(p) ? 1 : cfg.peerInFlight)
  const busyWait = () => Math.min(10_000, Math.max(cfg.busyOriginMs, 2 * (peerPace.median() ?? 0)))
  const raceAfter = () => Math.min(30_000, Math.max(cfg.raceAfterMs, 3 * (stormPace() ?? 0)))
  /** A slow peer's chunk is raced once a faster source would have sent it: twice the storm's chunk time (at least slowPeerMs). */
  const raceSlowAfter = () => Math.min(raceAfter(), Math.max(cfg.slowPeerMs, 2 * (peerPace.median() ?? 0)))

  /**
   * A chunk a slow peer (or one of unknown pace) has had for longer than raceAfter() past its due time is asked of a
   * faster holder, or else of the coordinator (without the fallback flag: the broker's cap
   * holds), once; the first verified copy is kept and the other request is cut off.
   */
  function race(now: number): void {
    const after = raceAfter()
    const slowAfter = raceSlowAfter()
    let soonest = Infinity
    for (let g = 0; g < total; g++) {
      const at = flightPeer[g]
      // Only at a slow peer, or one whose pace is not known yet: racing chunks among booting peers on a
      // loaded host threw away 7.5% of a storm's bytes (each one CPU the storm is short of).
      if (state[g] !== INFLIGHT || flights[g] !== 1 || raced[g] || at === undefined) continue
      const slow = slowPeer(at)
      if (!slow && at.pace.median() !== undefined) continue
      const due = dueAt[g]! + (slow ? slowAfter : after)
      if (due > now) {
        soonest = Math.min(soonest, due)
        continue
      }
      const other = [...peers.values()].find((q) => q !== at && usable(q) && q.slowUntil <= now && q.inflight < peerLimit(q) && !slowPeer(q) && peerHas(q, g))
      if (other) {
        raced[g] = 1
        stats.races++
        input.trace?.(`${now - t0} race chunk ${g}: ${at.addr} -> ${other.addr}`)
        fromPeer(other, g, true)
      } else if (originInflight < cfg.originInFlight && refusedAt[g] === 0 && notBefore[g]! <= now) {
        raced[g] = 1
        stats.races++
        input.trace?.(`${now - t0} race chunk ${g}: ${at.addr} -> coordinator`)
        fromOrigin(g, false)
      }
    }
    if (soonest < Infinity) setTimeout(wake, Math.max(1, soonest - now))
  }

  /** One request for chunk g settled (delivered, refused, failed): true when no other request for it is still out. */
  function settle(fl: Flight, g: number): boolean {
    if (!fl.pending.delete(g)) return false
    flights[g]!--
    if (flights[g] === 0) flightPeer[g] = undefined
    return flights[g] === 0
  }

  function launch(ks: number[], p: PeerState | undefined, ctl: AbortController): Flight {
    const now = clock.now()
    const each = p?.pace.median() ?? 0
    ks.forEach((k, i) => {
      state[k] = INFLIGHT
      if (flights[k]++ === 0) {
        dueAt[k] = now + i * each
        flightPeer[k] = p
      }
    })
    const fl = { pending: new Set(ks), ctl }
    inFlight.add(fl)
    return fl
  }

  /**
   * Chunk g and the following ones of the same file that are missing and that p has (up to
   * peerRunChunks) in one Range request: fewer round trips, which is what a loaded host
   * makes expensive. Each chunk is verified on its own; a bad one blacklists p.
   */
  function fromPeer(p: PeerState, g: number, single = false): void {
    const f = input.files[fileOf[g]!]!
    let last = g
    // Runs only to a peer whose pace is known and not slow: a capped peer held 4 chunks for 4x its slow time.
    const run = single || p.pace.median() === undefined || slowPeer(p) ? 1 : cfg.peerRunChunks
    while (last - g + 1 < run && last + 1 < total && fileOf[last + 1] === fileOf[g] && state[last + 1] === MISSING && peerHas(p, last + 1)) last++
    p.inflight++
    const first = chunkSpan(f.size, f.chunks.bytes, idxOf[g]!)
    const end = chunkSpan(f.size, f.chunks.bytes, idxOf[last]!).end
    const want = end - first.start + 1
    const ctl = new AbortController()
    controllers.add(ctl)
    const fl = launch(Array.from({ length: last - g + 1 }, (_, i) => g + i), p, ctl)
    const url = `http://${p.addr}${layerRoutes.layers}/${encodeURIComponent(input.version)}/${encodeURIComponent(f.name)}`
    const sent = clock.now()
    const back = (busy = false) => {
      for (let k = g; k <= last; k++) {
        if (!settle(fl, k)) continue
        if (busy && busySince[k] === 0) busySince[k] = clock.now()
        retryLater(k)
      }
    }
    // Slow (the deadline for the run, or the stall: phase timeout) skips the peer a while.
    httpExchange(url, { agent, headers: { range: `bytes=${first.start}-${end}` }, timeoutMs: cfg.peerChunkTimeoutMs * (last - g + 1), maxBytes: want, signal: ctl.signal, idleMs: peerPace.scaled(cfg.peerStallMs, 1, 4 * cfg.peerStallMs) })
      .then(async (r) => {
        input.trace?.(`${clock.now() - t0} peer ${p.addr} chunks ${g}-${last}: ${r.status} after ${clock.now() - sent} ms`)
        if (r.status === 503) {
          // Its upload slots are full: another peer, or this one a moment later.
          p.slowUntil = clock.now() + cfg.busyPauseMs
          setTimeout(wake, cfg.busyPauseMs)
          return back(true)
        }
        if (r.status !== 206 || r.body.length !== want) {
          // It does not have them after all (or answered nonsense): forget what it said it has.
          p.bits.get(f.name)?.fill(0)
          p.gen = -1
          return back()
        }
        peerPace.add((clock.now() - sent) / (last - g + 1))
        p.pace.add((clock.now() - sent) / (last - g + 1))
        for (let k = g; k <= last; k++) {
          const alone = settle(fl, k)
          const span = chunkSpan(f.size, f.chunks.bytes, idxOf[k]!)
          const body = r.body.subarray(span.start - first.start, span.end - first.start + 1)
          if (sha256Hex(body) !== f.chunks.sha256[idxOf[k]!]) {
            stats.badChunks++
            stats.wastedBytes += body.length
            if (!p.blacklisted) {
              p.blacklisted = true
              stats.blacklisted.push(p.addr)
              input.say?.(`peer ${p.addr} sent a chunk of ${f.name} that does not match the signed manifest: not using that peer again this boot`)
              fillPeers()
            }
            if (alone) retryLater(k)
            continue
          }
          if (!(await store(k, body))) continue
          stats.peerChunks++
          stats.peerBytes += body.length
        }
      })
      .catch((err) => {
        input.trace?.(`${clock.now() - t0} peer ${p.addr} chunks ${g}-${last}: ${(err as Error).message} after ${clock.now() - sent} ms`)
        if (err instanceof HttpClientError && err.phase === 'timeout' && !closed) {
          stats.slowPeers++
          stats.wastedBytes += err.received
          p.slowUntil = clock.now() + cfg.slowPenaltyMs
          p.pace.add((clock.now() - sent) / (last - g + 1))
          return back(true)
        }
        // Lost a race: as slow as that at least.
        if (fl.lost) p.pace.add((clock.now() - sent) / (last - g + 1))
        back()
      })
      .finally(() => {
        controllers.delete(ctl)
        inFlight.delete(fl)
        back()
        p.inflight--
        wake()
      })
  }

  /**
   * How long a chunk the coordinator refused waits for a peer to show it before it is asked
   * for as a fallback: its holders must get it from the coordinator and we from them, so
   * twice the time both take now, never below originRetryMs, at most 30 s.
   */
  function fallbackWait(): number {
    return Math.min(30_000, Math.max(cfg.originRetryMs, 2 * ((originPace.median() ?? 0) + (peerPace.median() ?? 0))))
  }

  /** Back to missing; when no usable peer has it, the coordinator serves it as a fallback. */
  function retryLater(g: number): void {
    if (state[g] === DONE || flights[g]! > 0) return
    state[g] = MISSING
    if (holders(g) === 0) {
      if (!fallback[g]) input.trace?.(`${clock.now() - t0} chunk ${g}: no usable peer has it; next ask of the coordinator is a fallback`)
      fallback[g] = 1
    }
  }

  function fromOrigin(g: number, isFallback: boolean): void {
    originInflight++
    const f = input.files[fileOf[g]!]!
    const span = chunkSpan(f.size, f.chunks.bytes, idxOf[g]!)
    const headers: Record<string, string> = { range: `bytes=${span.start}-${span.end}` }
    if (input.self) headers[chunkHeaders.peer] = input.self
    if (isFallback) input.trace?.(`${clock.now() - t0} origin chunk ${g}: fallback; following ${[...peers.values()].filter(usable).length} peers, ${candidates.length} candidates waiting`)
    if (isFallback) headers[chunkHeaders.fallback] = '1'
    const ctl = new AbortController()
    controllers.add(ctl)
    const fl = launch([g], undefined, ctl)
    const sent = clock.now()
    httpExchange(`${base}/images/${encodeURIComponent(input.version)}/${encodeURIComponent(f.name)}`, { agent, headers, timeoutMs: cfg.originTimeoutMs, maxBytes: span.end - span.start + 1, signal: ctl.signal })
      .then(async (r) => {
        input.trace?.(`${clock.now() - t0} origin chunk ${g}${isFallback ? ' (fallback)' : ''}: ${r.status}`)
        if (r.status === 429) {
          if (settle(fl, g) && state[g] !== DONE) state[g] = MISSING
          const named = String(r.headers[chunkHeaders.holders] ?? '')
            .split(',')
            .filter((a) => /^[A-Za-z0-9.-]+:\d{1,5}$/.test(a))
          if (named.length === 0) {
            // origin-busy: come back when told.
            notBefore[g] = clock.now() + Math.min(10_000, Math.max(50, Number(r.headers[chunkHeaders.retryMs]) || 500))
            return
          }
          // chunk-at-peers: follow its holders; if none of them shows it in time, a fallback.
          // A race refused: the slow peer still has the chunk; race it again to the holders named.
          stats.refusals++
          raced[g] = 0
          fallback[g] = 1
          refusedAt[g] = clock.now()
          addCandidates(named, true)
          return
        }
        if (r.status !== 206 || r.body.length !== span.end - span.start + 1) throw new Error(`HTTP ${r.status}`)
        if (sha256Hex(r.body) !== f.chunks.sha256[idxOf[g]!]) {
          stats.badChunks++
          stats.wastedBytes += r.body.length
          throw new Error('chunk from the coordinator does not match the signed manifest')
        }
        originPace.add(clock.now() - sent)
        settle(fl, g)
        if (!(await store(g, r.body))) return
        stats.originChunks++
        stats.originBytes += r.body.length
        if (isFallback) stats.fallbacks++
      })
      .catch(() => {
        if (!settle(fl, g) || state[g] === DONE || closed) return
        state[g] = MISSING
        notBefore[g] = clock.now() + 1000
      })
      .finally(() => {
        controllers.delete(ctl)
        inFlight.delete(fl)
        if (settle(fl, g) && state[g] !== DONE) state[g] = MISSING
        originInflight--
        wake()
      })
  }

  /** Writes verified chunk g; false when another copy got here first (thrown away, counted as wasted). */
  async function store(g: number, body: Buffer): Promise<boolean> {
    // Both sides of a race may deliver: the second copy is thrown away, also while the first is being written
    // (counted twice, `remaining` reached 0 with a chunk never written: the layer's whole hash caught it).
    if (state[g] === DONE || storing[g]) {
      stats.wastedBytes += body.length
      return false
    }
    storing[g] = 1
    const f = input.files[fileOf[g]!]!
    const span = chunkSpan(f.size, f.chunks.bytes, idxOf[g]!)
    await handles[fileOf[g]!]!.write(body, 0, body.length, span.start)
    state[g] = DONE
    remaining--
    input.server?.markVerified(f.name, idxOf[g]!)
    // The losing side of a race: its chunks are all here now, its upload slot is someone else's.
    for (const fl of inFlight) {
      if (fl.pending.size > 0 && [...fl.pending].every((k) => state[k] === DONE)) {
        fl.lost = true
        fl.ctl.abort()
      }
    }
    return true
  }

  /** A pause that ends early when the fetch ends (the tracker's 5-10 s must not hold up its return). */
  const pauses = new Set<() => void>()
  function delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t)
        pauses.delete(done)
        resolve()
      }
      const t = setTimeout(done, ms)
      pauses.add(done)
    })
  }

  /**
   * The tracker, asked while chunks are missing. A slow or failing coordinator is asked
   * less often (backoff up to 10 s), with a 15 s deadline: with a 5 s one and a new
   * connection after each timeout, a storm's workers reconnected every second to a
   * coordinator that was slow to accept, which made it slower (seen in the storm bench:
   * its listen queue held 75 connections, a tracker answer took 6-25 s).
   */
  async function track(): Promise<void> {
    const slow = new Backoff({ initialMs: 2 * cfg.trackerIntervalMs, maxMs: 10_000, factor: 2, jitter: 0.2 }, rng)
    while (!closed && remaining > 0) {
      let ok = false
      try {
        const q = new URLSearchParams({ image: input.version, ...(input.self ? { self: input.self } : {}), ...(input.domain ? { domain: input.domain } : {}) })
        const r = await httpExchange(`${base}${layerRoutes.peers}?${q}`, { agent, timeoutMs: 15_000, maxBytes: 64 * 1024 })
        input.trace?.(`${clock.now() - t0} tracker: ${r.status}`)
        if (r.status === 200) {
          const parsed = LayerPeers.safeParse(JSON.parse(r.body.toString('utf8')))
          if (parsed.success) addCandidates(shuffle(parsed.data.peers, rng))
          ok = parsed.success
        }
      } catch (err) {
        // The tracker is an aid: shoal.peers= and the coordinator itself still work.
        input.trace?.(`${clock.now() - t0} tracker: ${(err as Error).message}`)
      }
      if (ok) slow.reset()
      // Following enough peers: ask only to stay registered (and to replace the ones that go).
      await delay(!ok ? slow.next() : following() >= cfg.maxPeers ? 5 * cfg.trackerIntervalMs : cfg.trackerIntervalMs)
    }
  }

  addCandidates(shuffle([...input.peers], rng))
  const tracking = track()
  try {
    while (remaining > 0) {
      if (cfg.deadlineMs > 0 && clock.now() - t0 > cfg.deadlineMs) {
        throw new ShoalError('layer-fetch-timeout', `layers of ${input.version}: ${remaining} of ${total} chunks still missing after ${cfg.deadlineMs} ms`)
      }
      let tick: NodeJS.Timeout | undefined
      const woken = new Promise<void>((resolve) => {
        kick = resolve
        tick = setTimeout(resolve, 1000)
      })
      schedule()
      await woken
      clearTimeout(tick)
    }
  } finally {
    closed = true
    kick()
    for (const c of controllers) c.abort()
    for (const p of [...pauses]) p()
    await tracking.catch(() => undefined)
    agent.destroy()
    for (const h of handles) await h.close().catch(() => undefined)
  }
  stats.ms = clock.now() - t0
  return stats
}
