/** Production Rng: node:crypto randomness (the simulator passes a seeded one instead). */
import { randomInt } from 'node:crypto'
import type { Rng } from '../protocol/ports.js'

export const systemRng: Rng = {
  next: () => randomInt(2 ** 47) / 2 ** 47,
  int: (n) => (n <= 1 ? 0 : randomInt(Math.min(n, 2 ** 47))),
}
