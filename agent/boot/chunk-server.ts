/**
 * Serves the layer chunks this worker has verified to other workers (docs/layers.md):
 * a booting worker serves what it has checked so far, a running one its whole layers
 * from their tmpfs files. Only verified chunks are ever served: a range that touches a
 * chunk not verified here is answered 404, so a peer can never get from us a byte we have
 * not checked against the signed manifest. Plain node:http (the boot agent runs in the
 * initramfs with node's built-ins only).
 *
 *   GET /v1/layers/{version}/have?after=GEN[&want=W][&cap=1]
 *                                             long poll: answers at once when this worker's
 *                                             generation is past GEN, else when it passes it
 *                                             or after haveWaitMs with the same one; with
 *                                             `want`, only when it has a wanted chunk (news
 *                                             to the asker), else after haveWaitMs; with
 *                                             cap=1 a capped server adds `upload` (its cap)
 *   GET /v1/layers/{version}/{file}           Range: bytes=A-B covering whole verified chunks -> 206
 *
 * Upload cap: a worker that runs workloads passes uploadBytesPerSec; what it sends is paced
 * through a ByteBucket in 64 KiB pieces, and an asker that would wait more than maxQueueMs
 * for its first piece is told 503 `busy` at once. A booting worker runs nothing else and
 * serves uncapped.
 *
 * A running worker's layers were verified whole at boot, then sat in its tmpfs for days:
 * with verifyOnRead (the default for `complete`) every chunk is hashed again as it is read
 * and one that no longer matches the manifest is refused (404), counted and no longer
 * offered. A booting worker wrote each chunk a moment after checking it, and hashing it
 * again would cost the storm CPU it is short of. A layer file that is gone or short is
 * refused the same way: never a bad or missing byte as good.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ByteBucket } from '../protocol/byte-bucket.js'
import { chunkCount, chunkSpan, decodeWant, encodeBits, hasBit, layerRoutes, setBit, sha256Hex, type HaveAnswer, type LayerChunks } from '../protocol/layer-chunks.js'
import type { Clock } from '../protocol/ports.js'

export interface ServedLayer {
  name: string
  /** The layer file; chunks are read from it at their offset. */
  path: string
  size: number
  chunks: LayerChunks
}

export interface ChunkServerOptions {
  version: string
  layers: readonly ServedLayer[]
  /** Every chunk is already verified (a running worker's layers, checked whole at boot). */
  complete?: boolean
  /** Upload cap in bytes/s; absent: uncapped. */
  uploadBytesPerSec?: number
  /** Hash every chunk again as it is read (a running worker's layers); default: `complete`. */
  verifyOnRead?: boolean
  /** A chunk that no longer matches the manifest, or a layer file that cannot be read: told once per chunk. */
  onRefused?(event: { name: string; index: number; reason: 'corrupt' | 'unreadable' }): void
  /**
   * With a cap: an asker whose bytes would wait longer than this for the cap is answered 503
   * `busy` instead (1 s). Kept waiting in silence, it cut the transfer off as stalled after
   * 2-8 s and went elsewhere, and the bytes it had booked stayed booked: a capped worker of a
   * 25-worker storm fell further behind with every asker (bench storm --running, first run).
   */
  maxQueueMs?: number
  /** Resolves after ms (the upload cap's wait); default setTimeout, tests pass a virtual one. */
  delay?(ms: number): Promise<void>
  /**
   * Chunks sent at once; a further asker gets 503 `busy` and asks another peer. 4: a few
   * transfers finish fast and make new sources, where twenty at once would all finish late
   * (BitTorrent's upload slots, for the same reason). With a cap, no more slots than give
   * each transfer a chunk a second (at least one): at 0.84 MiB/s (the storm bench's scaled
   * cap) four slots made every transfer 4.8 s a chunk, a slot held by each of four askers,
   * where one slot sends a chunk in 1.2 s and turns the others away to faster sources.
   */
  maxUploads?: number
  /**
   * Longest a have poll is held open: 15 s. An idle poll's answer is pure overhead (two
   * process wake-ups and an HTTP exchange, the largest CPU cost of a storm); a vanished
   * asker's socket lives at most this long.
   */
  haveWaitMs?: number
  /** Answers to waiting polls are held this long so that a burst of new chunks is one answer. */
  coalesceMs?: number
  clock: Clock
}

