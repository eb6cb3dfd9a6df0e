import { describe, expect, it } from 'vitest'
import { jointOkToStop, jointSet, slotHolders, type JointInputs, type JointVerdict } from './joint-safety.js'

const ids = ['n1', 'n2', 'n3', 'n4', 'n5']

function inputs(self: string, over: Partial<JointInputs> = {}): JointInputs {
  return { self, ids, unavailable: () => false, down: () => false, holders: [], ...over }
}

describe('jointSet: what a node counts as stopped with itself', () => {
  it('nothing down, nobody holding: itself alone', () => {
    expect(jointSet(inputs('n2'))).toEqual([])
  })

  it('every node unavailable in its view (down, rebooting, draining, not Ready), and every holder with a smaller id', () => {
    const down = new Set(['n5'])
    const s = jointSet(inputs('n3', { unavailable: (id) => id === 'n5' || id === 'n4', down: (id) => down.has(id), holders: ['n1', 'n3'] }))
    expect(s).toEqual(['n1', 'n4', 'n5'])
  })

  it('a holder with a greater id that is still up is left out (it counts this node in its own set); once down, it is in', () => {
    const draining = jointSet(inputs('n2', { unavailable: (id) => id === 'n4', holders: ['n4'] }))
    expect(draining).toEqual([])
    const rebooting = jointSet(inputs('n2', { unavailable: (id) => id === 'n4', down: (id) => id === 'n4', holders: ['n4'] }))
    expect(rebooting).toEqual(['n4'])
    // And the other way round, n4 always counts n2.
    expect(jointSet(inputs('n4', { holders: ['n2'] }))).toEqual(['n2'])
  })

  it('a holder with a greater id that is back from its reboot but not verified is always in: it asks nothing any more', () => {
    // n4 rebooted and is verifying (up, its OSDs backfilling): Ceph's ok-to-stop for n2 alone
    // would not count n4's OSDs (a backfill target is not in the acting set), yet n4 is not clean.
    const verifying = (id: string) => id === 'n4'
    expect(jointSet(inputs('n2', { unavailable: verifying, holders: ['n4'], rebooted: verifying }))).toEqual(['n4'])
    // Whether or not this node's vote still lists it as holding a slot.
    expect(jointSet(inputs('n2', { unavailable: verifying, rebooted: verifying }))).toEqual(['n4'])
    // Before its reboot (draining) it is still left out: it counts n2 in its own set.
    expect(jointSet(inputs('n2', { unavailable: verifying, holders: ['n4'], cycling: verifying }))).toEqual([])
  })

  it('a node whose record shows it in a cycle is ordered as a holder even when this vote missed its grant: the pair never waits on each other', () => {
    // n2 and n4 both draining; n2's vote never heard n4's grant, n4's knows n2 holds.
    const draining = (id: string) => id === 'n2' || id === 'n4'
    const s2 = jointSet(inputs('n2', { unavailable: draining, holders: ['n2'], cycling: draining }))
    const s4 = jointSet(inputs('n4', { unavailable: draining, holders: ['n2', 'n4'], cycling: draining }))
    expect(s2).toEqual([]) // n4 is greater and up: it counts n2 itself
    expect(s4).toEqual(['n2'])
    // Without the record (the old rule), n2 counted n4 as merely unavailable: each waited on the other.
    expect(jointSet(inputs('n2', { unavailable: draining, holders: ['n2'] }))).toEqual(['n4'])
  })

  it('for any two holders, at least one counts the other: they never both go down on answers that left the other out', () => {
    for (const a of ids) {
      for (const b of ids) {
        if (a === b) continue
        const sa = jointSet(inputs(a, { holders: [a, b], unavailable: (id) => id === a || id === b }))
        const sb = jointSet(inputs(b, { holders: [a, b], unavailable: (id) => id === a || id === b }))
        expect(sa.includes(b) || sb.includes(a), `${a} / ${b}`).toBe(true)
      }
    }
  })

  it('holders from a vote view: granted and promised-to, once each', () => {
    expect(slotHolders([{ holder: 'n1', promisedTo: ['n1', 'n3'] }, { holder: undefined, promisedTo: ['n3'] }])).toEqual(['n1', 'n3'])
  })
})

describe('jointOkToStop: the voters\' question, answered from gossip', () => {
  const verdicts = (v: Record<string, JointVerdict>) => (id: string) => v[id]

  it('one candidate, nothing down: its own pre verdict decides', () => {
    expect(jointOkToStop(['n2'], verdicts({ n2: { pre: true } }), [], () => false)).toBe(true)
    expect(jointOkToStop(['n2'], verdicts({ n2: { pre: false } }), [], () => false)).toBe(false)
    expect(jointOkToStop(['n2'], verdicts({}), [], () => false)).toBe(false) // unknown fails closed
  })

  it('a candidate beside a draining holder with a smaller id: only a verdict computed jointly with the holder counts', () => {
    const hosts = ['n1', 'n3'] // n1 holds (draining), n3 is the candidate
    const unavailable = ['n1']
    expect(jointOkToStop(hosts, verdicts({ n3: { pre: true } }), unavailable, () => false)).toBe(false)
    expect(jointOkToStop(hosts, verdicts({ n3: { pre: true, preWith: ['n1'] } }), unavailable, () => false)).toBe(true)
    expect(jointOkToStop(hosts, verdicts({ n3: { pre: false, preWith: ['n1'] } }), unavailable, () => false)).toBe(false)
  })

  it('every node the voter sees down must be covered, wherever it is', () => {
    const v = verdicts({ n2: { pre: true, preWith: ['n4'] } })
    expect(jointOkToStop(['n2'], v, ['n4'], (id) => id === 'n4')).toBe(true)
    expect(jointOkToStop(['n2'], v, ['n4', 'n5'], (id) => id === 'n4' || id === 'n5')).toBe(false)
    // A verdict computed with more than is down now is still a yes (ok-to-stop is monotone).
    expect(jointOkToStop(['n2'], v, [], () => false)).toBe(true)
  })

  it('a candidate with a smaller id than a draining holder need not count it (the holder counts the candidate); a rebooting one it must', () => {
    const hosts = ['n4', 'n2'] // n4 holds, n2 is the candidate
    expect(jointOkToStop(hosts, verdicts({ n2: { pre: true } }), ['n4'], () => false)).toBe(true)
    expect(jointOkToStop(hosts, verdicts({ n2: { pre: true } }), ['n4'], (id) => id === 'n4')).toBe(false)
    expect(jointOkToStop(hosts, verdicts({ n2: { pre: true, preWith: ['n4'] } }), ['n4'], (id) => id === 'n4')).toBe(true)
  })
})
