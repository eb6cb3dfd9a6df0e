import { describe, expect, it } from 'vitest'
import { leftoverAction, type LeftoverFacts } from './leftover-action.js'

const base: LeftoverFacts = { mark: 'w3/0/1', maintenance: false, control: false, heldNow: false, sinceBootMs: 0, controlWaitMs: 30_000 }

describe('a cycle mark found at boot', () => {
  it('no mark: ready at once', () => {
    expect(leftoverAction({ ...base, mark: undefined })).toBe('ready')
  })

  it('with the coordinator heard: held if it lists the node in maintenance, else the cycle is finished', () => {
    expect(leftoverAction({ ...base, control: true, heldNow: true })).toBe('hold')
    expect(leftoverAction({ ...base, control: true, heldNow: false, maintenance: true })).toBe('finish')
  })

  it('a node in maintenance whose coordinator is down stays held, however long (maintenance never ends by itself)', () => {
    expect(leftoverAction({ ...base, maintenance: true })).toBe('hold')
    expect(leftoverAction({ ...base, maintenance: true, sinceBootMs: 24 * 3600_000 })).toBe('hold')
  })

  it('any other mark waits for the control message for controlWaitMs, then is finished', () => {
    expect(leftoverAction({ ...base, sinceBootMs: 29_999 })).toBe('wait')
    expect(leftoverAction({ ...base, sinceBootMs: 30_000 })).toBe('finish')
  })
})
