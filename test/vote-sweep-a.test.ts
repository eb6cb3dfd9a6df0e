import { describe, it } from 'vitest'
import { ciCases, sweep } from './vote-sweep.js'

describe('vote: seed sweep, Ceph placement by host', () => {
  it('N=3, 5, 8; K=1, 2: no safety violation, and every wave completes once the faults heal (invariant e)', () => sweep(ciCases('host')), 600_000)
})
