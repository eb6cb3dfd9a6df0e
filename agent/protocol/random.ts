/** Seeded-shuffle helpers: every random choice in the core goes through the Rng port. */
import type { Rng } from './ports.js'

/** Fisher–Yates, in place. */
export function shuffle<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    const t = xs[i]!
    xs[i] = xs[j]!
    xs[j] = t
  }
  return xs
}

/**
 * Up to k distinct elements in random order, uniformly: the first k steps of a forward
 * Fisher–Yates over a copy (k draws, not one per element).
 */
export function sample<T>(items: readonly T[], k: number, rng: Rng): T[] {
  const a = items.slice()
  const m = Math.min(k, a.length)
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(a.length - i)
    const t = a[i]!
    a[i] = a[j]!
    a[j] = t
  }
  return a.slice(0, m)
}

/**
 * `sample` of the n items that `at(0..n-1)` reads, without building them: the same draws
 * and the same result, in O(k) (the shuffle touches only the positions it swaps), so
 * picking 3 of 10,000 costs 3 reads, not a copy of 10,000.
 */
export function sampleOf<T>(n: number, k: number, at: (i: number) => T, rng: Rng): T[] {
  const m = Math.min(k, n)
  const moved = new Map<number, number>() // position -> index of the item now there
  const out: T[] = []
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(n - i)
    const here = moved.get(i) ?? i
    out.push(at(moved.get(j) ?? j))
    moved.set(j, here)
  }
  return out
}

/** Up to n distinct elements, uniformly. */
export function pick<T>(xs: T[], n: number, rng: Rng): T[] {
  if (xs.length <= n) return xs
  return shuffle(xs.slice(), rng).slice(0, n)
}
