import { describe, expect, it } from 'vitest'
import { groupBlockers, neverStops, StopFacts } from './stop-facts.js'

const pool = (name: string, size: number, min: number) => ({ name, size, min })

describe('neverStops: what can never clear by itself', () => {
  it('a pool whose min_size equals its size: no host can ever stop; the fix lowers min_size', () => {
    const b = neverStops({ pools: [pool('rbd', 2, 2)], domainType: 'host', domains: 2 })
    expect(b).toHaveLength(1)
    expect(b[0]!.code).toBe('pool-min-size')
    expect(b[0]!.message).toMatch(/pool rbd has min_size 2 with size 2: with one host down 1 copy remains/)
    expect(b[0]!.fix).toMatch(/^ceph osd pool set rbd min_size 1/)
  })

  it('fewer failure domains than replicas: the PGs are undersized already; the fix adds a host or sizes the pool', () => {
    const b = neverStops({ pools: [pool('rbd', 3, 2)], domainType: 'host', domains: 2 })
    expect(b.map((x) => x.code)).toEqual(['failure-domains'])
    expect(b[0]!.message).toMatch(/wants 3 replicas on distinct hosts but the CRUSH map has 2 host\(s\).*1 copy remains, below min_size 2/)
    expect(b[0]!.fix).toMatch(/add a host with OSDs \(2 -> 3\).*ceph osd pool set rbd size 2 && ceph osd pool set rbd min_size 1/)
  })

  it('what can finish says nothing: size 2/min_size 1 over 2 hosts, size 3/min_size 2 over 3 or more', () => {
    expect(neverStops({ pools: [pool('rbd', 2, 1)], domains: 2 })).toEqual([])
    expect(neverStops({ pools: [pool('rbd', 3, 2), pool('meta', 3, 2)], domainType: 'rack', domains: 3 })).toEqual([])
    expect(neverStops({ pools: [pool('rbd', 3, 2)], domains: 8 })).toEqual([])
    expect(neverStops(undefined)).toEqual([])
    expect(neverStops({})).toEqual([])
  })

  it('a single-copy pool cannot lose its host: the fix is a second copy', () => {
    const b = neverStops({ pools: [pool('scratch', 1, 1)], domains: 3 })
    expect(b.map((x) => x.code)).toEqual(['pool-min-size'])
    expect(b[0]!.fix).toMatch(/size 2 && ceph osd pool set scratch min_size 1/)
  })

  it('every failing pool is named (the mgr pool too), in the failure-domain type of the CRUSH rule', () => {
    const b = neverStops({ pools: [pool('testpool', 2, 1), pool('device_health_metrics', 2, 2)], domainType: 'rack', domains: 2 })
    expect(b.map((x) => x.message)).toEqual([expect.stringMatching(/^pool device_health_metrics has min_size 2 with size 2: with one rack down/)])
  })

  it("Ceph's own ok-to-stop with nothing else down counts when the pools do not explain it", () => {
    expect(neverStops({ pools: [pool('rbd', 3, 2)], domains: 3, okAlone: false }).map((b) => b.code)).toEqual(['ok-to-stop-alone'])
    expect(neverStops({ pools: [pool('rbd', 3, 2)], domains: 3, okAlone: true })).toEqual([])
    // Already explained by the pool: one reason, not two.
    expect(neverStops({ pools: [pool('rbd', 2, 2)], domains: 2, okAlone: false }).map((b) => b.code)).toEqual(['pool-min-size'])
  })

  it('a PodDisruptionBudget that allows nothing with every pod healthy', () => {
    const b = neverStops({ pdbs: [{ name: 'db', healthy: 2, desired: 2 }] })
    expect(b.map((x) => x.code)).toEqual(['pdb-allows-none'])
    expect(b[0]!.message).toMatch(/PodDisruptionBudget db allows no eviction although all 2 of its pods are healthy \(2 must stay up\)/)
    expect(b[0]!.fix).toMatch(/relax the PodDisruptionBudget db/)
  })

  it('groups one cause over many nodes', () => {
    const facts = { pools: [pool('rbd', 2, 2)], domains: 2 }
    const g = groupBlockers(new Map([['a', neverStops(facts)], ['b', neverStops(facts)]]))
    expect(g).toHaveLength(1)
    expect(g[0]!.nodes).toEqual(['a', 'b'])
  })

  it('the published shape is bounded and strict', () => {
    expect(StopFacts.safeParse({ pools: [pool('rbd', 2, 1)], domains: 2, okAlone: true }).success).toBe(true)
    expect(StopFacts.safeParse({ pools: Array.from({ length: 17 }, (_, i) => pool(`p${i}`, 3, 2)) }).success).toBe(false)
    expect(StopFacts.safeParse({ domains: -1 }).success).toBe(false)
    expect(StopFacts.safeParse({ extra: 1 }).success).toBe(false)
  })
})
