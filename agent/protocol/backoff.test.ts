import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Backoff, backoffDelay } from './backoff.js'

describe('backoff', () => {
  it('grows by its factor from initialMs, caps its centre at maxMs, and resets after a success', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 4000, factor: 2, jitter: 0.2 }, { next: () => 0.5, int: () => 0 })
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([1000, 2000, 4000, 4000])
    expect(b.attempts).toBe(4)
    b.reset()
    expect(b.next()).toBe(1000)
  })

  it('spreads each delay over jitter of it, centred, never below zero', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60_000 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 40 }), fc.double({ min: 0, max: 0.999_999, noNaN: true }), (initialMs, jitter, failures, r) => {
        const cfg = { initialMs, maxMs: 120_000, factor: 2, jitter }
        const c = Math.min(cfg.maxMs, initialMs * 2 ** failures)
        const d = backoffDelay(cfg, failures, () => r)
        expect(d).toBeGreaterThanOrEqual(Math.floor(c * (1 - jitter / 2)))
        expect(d).toBeLessThanOrEqual(Math.ceil(c * (1 + jitter / 2)))
      }),
    )
  })
})
