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

/** Up to n distinct elements, uniformly. */
export function pick<T>(xs: T[], n: number, rng: Rng): T[] {
  if (xs.length <= n) return xs
  return shuffle(xs.slice(), rng).slice(0, n)
}
