/**
 * The coordinator's part in sharing layer chunks (docs/layers.md): a tracker that names
 * chunk servers to a booting worker (running workers of that image and workers booting it,
 * same failure domain first), and the rule that keeps the coordinator's uplink from being
 * the storm's bottleneck: each chunk is handed out at most `maxHandouts` times while those
 * who got it are alive; a further asker is refused (429 `chunk-at-peers`, holders named)
 * and gets it from a peer, or comes back as a fallback, which is always served.
 * Requests without the chunk-peer header (iPXE, older boot agents, whole-file downloads)
 * are never refused. Bounded: at most `maxPeers` registered peers (the longest silent goes
 * first); per chunk at most `maxHandouts` holders are remembered. Time from the clock.
 */
import type { IncomingMessage } from 'node:http'
import { chunkHeaders, chunkOfRange, LAYER_CHUNK_BYTES, type LayerPeers } from '../agent/protocol/layer-chunks.js'
import type { MemberView } from '../agent/protocol/mesh-types.js'
import type { Clock, Rng } from '../agent/protocol/ports.js'
import { shuffle } from '../agent/protocol/random.js'

export interface ChunkBrokerOptions {
  /** Copies of a chunk the coordinator sends while its holders live: 2, so one slow or lost holder does not stall the rack. */
  maxHandouts: number
  /** A booting worker is a live peer this long after its last tracker call or chunk request: 30 s (it asks every second while fetching). */
  peerTtlMs: number
  /** Peers named in one tracker answer: 16 (a worker follows 8; the rest replace the dead). */
  answerPeers: number
  /** Registered peers remembered at most. */
  maxPeers: number
  /**
   * Chunks sent at once: 4. Past that, askers queue (first come, first served), so the
   * uplink finishes a few chunks quickly and the peers can start sharing them, instead of
   * a whole rack's worth of chunks all crawling to completion at the same late moment.
   * A queued asker counts as a holder already: later askers of its chunk are refused at
   * once and told to follow it.
   */
  maxActive: number
  /** Askers waiting at most; past this they are told to come back (429 origin-busy). */
  maxQueue: number
}

export const chunkBrokerDefaults: Readonly<ChunkBrokerOptions> = Object.freeze({ maxHandouts: 2, peerTtlMs: 30_000, answerPeers: 16, maxPeers: 10_000, maxActive: 4, maxQueue: 4096 })

export type Admission =
  | { serve: true; fallback: boolean; release: () => void }
  | { serve: false; reason: 'chunk-at-peers' | 'origin-busy'; holders: string[]; retryAfterMs: number }

export interface ChunkBrokerStats {
  handouts: number
  refusals: number
  fallbacks: number
}

interface Peer {
  version: string
  domain: string
  seenAt: number
}

export class ChunkBroker {
  private readonly peers = new Map<string, Peer>()
  /** `${version}\n${file}` -> chunk index -> holders it was handed to. */
  private readonly handedTo = new Map<string, Map<number, string[]>>()
  private readonly queue: (() => void)[] = []
  private active = 0
  readonly stats: ChunkBrokerStats = { handouts: 0, refusals: 0, fallbacks: 0 }

  constructor(
    private readonly clock: Clock,
    private readonly rng: Rng,
    /** Running workers of an image that serve its chunks (HOST:PORT and failure domain). */
    private readonly running: (version: string) => readonly { addr: string; domain: string }[] = () => [],
    private readonly opts: ChunkBrokerOptions = chunkBrokerDefaults,
  ) {}

  /** A worker booting `version` whose chunk server is `addr`. */
  register(version: string, addr: string, domain = 'default'): void {
    this.peers.delete(addr) // re-inserted: Map order is least recently seen first
    if (this.peers.size >= this.opts.maxPeers) this.peers.delete(this.peers.keys().next().value!)
    this.peers.set(addr, { version, domain, seenAt: this.clock.now() })
  }

  private live(addr: string): boolean {
    const p = this.peers.get(addr)
    return p !== undefined && this.clock.now() - p.seenAt <= this.opts.peerTtlMs
  }

  /** Chunk servers for a worker of `domain` booting `version`: same domain first, each group shuffled. */
  peersFor(version: string, self: string | undefined, domain = 'default'): string[] {
    const now = this.clock.now()
    const all = new Map<string, string>()
    for (const r of this.running(version)) all.set(r.addr, r.domain)
    for (const [addr, p] of this.peers) if (p.version === version && now - p.seenAt <= this.opts.peerTtlMs) all.set(addr, p.domain)
    all.delete(self ?? '')
    const same = shuffle([...all].filter(([, d]) => d === domain).map(([a]) => a), this.rng)
    const other = shuffle([...all].filter(([, d]) => d !== domain).map(([a]) => a), this.rng)
    return [...same, ...other].slice(0, this.opts.answerPeers)
  }

