/**
 * The simulator's one source of randomness: xoshiro128** (Blackman & Vigna), seeded
 * through splitmix32 so that nearby seeds (1, 2, 3, ...) give unrelated streams.
 *
 * A run has ONE seed. Everything random in a run (latencies, loss, which peers a new
 * node meets, each node's own protocol randomness) draws from `SimRng`s derived from
 * that seed with `fork()`, in a fixed order, so the seed alone reproduces the run.
 * Forking per consumer (rather than sharing one stream) keeps a change in, say, the
 * network model from reshuffling every node's protocol decisions.
 */
import type { Rng } from '../../agent/protocol/ports.js'
import { sample, sampleOf } from '../../agent/protocol/random.js'

const TWO_POW_32 = 4294967296

/** splitmix32 step: returns [output, next state]. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0
  let z = next
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  z ^= z >>> 16
  return [z >>> 0, next]
}

export class SimRng implements Rng {
  private s0: number
  private s1: number
  private s2: number
  private s3: number
  /** The seed this stream was built from (a fork's seed is derived, not the run's). */
  readonly seed: number

  /** `seed`: any integer in [0, 2^53); the run's seed as the operator typed it. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be an integer in [0, 2^53), got ${seed}`)
    this.seed = seed
    // Fold both halves of the 53-bit seed into the splitmix state.
    let st = (seed % TWO_POW_32) ^ Math.imul(Math.floor(seed / TWO_POW_32), 0x27d4eb2f)
    let o: number
    ;[o, st] = splitmix32(st)
    this.s0 = o
    ;[o, st] = splitmix32(st)
    this.s1 = o
    ;[o, st] = splitmix32(st)
    this.s2 = o
    ;[o, st] = splitmix32(st)
    this.s3 = o
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1 // the all-zero state is a fixed point
  }

  /** Next 32-bit unsigned output. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0
    const t = this.s1 << 9
    this.s2 ^= this.s0
    this.s3 ^= this.s1
    this.s1 ^= this.s2
    this.s0 ^= this.s3
    this.s2 ^= t
    this.s3 = rotl(this.s3, 11)
    return result
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number {
    return this.u32() / TWO_POW_32
  }

  /** Uniform integer in [0, n); n must be a positive integer below 2^32. */
  int(n: number): number {
    if (!(n > 0) || n > TWO_POW_32 || !Number.isInteger(n)) throw new RangeError(`int(n) needs an integer n in [1, 2^32], got ${n}`)
    // Rejection sampling: no modulo bias, even for large n.
    const limit = TWO_POW_32 - (TWO_POW_32 % n)
    for (;;) {
      const x = this.u32()
      if (x < limit) return x % n
    }
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next()
  }

  /** True with probability p. Draws nothing when p is 0 or 1, so a fault knob left at 0 costs no randomness. */
  chance(p: number): boolean {
    if (p <= 0) return false
    if (p >= 1) return true
    return this.next() < p
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array')
    return items[this.int(items.length)]!
  }

  /** Up to k distinct elements, in random order (partial Fisher–Yates on a copy). */
  sample<T>(items: readonly T[], k: number): T[] {
    return sample(items, k, this)
  }

  /** `sample` of the n items `at(0..n-1)` reads, in O(k): agent/protocol/random.ts sampleOf. */
  sampleOf<T>(n: number, k: number, at: (i: number) => T): T[] {
    return sampleOf(n, k, at, this)
  }

  /** An independent stream derived from this one (consumes two outputs of this stream). */
  fork(): SimRng {
    const hi = this.u32() & 0x1fffff // 21 bits: hi * 2^32 + lo stays a safe integer
    const lo = this.u32()
    return new SimRng(hi * TWO_POW_32 + lo)
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}
