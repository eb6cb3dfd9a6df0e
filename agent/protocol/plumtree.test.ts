import { describe, expect, it } from 'vitest'
import { Plumtree } from './plumtree.js'

const app = (seq: number) => ({ k: 'app' as const, origin: 'o', seq, topic: 't', body: new Uint8Array(0), sig: new Uint8Array(64) })

describe('Plumtree grafts', () => {
  it('grafts an announced id only once its deadline passes, from its first announcer, then from the next', () => {
    const t = new Plumtree(20)
    t.heardOf('x', 'a', 0)
    t.heardOf('x', 'b', 5)
    expect(t.nextDeadline()).toBe(20)
    expect([...t.dueGrafts(19)]).toEqual([])
    expect([...t.dueGrafts(20)]).toEqual([['a', ['x']]])
    // Not answered in time: the next announcer.
    expect(t.nextDeadline()).toBe(40)
    expect([...t.dueGrafts(40)]).toEqual([['b', ['x']]])
    // No announcer left: given up.
    expect([...t.dueGrafts(60)]).toEqual([])
    expect(t.nextDeadline()).toBe(Infinity)
  })

  it('a delivered id is not grafted, and its deadline no longer wakes the node', () => {
    const t = new Plumtree(20)
    t.heardOf('x', 'a', 0)
    t.heardOf('y', 'a', 10)
    t.delivered('x', app(1), 5)
    expect(t.nextDeadline()).toBe(30)
    expect([...t.dueGrafts(100)]).toEqual([['a', ['y']]])
  })

  it('groups due ids by announcer in the order they were first announced', () => {
    const t = new Plumtree(20)
    t.heardOf('x', 'b', 0)
    t.heardOf('y', 'a', 1)
    t.heardOf('z', 'b', 2)
    expect([...t.dueGrafts(50)]).toEqual([
      ['b', ['x', 'z']],
      ['a', ['y']],
    ])
  })

  it('keeps deadlines in order when the clock steps back', () => {
    const t = new Plumtree(20)
    t.heardOf('x', 'a', 100)
    t.heardOf('y', 'a', 50) // the clock went back 50 ms
    expect(t.nextDeadline()).toBe(70)
    expect([...t.dueGrafts(70)]).toEqual([['a', ['y']]])
    expect([...t.dueGrafts(120)]).toEqual([['a', ['x']]])
  })

  it('an id announced again after its delivery waits a full timeout', () => {
    const t = new Plumtree(20)
    t.heardOf('x', 'a', 0)
    t.delivered('x', app(1), 1)
    t.heardOf('x', 'b', 15)
    expect([...t.dueGrafts(20)]).toEqual([])
    expect([...t.dueGrafts(35)]).toEqual([['b', ['x']]])
  })
})

describe('Plumtree announcements', () => {
  it('announces to lazy neighbours, except ids a neighbour is known to hold', () => {
    const t = new Plumtree(20)
    for (const p of ['a', 'b', 'c']) t.addNeighbour(p)
    t.demote('b')
    t.demote('c')
    t.announce('x', undefined)
    t.announce('y', undefined)
    t.holds('b', 'x') // b announced x to us meanwhile
    expect(Object.fromEntries(t.takeAnnouncements())).toEqual({ b: ['y'], c: ['x', 'y'] })
  })

  it('sends no announcement at all to a neighbour that holds every queued id', () => {
    const t = new Plumtree(20)
    t.addNeighbour('a')
    t.demote('a')
    t.announce('x', undefined)
    t.holds('a', 'x')
    expect(t.takeAnnouncements().size).toBe(0)
  })

  it('forgets what a neighbour held when its link goes', () => {
    const t = new Plumtree(20)
    t.addNeighbour('a')
    t.demote('a')
    t.holds('a', 'x')
    expect(t.knownAt('a', 'x')).toBe(true)
    expect(t.knownAt('a', 'y')).toBe(false)
    t.removeNeighbour('a')
    expect(t.knownAt('a', 'x')).toBe(false)
    t.addNeighbour('a')
    t.demote('a')
    t.announce('x', undefined)
    expect(Object.fromEntries(t.takeAnnouncements())).toEqual({ a: ['x'] })
  })

  it('remembers what a neighbour held for at least 30 s, then forgets it (held sets age at the sweep)', () => {
    const t = new Plumtree(20)
    t.addNeighbour('a')
    t.expire(0)
    t.holds('a', 'x')
    t.expire(10_000)
    expect(t.knownAt('a', 'x')).toBe(true)
    t.expire(30_000) // the generation turns: x is in the previous one
    t.holds('a', 'y')
    expect(t.knownAt('a', 'x')).toBe(true)
    t.expire(50_000)
    expect(t.knownAt('a', 'x')).toBe(true)
    t.expire(60_000) // turns again: x is forgotten, y (a generation old) is kept
    expect(t.knownAt('a', 'x')).toBe(false)
    expect(t.knownAt('a', 'y')).toBe(true)
    t.demote('a')
    t.announce('x', undefined)
    t.announce('y', undefined)
    expect(Object.fromEntries(t.takeAnnouncements())).toEqual({ a: ['x'] })
    t.expire(90_000)
    expect(t.knownAt('a', 'y')).toBe(false)
  })
})
