import { describe, expect, it } from 'vitest'
import { defaultIdentityResolver } from './identity-resolver.js'

const a = { id: 'node-a', comps: ['uuid:ua', 'sys:sa', 'disk:da1', 'disk:da2', 'nic:na'] }
const b = { id: 'node-b', comps: ['uuid:ub', 'sys:sb', 'disk:db1', 'disk:db2', 'nic:nb'] }

describe('defaultIdentityResolver', () => {
  it('a known machine with a part swapped keeps its id', () => {
    const comps = a.comps.map((c) => (c === 'nic:na' ? 'nic:new' : c))
    expect(defaultIdentityResolver('whatever', comps, [a, b])).toEqual({ id: 'node-a', identity: 'known' })
  })
  it('a board swap with the disks kept keeps the id', () => {
    expect(defaultIdentityResolver('x', ['uuid:new', 'sys:new', 'disk:da1', 'disk:da2', 'nic:na'], [a, b])).toEqual({ id: 'node-a', identity: 'known' })
  })
  it('a new machine gets the id it proposed when free, another one when taken', () => {
    const comps = ['uuid:uc', 'sys:sc', 'disk:dc1', 'nic:nc']
    expect(defaultIdentityResolver('node-c', comps, [a, b])).toEqual({ id: 'node-c', identity: 'new' })
    const r = defaultIdentityResolver('node-a', comps, [a, b])
    expect(r.identity).toBe('new')
    expect(r.id).not.toBe('node-a')
    expect(r.id).not.toBe('node-b')
  })
  it('no usable component: the proposed id, suffixed when taken', () => {
    expect(defaultIdentityResolver('lab-1', ['cpu:x'], [a])).toEqual({ id: 'lab-1', identity: 'new' })
    expect(defaultIdentityResolver('node-a', ['cpu:x'], [a])).toEqual({ id: 'node-a-2', identity: 'new' })
  })
})
