/**
 * Scuttlebutt-style anti-entropy with a compact first round. Each member contributes an
 * entry hash over (id, record inc/ver, liveness status/inc); entries fall into 64 buckets
 * whose hashes are kept incrementally (sum mod 2^32, order-independent). A steady-state
 * exchange is therefore one 256-byte summary; only buckets that differ are expanded into
 * digests (id -> versions), and only newer facts travel as deltas.
 */
import { fmix32, fnv1a } from './hash.js'
import { findMemberNumber, memberNumber, memberNumbers } from './member-table.js'

export const AE_BUCKETS = 64

/** Liveness codes on the wire: a higher code wins at the same incarnation. */
export const LIVENESS_CODE = { alive: 0, suspect: 1, dead: 2 } as const

export interface AeEntry {
  id: string
  recInc: number
  recVer: number
  status: number
  statusInc: number
}

/**
 * Buckets of the ids seen, process-wide (ids are roster members: one entry each, shared by
 * every table of the process, the simulator's N included). Every exchange asks for the
 * bucket of every member; hashing each id each time was a visible share of a join's CPU.
 * Bounded: past the cap it starts over.
 */
const bucketCache = new Map<string, number>()
const BUCKET_CACHE_MAX = 1 << 17

export function bucketOf(id: string): number {
  let b = bucketCache.get(id)
  if (b === undefined) {
    b = fnv1a(id) % AE_BUCKETS
    if (bucketCache.size >= BUCKET_CACHE_MAX) bucketCache.clear()
    bucketCache.set(id, b)
  }
  return b
}

/**
 * FNV-1a alone is not enough here: bucket hashes are SUMS, and a one-digit change shifts a
 * raw FNV hash by one of very few values, so two swapped facts (A alive/B dead vs A dead/
 * B alive — exactly what a healed partition leaves) cancelled about half the time and were
 * never repaired. The murmur3 finaliser spreads every change over all 32 bits.
 */
export function entryHash(e: AeEntry): number {
  return fmix32(fnv1a(`${e.id}|${e.recInc}|${e.recVer}|${e.status}|${e.statusInc}`))
}

export class BucketHashes {
  readonly sums = new Uint32Array(AE_BUCKETS)
  /**
   * Each member's entry hash, by its process-wide number (member-table.ts), with a flag for
   * "held": 5 bytes a member. A Map by id cost ~40 and, in the simulator's N tables of N
   * members, was the largest thing left at N=10,000. Kept as int32 (what `sums` adds).
   */
  private hash = new Int32Array(0)
  private held = new Uint8Array(0)

  /** Replaces the entry of `e.id` (or adds it). */
  set(e: AeEntry): void {
    this.setHash(e.id, entryHash(e) | 0, bucketOf(e.id))
  }

  /**
   * `set` with the entry's hash (`entryHash(e) | 0`) and bucket (`bucketOf(e.id)`) already
   * computed: a snapshot adopted by many tables (Membership.adopt) computes them once.
   */
  setHash(id: string, h: number, bucket: number): void {
    const g = memberNumber(id)
    if (g >= this.held.length) this.grow(g + 1)
    if (this.held[g]) this.sums[bucket] = (this.sums[bucket]! - this.hash[g]!) >>> 0
    this.sums[bucket] = (this.sums[bucket]! + h) >>> 0
    this.hash[g] = h
    this.held[g] = 1
  }

  delete(id: string): void {
    const g = findMemberNumber(id)
    if (g === undefined || g >= this.held.length || !this.held[g]) return
    const b = bucketOf(id)
    this.sums[b] = (this.sums[b]! - this.hash[g]!) >>> 0
    this.held[g] = 0
  }

  private grow(min: number): void {
    // Like the member table: sized for every numbered id (usually the roster) at once.
    const cap = Math.max(min, Math.ceil(this.held.length * 1.5), memberNumbers(), 16)
    const hash = new Int32Array(cap)
    hash.set(this.hash)
    this.hash = hash
    const held = new Uint8Array(cap)
    held.set(this.held)
    this.held = held
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(AE_BUCKETS * 4)
    const dv = new DataView(out.buffer)
    for (let i = 0; i < AE_BUCKETS; i++) dv.setUint32(i * 4, this.sums[i]!, false)
    return out
  }

  /** Buckets whose hash differs from the peer's summary (all of them if it is malformed). */
  differing(peer: Uint8Array): number[] {
    const out: number[] = []
    if (peer.length !== AE_BUCKETS * 4) {
      for (let i = 0; i < AE_BUCKETS; i++) out.push(i)
      return out
    }
    const dv = new DataView(peer.buffer, peer.byteOffset, peer.byteLength)
    for (let i = 0; i < AE_BUCKETS; i++) if (dv.getUint32(i * 4, false) !== this.sums[i]) out.push(i)
    return out
  }
}

/** Is fact a newer than fact b? Records by (inc, ver); liveness by (inc, code). */
export function recordNewer(a: { recInc: number; recVer: number }, b: { recInc: number; recVer: number } | undefined): boolean {
  if (!b) return a.recVer > 0 || a.recInc > 0
  return a.recInc > b.recInc || (a.recInc === b.recInc && a.recVer > b.recVer)
}

export function livenessNewer(a: { status: number; statusInc: number }, b: { status: number; statusInc: number } | undefined): boolean {
  if (!b) return true
  return a.statusInc > b.statusInc || (a.statusInc === b.statusInc && a.status > b.status)
}

export type DigestEntry = [id: string, recInc: number, recVer: number, status: number, statusInc: number]

/**
 * The entries of `buckets`, cut into digests of at most `maxEntries` (whole buckets per
 * digest, so the receiver can compare each named bucket completely).
 */
export function digestChunks(entries: Iterable<AeEntry>, buckets: number[], maxEntries: number): { buckets: number[]; e: DigestEntry[] }[] {
  const wanted = new Set(buckets)
  const byBucket = new Map<number, DigestEntry[]>()
  for (const x of entries) {
    const b = bucketOf(x.id)
    if (!wanted.has(b)) continue
    let list = byBucket.get(b)
    if (!list) byBucket.set(b, (list = []))
    list.push([x.id, x.recInc, x.recVer, x.status, x.statusInc])
  }
  const out: { buckets: number[]; e: DigestEntry[] }[] = []
  let cur: { buckets: number[]; e: DigestEntry[] } = { buckets: [], e: [] }
  for (const b of buckets) {
    const list = byBucket.get(b) ?? []
    if (cur.e.length + list.length > maxEntries && cur.e.length > 0) {
      out.push(cur)
      cur = { buckets: [], e: [] }
    }
    cur.buckets.push(b)
    cur.e.push(...list)
  }
  if (cur.buckets.length > 0) out.push(cur)
  return out
}
