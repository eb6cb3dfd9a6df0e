import { describe, expect, it } from 'vitest'
import { AE_BUCKETS, BucketHashes, bucketOf, livenessNewer, recordNewer } from './anti-entropy.js'
import { suspicionTimeoutMs } from './suspicion.js'

describe('anti-entropy bucket hashes', () => {
  it('are order-independent and track replacements and deletions', () => {
    const a = new BucketHashes()
    const b = new BucketHashes()
    const entries = Array.from({ length: 50 }, (_, i) => ({ id: `n${i}`, recInc: 1, recVer: i, status: 0, statusInc: 1 }))
    entries.forEach((e) => a.set(e))
    ;[...entries].reverse().forEach((e) => b.set(e))
    expect(a.differing(b.toBytes())).toEqual([])
    b.set({ ...entries[7]!, recVer: 99 })
    expect(a.differing(b.toBytes())).toEqual([bucketOf('n7')])
    b.set(entries[7]!)
    expect(a.differing(b.toBytes())).toEqual([])
    b.delete('n3')
    expect(a.differing(b.toBytes())).toEqual([bucketOf('n3')])
  })

  it('treats a malformed peer summary as "everything differs"', () => {
    expect(new BucketHashes().differing(new Uint8Array(3))).toHaveLength(AE_BUCKETS)
  })

  it('orders facts: records by (inc, ver); liveness by (inc, alive<suspect<dead)', () => {
    expect(recordNewer({ recInc: 2, recVer: 1 }, { recInc: 1, recVer: 9 })).toBe(true)
    expect(recordNewer({ recInc: 1, recVer: 9 }, { recInc: 1, recVer: 9 })).toBe(false)
    expect(livenessNewer({ status: 1, statusInc: 3 }, { status: 0, statusInc: 3 })).toBe(true)
    expect(livenessNewer({ status: 0, statusInc: 4 }, { status: 2, statusInc: 3 })).toBe(true)
    expect(livenessNewer({ status: 0, statusInc: 3 }, { status: 2, statusInc: 3 })).toBe(false)
  })
})

describe('Lifeguard suspicion timeout', () => {
  const base = { clusterSize: 1000, probeIntervalMs: 200, minMult: 4, maxMult: 3, confirmationsWanted: 3 }
  it('starts at the maximum and reaches the minimum with enough confirmations', () => {
    const min = 4 * 3 * 200
    expect(suspicionTimeoutMs({ ...base, confirmations: 0 })).toBe(3 * min)
    expect(suspicionTimeoutMs({ ...base, confirmations: 3 })).toBe(min)
    expect(suspicionTimeoutMs({ ...base, confirmations: 10 })).toBe(min)
    const one = suspicionTimeoutMs({ ...base, confirmations: 1 })
    expect(one).toBeLessThan(3 * min)
    expect(one).toBeGreaterThan(min)
  })
})

describe('digest chunks', () => {
  it('cover every wanted bucket whole and respect the size limit', async () => {
    const { digestChunks } = await import('./anti-entropy.js')
    const entries = Array.from({ length: 500 }, (_, i) => ({ id: `n${i}`, recInc: 1, recVer: i, status: 0, statusInc: 1 }))
    const buckets = Array.from({ length: AE_BUCKETS }, (_, i) => i)
    const chunks = digestChunks(entries, buckets, 100)
    expect(chunks.flatMap((c) => c.buckets).sort((a, b) => a - b)).toEqual(buckets)
    expect(chunks.flatMap((c) => c.e.map((e) => e[0])).sort()).toEqual(entries.map((e) => e.id).sort())
    for (const c of chunks) {
      expect(c.e.length).toBeLessThanOrEqual(100 + 20) // one bucket may overflow a chunk it starts
      for (const e of c.e) expect(c.buckets).toContain(bucketOf(e[0]))
    }
  })
})

describe('swapped liveness (a healed partition)', () => {
  it('shows as a difference: A alive/B dead never sums like A dead/B alive', () => {
    // Many pairs sharing a bucket; with raw FNV sums about half of them cancelled.
    const ids = Array.from({ length: 2000 }, (_, i) => `w${String(i).padStart(4, '0')}`)
    let pairs = 0
    for (let i = 0; i < ids.length && pairs < 300; i++) {
      for (let j = i + 1; j < ids.length && pairs < 300; j++) {
        if (bucketOf(ids[i]!) !== bucketOf(ids[j]!)) continue
        pairs++
        const x = new BucketHashes()
        const y = new BucketHashes()
        const e = (id: string, status: number) => ({ id, recInc: 5, recVer: 100, status, statusInc: 5 })
        x.set(e(ids[i]!, 0))
        x.set(e(ids[j]!, 2))
        y.set(e(ids[i]!, 2))
        y.set(e(ids[j]!, 0))
        expect(x.differing(y.toBytes()), `${ids[i]} / ${ids[j]}`).toEqual([bucketOf(ids[i]!)])
      }
    }
    expect(pairs).toBe(300)
  })
})
