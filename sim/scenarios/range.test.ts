import { describe, expect, it } from 'vitest'
import { convert } from '../sim-command.js'

describe('scenario option parsing', () => {
  it('parses ranges like --seeds 1-10000 for scenarios that declare them', () => {
    const spec = { type: 'range', description: 'seeds' } as const
    expect(convert('seeds', spec, '1-10000')).toEqual({ from: 1, to: 10000 })
    expect(convert('seeds', spec, '7')).toEqual({ from: 7, to: 7 })
    expect(() => convert('seeds', spec, '10-1')).toThrow(/ascending/)
    expect(() => convert('seeds', spec, '1..5')).toThrow(/--seeds must be a range/)
    expect(convert('seeds', { ...spec, default: '1-3' }, undefined)).toEqual({ from: 1, to: 3 })
  })
})
