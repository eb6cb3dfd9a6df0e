import { describe, expect, it } from 'vitest'
import { syntheticMachine } from '../../sim/synthetic-machines.js'
import { InventoryCache } from './inventory-cache.js'
import { componentsFromInventory } from './inventory-components.js'

describe('InventoryCache', () => {
  it('collects once for concurrent callers, serves the copy with its age, refreshes when stale', async () => {
    let t = 1000
    let runs = 0
    const inv = syntheticMachine(1, 1).inventory
    const cache = new InventoryCache({ clock: { now: () => t }, maxAgeMs: 60_000, collect: async () => (runs++, inv) })
    const [a, b] = await Promise.all([cache.get(), cache.get()])
    expect(runs).toBe(1)
    expect(a.ageMs).toBe(0)
    expect(b.inventory).toBe(inv)
    t += 30_000
    expect((await cache.get()).ageMs).toBe(30_000)
    expect(runs).toBe(1)
    t += 30_001
    expect((await cache.get()).ageMs).toBe(0)
    expect(runs).toBe(2)
  })

  it('a failed collection is not cached: the next call tries again', async () => {
    let fail = true
    const inv = syntheticMachine(1, 1).inventory
    const cache = new InventoryCache({ clock: { now: () => 0 }, collect: async () => { if (fail) throw new Error('boom'); return inv } })
    await expect(cache.get()).rejects.toThrow('boom')
    fail = false
    expect((await cache.get()).inventory).toBe(inv)
  })
})

describe('componentsFromInventory', () => {
  it('sees the same identity systeminformation would report as /sys does', () => {
    const m = syntheticMachine(0, 1)
    const kinds = (cs: { kind: string; value: string }[]) => cs.filter((c) => c.kind !== 'cpu').map((c) => `${c.kind}=${c.value}`).sort()
    expect(kinds(componentsFromInventory(m.inventory))).toEqual(kinds(m.components))
  })
})