export interface ChunkServerStats {
  servedChunks: number
  servedBytes: number
  /** Range requests for something not verified here (404). */
  missing: number
  /** Range requests turned away because every upload slot was taken (503). */
  busy: number
  /** Chunks refused because they no longer matched the manifest or could not be read (verifyOnRead). */
  refused: number
}

export class ChunkServer {
  private readonly bits = new Map<string, Uint8Array>()
  private readonly byName = new Map<string, ServedLayer>()
  private readonly files = new Map<string, Promise<FileHandle>>()
  /** Held have polls, each with what its asker wants (undefined: any change). */
  private readonly waiters = new Map<() => void, Uint8Array[] | undefined>()
  /** Held polls to answer when the coalescing timer fires. */
  private readonly due = new Set<() => void>()
  private readonly order: string[]
  private readonly counts: number[]
  private readonly bucket: ByteBucket | undefined
  private gen = 0
  private uploads = 0
  /** Upload slots (maxUploads). */
  readonly slots: number
  private wakeTimer: NodeJS.Timeout | undefined
  private server: Server | undefined
  readonly stats: ChunkServerStats = { servedChunks: 0, servedBytes: 0, missing: 0, busy: 0, refused: 0 }

  constructor(private readonly opts: ChunkServerOptions) {
    this.order = opts.layers.map((l) => l.name)
    this.counts = opts.layers.map((l) => chunkCount(l.size, l.chunks.bytes))
    for (const l of opts.layers) {
      const n = chunkCount(l.size, l.chunks.bytes)
      const bits = new Uint8Array(Math.ceil(n / 8))
      if (opts.complete) for (let i = 0; i < n; i++) setBit(bits, i)
      this.bits.set(l.name, bits)
      this.byName.set(l.name, l)
    }
    if (opts.complete) this.gen = 1
    const chunkBytes = Math.max(1, ...opts.layers.map((l) => l.chunks.bytes))
    this.slots = opts.maxUploads ?? (opts.uploadBytesPerSec ? Math.min(MAX_UPLOADS, Math.max(1, Math.floor(opts.uploadBytesPerSec / chunkBytes))) : MAX_UPLOADS)
    this.bucket = opts.uploadBytesPerSec ? new ByteBucket(opts.uploadBytesPerSec, Math.max(opts.uploadBytesPerSec / 4, 2 * 1024 * 1024), opts.clock) : undefined
  }

  /** Called only after the chunk's bytes are in the file and matched the manifest's sha256. */
  markVerified(name: string, index: number): void {
    const bits = this.bits.get(name)
    if (!bits) return
    setBit(bits, index)
    this.gen++
    const li = this.order.indexOf(name)
    for (const [w, want] of this.waiters) if (!want || hasBit(want[li]!, index)) this.due.add(w)
    if (this.due.size > 0 && !this.wakeTimer) {
      this.wakeTimer = setTimeout(() => {
        this.wakeTimer = undefined
        const ws = [...this.due]
        this.due.clear()
        for (const w of ws) w()
      }, this.opts.coalesceMs ?? 20)
    }
  }

  /**
   * No longer offers chunk `index` of `name` (it failed its check on read). The generation
   * rises so that pollers without `want` get the smaller map; a peer that asks for it anyway
   * is answered 404.
   */
  private unverify(name: string, index: number, reason: 'corrupt' | 'unreadable'): void {
    const bits = this.bits.get(name)
    if (!bits || !hasBit(bits, index)) return
    bits[index >> 3] = bits[index >> 3]! & ~(1 << (index & 7))
    this.gen++
    this.stats.refused++
    this.opts.onRefused?.({ name, index, reason })
  }

