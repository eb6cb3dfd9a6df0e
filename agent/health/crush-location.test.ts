import { describe, expect, it } from 'vitest'
import { crushMoveWaits } from './crush-location.js'

describe('crushMoveWaits: a CRUSH move never runs under a wave', () => {
  const wave = { id: 'w1', target: 'v2' }
  it('ready, no wave: it may run', () => {
    expect(crushMoveWaits('ready', undefined, ['v1', 'v1'])).toBeUndefined()
  })
  it('a wave with a member not on its target yet (or not known): it waits, and says which wave', () => {
    expect(crushMoveWaits('ready', wave, ['v2', 'v1'])).toBe('wave w1 is running')
    expect(crushMoveWaits('ready', wave, ['v2', undefined])).toBe('wave w1 is running')
  })
  it('a wave every member finished: it may run', () => {
    expect(crushMoveWaits('ready', wave, ['v2', 'v2'])).toBeUndefined()
  })
  it('this node in a cycle (draining, verifying, ...): it waits, whatever the wave', () => {
    expect(crushMoveWaits('draining', undefined, [])).toBe('this node is draining')
    expect(crushMoveWaits('verifying', wave, ['v2'])).toBe('this node is verifying')
  })
})
