import { describe, it } from 'vitest'
import { sweep } from './vote-sweep.js'

describe('vote: seed sweep, first half', () => {
  it('seeds 1-1000: no safety violation, and every wave completes once the faults heal (invariant e)', () => sweep(1, 1000), 300_000)
})
