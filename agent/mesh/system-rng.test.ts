import { describe, expect, it } from 'vitest'
import { systemRng } from './system-rng.js'

describe('systemRng', () => {
  it('draws integers in [0, n), each about equally often, across pool refills', () => {
    const counts = [0, 0, 0]
    // 30,000 draws use ~44 pools of 4 KiB.
    for (let i = 0; i < 30_000; i++) counts[systemRng.int(3)]!++
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(600) // ~6 standard deviations
  })

  it('keeps next() in [0, 1) and int() in range at the edges', () => {
    for (let i = 0; i < 5000; i++) {
      const x = systemRng.next()
      expect(x >= 0 && x < 1).toBe(true)
    }
    expect(systemRng.int(1)).toBe(0)
    expect(systemRng.int(0)).toBe(0)
    for (let i = 0; i < 1000; i++) expect(systemRng.int(2 ** 50)).toBeLessThan(2 ** 47)
    const seen = new Set(Array.from({ length: 200 }, () => systemRng.int(1000)))
    expect(seen.size).toBeGreaterThan(150)
  })
})