  /** Have polls held open now. */
  get heldPolls(): number {
    return this.waiters.size
  }

  /** Has this worker verified any chunk of `want`? */
  private hasAny(want: readonly Uint8Array[]): boolean {
    for (let li = 0; li < want.length; li++) {
      const mine = this.bits.get(this.order[li]!)!
      const w = want[li]!
      for (let i = 0; i < w.length; i++) if ((w[i]! & mine[i]!) !== 0) return true
    }
    return false
  }

  /** `withCap`: the asker passed cap=1 (it knows the field): a capped server tells its cap. */
  have(withCap = false): HaveAnswer {
    const files: Record<string, string> = {}
    for (const [name, bits] of this.bits) files[name] = encodeBits(bits)
    const cap = this.opts.uploadBytesPerSec
    return { v: 1, version: this.opts.version, gen: this.gen, files, ...(withCap && cap ? { upload: Math.max(1, Math.round(cap)) } : {}) }
  }

  /** Handles a request under /v1/layers/; false when the path is not ours (the caller answers). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://x')
    const prefix = `${layerRoutes.layers}/${encodeURIComponent(this.opts.version)}/`
    if (!url.pathname.startsWith(prefix)) return false
    const rest = decodeURIComponent(url.pathname.slice(prefix.length))
    if (req.method !== 'GET') {
      send(res, 405, { error: { code: 'method-not-allowed', message: 'GET only' } })
      return true
    }
    if (rest === 'have') {
      const after = Number(url.searchParams.get('after') ?? -1)
      const wantText = url.searchParams.get('want')
      this.answerHave(req, res, Number.isFinite(after) ? after : -1, wantText === null ? undefined : decodeWant(wantText, this.counts), url.searchParams.get('cap') === '1')
      return true
    }
    void this.serveRange(req, res, rest).catch(() => res.destroy())
    return true
  }

  /**
   * A first poll (after < 0) is answered at once. Later ones: with `want`, as soon as this
   * worker has one of those chunks (whatever its generation: a restarted server counts from
   * 0 again); without, as soon as the generation passes `after`.
   */
  private answerHave(req: IncomingMessage, res: ServerResponse, after: number, want: Uint8Array[] | undefined, withCap: boolean): void {
    if (after < 0 || (want ? this.hasAny(want) : this.gen > after)) return send(res, 200, this.have(withCap))
    let done = false
    const drop = () => {
      done = true
      clearTimeout(timer)
      this.waiters.delete(finish)
      this.due.delete(finish)
    }
    const finish = () => {
      if (done) return
      drop()
      if (!res.destroyed) send(res, 200, this.have(withCap))
    }
    const timer = setTimeout(finish, this.opts.haveWaitMs ?? 15_000)
    this.waiters.set(finish, want)
    req.once('close', () => {
      if (!done) drop()
    })
  }

