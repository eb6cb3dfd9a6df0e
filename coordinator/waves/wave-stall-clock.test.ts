import { describe, expect, it } from 'vitest'
import { StallClock } from './wave-stall-clock.js'

describe('StallClock', () => {
  it('counts only the time the key stood still unexcused, and says so once the limit is reached', () => {
    const c = new StallClock()
    expect(c.observe('a', () => false, 0, 100)).toBeUndefined() // a new key starts the clock
    expect(c.observe('a', () => false, 99, 100)).toBeUndefined()
    expect(c.observe('a', () => false, 100, 100)).toBe(100)
    expect(c.observe('b', () => false, 150, 100)).toBeUndefined() // progress: the clock starts again
    expect(c.observe('b', () => false, 249, 100)).toBeUndefined()
    expect(c.observe('b', () => true, 260, 100)).toBeUndefined() // held or a node down: not a stall
    expect(c.observe('b', () => false, 359, 100)).toBeUndefined()
    expect(c.observe('b', () => false, 360, 100)).toBe(100)
    c.restart(400) // a pause or resume
    expect(c.observe('b', () => false, 450, 100)).toBeUndefined()
    expect(c.observe('b', () => false, 500, 100)).toBe(100)
  })

  it('asks whether the wave is excused only when the key stood still', () => {
    const c = new StallClock()
    let asked = 0
    const excused = (): boolean => (asked++, false)
    c.observe('a', excused, 0, 100)
    expect(asked).toBe(0)
    c.observe('a', excused, 10, 100)
    expect(asked).toBe(1)
  })
})
