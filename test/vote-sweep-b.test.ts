import { describe, it } from 'vitest'
import { sweep } from './vote-sweep.js'

describe('vote: seed sweep, second half', () => {
  it('seeds 1001-2000: no safety violation, and every wave completes once the faults heal (invariant e)', () => sweep(1001, 2000), 300_000)
})
