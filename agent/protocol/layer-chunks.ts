/**
 * Layer chunks: what the coordinator, a booting worker and a peer must agree on to share
 * a layer piece by piece (docs/layers.md). A layer is cut into `bytes`-sized chunks (the
 * last one shorter); the signed manifest lists each chunk's sha256, so a chunk from any
 * peer is checked on arrival and a worker never keeps, serves or mounts a byte it has not
 * verified. Additive: the coordinator puts `chunks` into the manifest only when asked
 * (`?chunks=1`), so a boot agent that predates chunks keeps receiving the manifest its
 * strict schema accepts.
 *
 * Wire, besides the coordinator's existing `/images/{version}/{file}` Range route:
 *   GET {worker}/v1/layers/{version}/have?after=GEN[&want=W]  -> HaveAnswer (long poll: answers
 *       when the worker's generation passes GEN, or after a few seconds with the same one;
 *       with `want` (encodeWant: the chunks the asker lacks and was not told this worker has),
 *       only once the worker has one of those: an answer that tells the asker nothing new is
 *       not sent. A server that predates `want` ignores it and answers on every change.
 *       With `cap=1` a capped worker adds `upload`, its upload cap: an asker that predates it
 *       does not pass cap=1 and gets the answer its strict schema accepts; a server that
 *       predates it ignores cap=1 and the asker takes it as uncapped.)
 *   GET {worker}/v1/layers/{version}/{file}  + Range of whole chunks -> 206, or 404 when
 *       any chunk of the range is not verified there yet
 *   GET {coordinator}/v1/layer-peers?image=V&self=HOST:PORT&domain=D -> LayerPeers
 *   Header `x-shoal-chunk-peer: HOST:PORT` on a chunk request to the coordinator: the
 *       asker shares what it gets (the broker queues it behind the chunks being sent, and
 *       may answer 429 `chunk-at-peers` naming the holders, or `origin-busy`);
 *       `x-shoal-chunk-fallback: 1`: no peer could give it (always served).
 * Pure: zod and node:crypto hashing only.
 */
import { createHash, type Hash } from 'node:crypto'
import { z } from 'zod'

/** 1 MiB: small enough that a bad peer wastes little and a chunk is quick to re-fetch, large enough that per-request cost stays small. */
export const LAYER_CHUNK_BYTES = 1024 * 1024

export const layerRoutes = {
  /** Worker side: `${layers}/${version}/have` and `${layers}/${version}/${file}`. */
  layers: '/v1/layers',
  /** Coordinator side: the tracker. */
  peers: '/v1/layer-peers',
} as const

export const chunkHeaders = {
  /** The asker's own chunk server, HOST:PORT: it will share what it gets. */
  peer: 'x-shoal-chunk-peer',
  /** "No peer could give me this chunk": the coordinator serves it whatever it handed out. */
  fallback: 'x-shoal-chunk-fallback',
  /** On a 429: the workers that got the chunk (HOST:PORT,...). */
  holders: 'x-shoal-chunk-holders',
  /** On a 429: when to ask the coordinator again, ms. */
  retryMs: 'x-shoal-chunk-retry-ms',
} as const

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'sha256: 64 hex characters')

/** A layer file's chunk list, as it appears in the manifest's `files[].chunks`. */
export const LayerChunks = z
  .object({
    /** Chunk size in bytes; every chunk but the last has exactly this size. */
    bytes: z.number().int().min(64 * 1024).max(64 * 1024 * 1024),
    /** sha256 of each chunk, in file order. 65,536 x 1 MiB = a 64 GiB layer at most. */
    sha256: z.array(Sha256).max(65_536),
  })
  .strict()
export type LayerChunks = z.infer<typeof LayerChunks>

/** A file whose chunk list is consistent with its size; other manifests are fetched whole. */
export function chunksFit(file: { size: number; chunks?: LayerChunks | undefined }): file is { size: number; chunks: LayerChunks } {
  return file.chunks !== undefined && file.chunks.sha256.length === chunkCount(file.size, file.chunks.bytes)
}

export function chunkCount(size: number, bytes: number): number {
  return size === 0 ? 0 : Math.ceil(size / bytes)
}