  /**
   * May the coordinator send chunk `chunk` of `file` to `requester` (its chunk server, from
   * the chunk-peer header)? Resolves when it is the asker's turn; a served asker calls
   * `release` once the chunk is sent (or the transfer broke off).
   */
  async admit(version: string, file: string, chunk: number, requester: string, fallback: boolean): Promise<Admission> {
    if (this.peers.get(requester)?.version !== version) this.register(version, requester)
    else this.peers.get(requester)!.seenAt = this.clock.now()
    const key = `${version}\n${file}`
    let chunks = this.handedTo.get(key)
    if (!chunks) this.handedTo.set(key, (chunks = new Map()))
    const holders = (chunks.get(chunk) ?? []).filter((h) => h !== requester && this.live(h))
    // Refused at once when the chunk is out or promised to askers in the queue: in a storm,
    // askers that queued behind its first two waited seconds only to be refused at their turn,
    // their origin requests idle and its holders unknown to them meanwhile.
    if (!fallback && holders.length >= this.opts.maxHandouts) {
      this.stats.refusals++
      return { serve: false, reason: 'chunk-at-peers', holders, retryAfterMs: 1000 }
    }
    if (this.active >= this.opts.maxActive && this.queue.length >= this.opts.maxQueue) return { serve: false, reason: 'origin-busy', holders: [], retryAfterMs: 500 }
    // A holder from now on, also while it waits for a transfer slot (later askers are sent to it).
    if (holders.length < this.opts.maxHandouts) holders.push(requester)
    chunks.set(chunk, holders)
    if (this.active >= this.opts.maxActive) await new Promise<void>((resolve) => this.queue.push(resolve))
    else this.active++
    // This asker holds a transfer slot now (handed over by release(), or taken above).
    this.stats.handouts++
    if (fallback) this.stats.fallbacks++
    let released = false
    return { serve: true, fallback, release: () => void (released || ((released = true), this.release())) }
  }

  /** Frees a transfer slot: the next asker in line gets it. */
  private release(): void {
    const next = this.queue.shift()
    if (next) next()
    else this.active--
  }
}


const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$/
const DOMAIN = /^[A-Za-z0-9._-]{1,64}$/

/** GET /v1/layer-peers?image=V&self=HOST:PORT&domain=D: registers the asker, names peers. */
export function layerPeersAnswer(broker: ChunkBroker, url: URL): LayerPeers {
  const image = url.searchParams.get('image') ?? ''
  const self = url.searchParams.get('self') ?? undefined
  const domainParam = url.searchParams.get('domain') ?? 'default'
  const domain = DOMAIN.test(domainParam) ? domainParam : 'default'
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(image)) return { peers: [] }
  if (self !== undefined && HOST_PORT.test(self)) broker.register(image, self, domain)
  return { peers: broker.peersFor(image, self, domain) }
}

/**
 * The broker's verdict on an image file request: undefined to serve it, or the 429 answer.
 * Only a request for exactly one layer chunk that names its asker's chunk server is
 * brokered; everything else (iPXE, whole files, older agents) is served as before.
 */
export async function admitChunk(
  broker: ChunkBroker,
  req: IncomingMessage,
  version: string,
  file: string,
  size: number,
): Promise<{ refused: { body: unknown; headers: Record<string, string> } } | { release: () => void } | undefined> {
  const peer = req.headers[chunkHeaders.peer]
  const m = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''))
  if (typeof peer !== 'string' || !HOST_PORT.test(peer) || !m || req.method !== 'GET') return undefined
  const chunk = chunkOfRange(size, LAYER_CHUNK_BYTES, Number(m[1]), Number(m[2]))
  if (chunk === undefined) return undefined
  const verdict = await broker.admit(version, file, chunk, peer, req.headers[chunkHeaders.fallback] === '1')
  if (verdict.serve) return { release: verdict.release }
  const message =
    verdict.reason === 'chunk-at-peers'
      ? `chunk ${chunk} of ${file} was handed out to ${verdict.holders.length} workers that share it; ask them (or come back with ${chunkHeaders.fallback}: 1)`
      : `the coordinator's uplink is busy with other chunks; retry in ${verdict.retryAfterMs} ms`
  return {
    refused: {
      body: { error: { code: verdict.reason, message } },
      headers: { 'Retry-After': String(Math.ceil(verdict.retryAfterMs / 1000)), [chunkHeaders.retryMs]: String(verdict.retryAfterMs), [chunkHeaders.holders]: verdict.holders.join(',') },
    },
  }
}

/** Alive agents running `version` that publish an API address: they serve its chunks. */
export function runningChunkServers(view: readonly MemberView[], version: string): { addr: string; domain: string }[] {
  return view.filter((m) => m.status === 'alive' && m.record?.image === version && m.record.api && HOST_PORT.test(m.record.api)).map((m) => ({ addr: m.record!.api!, domain: m.record!.domain }))
}

/** An Rng over a random-bytes source (the coordinator's injected one). */
export function randomRng(random: (n: number) => Uint8Array): Rng {
  const next = () => {
    const b = random(4)
    return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) / 2 ** 32
  }
  return { next, int: (n) => Math.floor(next() * n) }
}
