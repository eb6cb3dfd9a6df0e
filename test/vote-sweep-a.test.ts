import { describe, it } from 'vitest'
import { sweep } from './vote-sweep.js'

describe('vote: seed sweep, first half', () => {
  it('seeds 1-1000: no safety violation, the waves complete', () => sweep(1, 1000), 300_000)
})