  private async serveRange(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const layer = this.byName.get(name)
    const bits = this.bits.get(name)
    const m = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''))
    if (!layer || !bits || !m) {
      this.stats.missing++
      return send(res, 404, { error: { code: 'not-found', message: layer ? 'ask for Range: bytes=A-B of whole chunks' : `no layer ${name} of ${this.opts.version} here` } })
    }
    const start = Number(m[1])
    const end = Number(m[2])
    const bytes = layer.chunks.bytes
    const first = Math.floor(start / bytes)
    const last = Math.floor(end / bytes)
    let ok = start <= end && end < layer.size && start % bytes === 0 && chunkSpan(layer.size, bytes, last).end === end
    for (let i = first; ok && i <= last; i++) ok = hasBit(bits, i)
    if (!ok) {
      this.stats.missing++
      return send(res, 404, { error: { code: 'chunk-missing', message: `bytes ${start}-${end} of ${name} are not whole chunks verified here` } })
    }
    if (this.uploads >= this.slots || (this.bucket?.peek(end - start + 1) ?? 0) > (this.opts.maxQueueMs ?? 1000)) {
      this.stats.busy++
      return send(res, 503, { error: { code: 'busy', message: 'every upload slot is taken; ask another peer' } })
    }
    this.uploads++
    let freed = false
    const free = () => void (freed || ((freed = true), this.uploads--))
    res.once('close', free)
    try {
      const len = end - start + 1
      const buf = Buffer.allocUnsafe(len)
      let bytesRead = 0
      try {
        bytesRead = (await (await this.fileOf(layer)).read(buf, 0, len, start)).bytesRead
      } catch {
        // Gone or unreadable (the tmpfs file was removed): fewer bytes than asked, below.
      }
      if (bytesRead !== len) {
        for (let i = first; i <= last; i++) this.unverify(name, i, 'unreadable')
        return refuse()
      }
      if (this.opts.verifyOnRead ?? this.opts.complete) {
        let bad = false
        for (let i = first; i <= last; i++) {
          const span = chunkSpan(layer.size, bytes, i)
          if (sha256Hex(buf.subarray(span.start - start, span.end - start + 1)) === layer.chunks.sha256[i]) continue
          this.unverify(name, i, 'corrupt')
          bad = true
        }
        if (bad) return refuse()
      }
      if (!this.bucket) {
        this.stats.servedChunks += last - first + 1
        this.stats.servedBytes += len
        res.writeHead(206, { 'content-type': 'application/octet-stream', 'content-length': len, 'content-range': `bytes ${start}-${end}/${layer.size}` })
        return void res.end(buf, free)
      }
      // Capped: paced in pieces, so the asker sees bytes flow (not seconds of silence it would
      // cut off as a stall), and one that goes away books at most one more piece.
      let sentHead = false
      for (let off = 0; off < len; off += PACE_BYTES) {
        const piece = buf.subarray(off, Math.min(len, off + PACE_BYTES))
        const wait = this.bucket.take(piece.length)
        if (wait > 0) await (this.opts.delay ?? sleep)(wait)
        if (res.destroyed) return
        if (!sentHead) res.writeHead(206, { 'content-type': 'application/octet-stream', 'content-length': len, 'content-range': `bytes ${start}-${end}/${layer.size}` })
        sentHead = true
        this.stats.servedBytes += piece.length
        if (!res.write(piece)) await drained(res)
      }
      this.stats.servedChunks += last - first + 1
      res.end(free)
    } catch (err) {
      free()
      throw err
    }

    function refuse(): void {
      free()
      send(res, 404, { error: { code: 'chunk-missing', message: `bytes ${start}-${end} of ${name} no longer match the signed manifest here (or cannot be read): ask another peer` } })
    }
  }

  private fileOf(layer: ServedLayer): Promise<FileHandle> {
    let f = this.files.get(layer.name)
    if (!f) {
      f = open(layer.path, 'r')
      f.catch(() => this.files.delete(layer.name))
      this.files.set(layer.name, f)
    }
    return f
  }

  /** Listens on host:port (0: any free port); returns HOST:PORT. Idempotent. */
  async listen(host: string, port: number): Promise<string> {
    if (!this.server) {
      const server = createServer({ keepAliveTimeout: 10_000 }, (req, res) => {
        if (!this.handle(req, res)) send(res, 404, { error: { code: 'not-found', message: `no route ${req.url}` } })
      })
      this.server = server
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => resolve())
      })
    }
    const a = this.server.address() as AddressInfo
    return `${host}:${a.port}`
  }

  async close(): Promise<void> {
    clearTimeout(this.wakeTimer)
    for (const w of [...this.waiters.keys()]) w()
    const s = this.server
    this.server = undefined
    if (s) {
      s.closeAllConnections()
      await new Promise<void>((resolve) => s.close(() => resolve()))
    }
    for (const f of this.files.values()) await f.then((h) => h.close()).catch(() => undefined)
    this.files.clear()
  }
}

const MAX_UPLOADS = 4

/** A capped server sends this much at a time (76 ms at 0.84 MiB/s; 2.5 ms at 25 MiB/s). */
const PACE_BYTES = 64 * 1024

/** Resolves when `res` can take more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}
