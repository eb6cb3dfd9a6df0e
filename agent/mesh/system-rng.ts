/**
 * Production Rng: node:crypto randomness (the simulator passes a seeded one instead).
 * Drawn from a pool filled 4 KiB at a time: `crypto.randomInt` per draw cost a call into
 * OpenSSL each (shuffles of the overlay and the probe order draw one per member; ~1.6% of
 * an agent's join CPU in a profile at N=50).
 */
import { randomFillSync } from 'node:crypto'
import type { Rng } from '../protocol/ports.js'

const POOL_BYTES = 4096
const TWO_48 = 2 ** 48
let pool = Buffer.alloc(0)
let at = 0

/** A uniform integer in [0, 2^48). */
function u48(): number {
  if (at + 6 > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES))
    at = 0
  }
  const v = pool.readUIntBE(at, 6)
  at += 6
  return v
}

export const systemRng: Rng = {
  next: () => u48() / TWO_48,
  int: (n) => {
    if (n <= 1) return 0
    const m = Math.min(Math.floor(n), 2 ** 47)
    // Rejection sampling: no value below m is likelier than another.
    const limit = TWO_48 - (TWO_48 % m)
    let v = u48()
    while (v >= limit) v = u48()
    return v % m
  },
}
