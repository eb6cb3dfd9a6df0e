import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { retryDelay } from './retry-policy.js'

describe('retry policy', () => {
  it("the kube retry policy keeps its delays: uniform in [d/2, d], d = min(max, base * 2^(n-1))", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 1, max: 30 }), fc.double({ min: 0, max: 0.999_999, noNaN: true }), (baseMs, maxMs, n, r) => {
        const d = Math.min(maxMs, baseMs * 2 ** (n - 1))
        const got = retryDelay({ baseMs, maxMs, attempts: 5 }, n, () => r)
        expect(Math.abs(got - (d / 2 + (r * d) / 2))).toBeLessThanOrEqual(0.5 + 1e-9)
      }),
    )
  })
})
