/**
 * The layer fetch's peers (docs/layers.md): who they are and what they have. Peers come from
 * shoal.peers=, from the coordinator's tracker (asked while chunks are missing) and from the
 * coordinator's refusals, which name the holders of a chunk; at most maxPeers are followed
 * (holders past that, up to holderPeers), each by a long poll of its have map. What they
 * say lands in FetchState; the scheduler (chunk-schedule.ts) decides what to ask of them.
 */
import type { Agent } from 'node:http'
import { httpExchange } from '../http/http-client.js'
import { Backoff } from '../protocol/backoff.js'
import { chunkCount, decodeBits, HaveAnswer, layerRoutes, LayerPeers } from '../protocol/layer-chunks.js'
import { shuffle } from '../protocol/random.js'
import type { ChunkFetchConfig, ChunkFetchInput, ChunkFetchStats } from './chunk-fetch-config.js'
import { newPeer, type FetchState, type PeerState } from './chunk-fetch-state.js'

/** What following peers needs of the fetch around it. */
export interface PeerContext {
  readonly input: ChunkFetchInput
  readonly cfg: ChunkFetchConfig
  readonly st: FetchState
  readonly stats: ChunkFetchStats
  readonly agent: Agent
  /** The coordinator's base URL, no trailing slash. */
  readonly base: string
  readonly closed: boolean
  /** When the fetch started, and the time now (the fetch's clock). */
  readonly t0: number
  now(): number
  /** Something changed: schedule again. */
  wake(): void
  /** Requests to abort when the fetch ends. */
  readonly controllers: Set<AbortController>
  /** A pause that ends early when the fetch ends. */
  delay(ms: number): Promise<void>
  trace(line: string): void
}

export class PeerFollowing {
  constructor(private readonly c: PeerContext) {}

  /**
   * `holders`: named by the coordinator as having a chunk we need. They are followed at once,
   * past maxPeers (up to holderPeers): they are the sure source of that chunk, and a holder
   * left among the candidates made the chunk a fallback, a second trip over the uplink.
   */
  add(addrs: readonly string[], holders = false): void {
    const { st, cfg, input } = this.c
    for (const a of addrs) {
      if (a === input.self || st.peers.has(a)) continue
      if (holders && st.following() < cfg.holderPeers) {
        const at = st.candidates.indexOf(a)
        if (at >= 0) st.candidates.splice(at, 1)
        this.follow(a)
      } else if (!st.candidates.includes(a)) st.candidates.push(a)
    }
    this.fill()
  }

  /** p answered (or failed) a have poll: heard of; the stats note when the last named peer was first heard. */
  private heard(p: PeerState): void {
    if (p.heard) return
    p.heard = true
    const { st, stats } = this.c
    if (p.named && [...st.peers.values()].every((q) => !q.named || q.heard)) stats.waits.namedHeardMs = this.c.now() - this.c.t0
  }

  /** Follows candidates while fewer than maxPeers are followed. */
  fill(): void {
    const { st, cfg } = this.c
    while (!this.c.closed && st.candidates.length > 0 && st.following() < cfg.maxPeers) this.follow(st.candidates.shift()!)
  }

  private follow(addr: string): void {
    if (this.c.closed) return
    const p = newPeer(addr)
    this.c.st.peers.set(addr, p)
    this.c.stats.peersSeen++
    void this.poll(p)
  }

  /** Long-polls p's have map until the fetch ends, p is dropped (not a chunk server, never answers) or blacklisted. */
  private async poll(p: PeerState): Promise<void> {
    const c = this.c
    const { input, cfg, st } = c
    while (!c.closed && !p.blacklisted && !p.dropped) {
      const ctl = new AbortController()
      c.controllers.add(ctl)
      try {
        const r = await httpExchange(`http://${p.addr}${layerRoutes.layers}/${encodeURIComponent(input.version)}/have?after=${p.gen}&want=${st.wantOf(p)}&cap=1`, { agent: c.agent, timeoutMs: cfg.havePollTimeoutMs, maxBytes: 256 * 1024, signal: ctl.signal })
        if (r.status === 404) {
          // Not a chunk server for this version (an agent that predates chunks, another image).
          p.dropped = true
          this.heard(p)
          c.wake()
          this.fill()
          return
        }
        if (r.status !== 200) throw new Error(`HTTP ${r.status}`)
        const parsed = HaveAnswer.safeParse(JSON.parse(r.body.toString('utf8')))
        if (!parsed.success || parsed.data.version !== input.version) throw new Error('bad have answer')
        p.failures = 0
        this.heard(p)
        p.gen = parsed.data.gen
        // Its upload cap (a running worker), from the first answer on: the pace rules plan with it before any transfer.
        if (parsed.data.upload !== undefined) p.cap = parsed.data.upload
        else delete p.cap
        c.trace(`have ${p.addr} gen ${p.gen}`)
        input.files.forEach((f) => {
          const b64 = parsed.data.files[f.name]
          if (b64 !== undefined) p.bits.set(f.name, decodeBits(b64, chunkCount(f.size, f.chunks.bytes)))
        })
        c.wake()
      } catch (err) {
        if (c.closed) return
        c.trace(`have ${p.addr} failed: ${(err as Error).message}`)
        p.failures++
        this.heard(p)
        c.wake()
        // A peer that never answers (not up, or not a chunk server) makes room for another.
        if (p.failures >= 6) {
          p.dropped = true
          this.fill()
          return
        }
        await c.delay(cfg.haveRetryMs * Math.min(p.failures, 4))
      } finally {
        c.controllers.delete(ctl)
      }
    }
  }

  /**
   * The tracker, asked while chunks are missing. A slow or failing coordinator is asked
   * less often (backoff up to 10 s), with a 15 s deadline: with a 5 s one and a new
   * connection after each timeout, a storm's workers reconnected every second to a
   * coordinator that was slow to accept, which made it slower (seen in the storm bench:
   * its listen queue held 75 connections, a tracker answer took 6-25 s).
   */
  async track(): Promise<void> {
    const c = this.c
    const { input, cfg, st } = c
    const slow = new Backoff({ initialMs: 2 * cfg.trackerIntervalMs, maxMs: 10_000, factor: 2, jitter: 0.2 }, input.rng)
    while (!c.closed && st.remaining > 0) {
      let ok = false
      // Cut off when the fetch ends: its return waited for the answer (through a storm's busy uplink).
      const ctl = new AbortController()
      c.controllers.add(ctl)
      try {
        const q = new URLSearchParams({ image: input.version, ...(input.self ? { self: input.self } : {}), ...(input.domain ? { domain: input.domain } : {}) })
        const r = await httpExchange(`${c.base}${layerRoutes.peers}?${q}`, { agent: c.agent, timeoutMs: 15_000, maxBytes: 64 * 1024, signal: ctl.signal })
        c.trace(`tracker: ${r.status}`)
        if (r.status === 200) {
          const parsed = LayerPeers.safeParse(JSON.parse(r.body.toString('utf8')))
          if (parsed.success) this.add(shuffle(parsed.data.peers, input.rng))
          ok = parsed.success
        }
      } catch (err) {
        // The tracker is an aid: shoal.peers= and the coordinator itself still work.
        if (c.closed) return
        c.trace(`tracker: ${(err as Error).message}`)
      } finally {
        c.controllers.delete(ctl)
      }
      if (ok) slow.reset()
      // Following enough peers: ask only to stay registered (and to replace the ones that go).
      await c.delay(!ok ? slow.next() : st.following() >= cfg.maxPeers ? 5 * cfg.trackerIntervalMs : cfg.trackerIntervalMs)
    }
  }
}
