import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { NodeFacts } from './cluster-view.js'
import { VoteNet } from './vote-testing.js'

const ids = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`)

describe('view change: one that concerns nobody this node watches costs nothing', () => {
  it('naming no holder, it changes nothing; naming a holder that now looks done, it asks that holder', () => {
    const net = new VoteNet({ ids: ids(5) })
    net.startWave()
    expect(net.holders()).toEqual(['n0'])
    net.poke(new Set()) // every holder judged once
    const wake = net.node('n3').nextWakeAt()
    // n0 is back on the target and healthy, but its release never reached anyone.
    net.filter = (_f, _t, m) => m.k !== 'rel'
    net.view.set('n0', { image: 'v2' })
    const before = net.log.length
    net.poke(new Set(['n4'])) // a change elsewhere: the voters keep what they judged
    expect(net.log.length).toBe(before)
    expect(net.node('n3').counters['view.quiet']).toBeGreaterThanOrEqual(2)
    expect(net.node('n3').nextWakeAt()).toBe(wake)
    net.poke(new Set(['n0']))
    const asked = net.log.slice(before).filter((l) => l.node === 'n3' && l.effect.type === 'send' && l.effect.msg.k === 'query')
    expect(asked).toHaveLength(1)
    expect(net.node('n3').counters['queries.done-holder']).toBe(1)
    const askAgainAt = net.node('n3').nextWakeAt()
    expect(askAgainAt).toBeLessThan(wake)
    // It goes down again before it answers: no longer done, so no ask time either.
    net.view.set('n0', { available: false })
    net.poke(new Set(['n0']))
    expect(net.node('n3').nextWakeAt()).toBe(wake)
  })

  it('a node with a slot free in its books always runs the check (it reads the whole view)', () => {
    const net = new VoteNet({ ids: ids(4), slots: 2 })
    net.view.set('n1', { available: false }) // one node down: the budget leaves the second slot empty
    net.startWave()
    expect(net.holders()).toEqual(['n0'])
    const quiet = net.node('n2').counters['view.quiet'] ?? 0
    net.poke(new Set())
    expect(net.node('n2').counters['view.quiet'] ?? 0).toBe(quiet)
    // The down node is back: with the change named, the best-ranked waiting node asks at once.
    net.view.set('n1', { available: true })
    net.poke(new Set(['n1']))
    expect(net.holders().sort()).toEqual(['n0', 'n1'])
  })

  it('the same inputs with and without the changed set give the same effects and wake times (random histories)', () => {
    type Op = { k: 'set'; id: number; patch: Partial<NodeFacts> } | { k: 'poke' } | { k: 'advance'; ms: number } | { k: 'gate' } | { k: 'lose'; id: number }
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ k: fc.constant('set' as const), id: fc.nat(5), patch: fc.record({ available: fc.boolean(), healthy: fc.boolean(), image: fc.constantFrom('v1', 'v2'), pods: fc.nat(3) }, { requiredKeys: [] }) }),
      fc.constant({ k: 'poke' as const }),
      fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 50, max: 8000 }) }),
      fc.constant({ k: 'gate' as const }),
      fc.record({ k: fc.constant('lose' as const), id: fc.nat(5) }),
    )
    let quiet = 0
    let asked = 0
    fc.assert(
      fc.property(fc.array(op, { minLength: 4, maxLength: 40 }), (ops) => {
        const named = new VoteNet({ ids: ids(6), slots: 2 })
        const full = new VoteNet({ ids: ids(6), slots: 2 })
        let changed = new Set<string>()
        for (const net of [named, full]) {
          // Releases to one chosen node get lost (the done-holder ask is what frees them there).
          net.filter = (_f, to, m) => !(m.k === 'rel' && lost.has(to))
          net.startWave()
        }
        const lost = new Set<string>()
        for (const o of ops) {
          if (o.k === 'lose') lost.add(`n${o.id}`)
          // The gate below sets the facts of this moment's holders: they are what changed.
          if (o.k === 'gate') for (const id of named.holders()) changed.add(id)
          for (const net of [named, full]) {
            if (o.k === 'set') net.view.set(`n${o.id}`, o.patch)
            else if (o.k === 'advance') net.advance(o.ms, 250)
            else if (o.k === 'gate') {
              for (const id of net.holders()) {
                const l = net.node(id).currentLease()!
                net.view.set(id, { image: 'v2', available: true, healthy: true })
                net.input(id, { type: 'gate', lease: l, passed: true })
              }
            } else if (o.k === 'poke') net.poke(net === named ? changed : undefined)
          }
          if (o.k === 'set') changed.add(`n${o.id}`)
          if (o.k === 'poke') changed = new Set()
          for (const [id, n] of named.nodes) expect(n.nextWakeAt(), `wake of ${id}`).toBe(full.node(id).nextWakeAt())
        }
        expect(named.log).toEqual(full.log)
        for (const n of named.nodes.values()) {
          quiet += n.counters['view.quiet'] ?? 0
          asked += n.counters['queries.done-holder'] ?? 0
        }
      }),
      { numRuns: 60 },
    )
    // The property covered both branches: quiet steps, and holders asked because they looked done.
    expect(quiet).toBeGreaterThan(0)
    expect(asked).toBeGreaterThan(0)
  })
})