/** Byte span [start, end] (inclusive, as HTTP ranges) of chunk `i`. */
export function chunkSpan(size: number, bytes: number, i: number): { start: number; end: number } {
  const start = i * bytes
  return { start, end: Math.min(size, start + bytes) - 1 }
}

/** The chunk a byte range is exactly, or undefined when it is not one whole chunk. */
export function chunkOfRange(size: number, bytes: number, start: number, end: number): number | undefined {
  if (start % bytes !== 0) return undefined
  const i = start / bytes
  const span = chunkSpan(size, bytes, i)
  return i < chunkCount(size, bytes) && span.end === end ? i : undefined
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Hashes a file streamed through it in order: the whole file's sha256 and each chunk's. */
export class ChunkHasher {
  private readonly whole: Hash = createHash('sha256')
  private part: Hash = createHash('sha256')
  private inPart = 0
  private readonly parts: string[] = []
  size = 0

  constructor(readonly bytes = LAYER_CHUNK_BYTES) {}

  update(data: Uint8Array): void {
    this.whole.update(data)
    this.size += data.length
    let off = 0
    while (off < data.length) {
      const take = Math.min(this.bytes - this.inPart, data.length - off)
      this.part.update(data.subarray(off, off + take))
      this.inPart += take
      off += take
      if (this.inPart === this.bytes) {
        this.parts.push(this.part.digest('hex'))
        this.part = createHash('sha256')
        this.inPart = 0
      }
    }
  }

  digest(): { sha256: string; size: number; chunks: LayerChunks } {
    if (this.inPart > 0) this.parts.push(this.part.digest('hex'))
    this.inPart = 0
    return { sha256: this.whole.digest('hex'), size: this.size, chunks: { bytes: this.bytes, sha256: [...this.parts] } }
  }
}

/** Which chunks a worker has verified, per layer file: a bit per chunk, base64. */
export const HaveAnswer = z
  .object({
    v: z.literal(1),
    version: z.string().max(64),
    /** Rises whenever a chunk is added; the next long poll passes it as `after`. */
    gen: z.number().int().nonnegative(),
    files: z.record(z.string().max(128), z.string().max(16_384)),
    /**
     * The most bytes a second this worker sends, to all askers together (a running worker:
     * its workloads keep the rest of the NIC). Only when the poll asked `cap=1`; absent:
     * uncapped (a booting worker), or a server that predates it.
     */
    upload: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .strict()
export type HaveAnswer = z.infer<typeof HaveAnswer>

export function encodeBits(bits: Uint8Array): string {
  return Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength).toString('base64')
}

/** The bit array of `count` chunks; a wrong length is an empty map (a bad peer's answer counts for nothing). */
export function decodeBits(b64: string, count: number): Uint8Array {
  const bytes = Buffer.from(b64, 'base64')
  return bytes.length === Math.ceil(count / 8) ? new Uint8Array(bytes) : new Uint8Array(Math.ceil(count / 8))
}

/**
 * The `want` of a have poll: one bit array per layer, in the manifest's layer order,
 * base64url, joined by '.'. Decoded against the layers' chunk counts; anything that does
 * not fit is undefined (the server then answers as if no `want` was given).
 */
export function encodeWant(bits: readonly Uint8Array[]): string {
  return bits.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url')).join('.')
}

export function decodeWant(text: string, counts: readonly number[]): Uint8Array[] | undefined {
  const parts = text.split('.')
  if (parts.length !== counts.length) return undefined
  const out: Uint8Array[] = []
  for (let i = 0; i < parts.length; i++) {
    if (!/^[A-Za-z0-9_-]*$/.test(parts[i]!)) return undefined
    const b = Buffer.from(parts[i]!, 'base64url')
    if (b.length !== Math.ceil(counts[i]! / 8)) return undefined
    out.push(new Uint8Array(b))
  }
  return out
}

export const hasBit = (bits: Uint8Array, i: number): boolean => ((bits[i >> 3] ?? 0) & (1 << (i & 7))) !== 0
export const setBit = (bits: Uint8Array, i: number): void => void (bits[i >> 3] = (bits[i >> 3] ?? 0) | (1 << (i & 7)))

/** GET /v1/layer-peers answer: chunk servers to ask, same failure domain first. */
export const LayerPeers = z
  .object({
    peers: z.array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/)).max(64),
  })
  .strict()
export type LayerPeers = z.infer<typeof LayerPeers>
