/**
 * The seed sweep (test/vote-sweep.ts) over the shapes where Ceph lets fewer nodes stop
 * together than K allows: K=3, K >= N-1, N=3 and 4, both placements, production's upgrade
 * cycle in every node. No safety violation, and every wave completes once the faults heal.
 * A failure names its case and seed, with the command that replays it.
 */
import { describe, it } from 'vitest'
import type { SweepCase } from '../sim/wave/wave-sweep.js'
import { smallKCases, sweep } from './vote-sweep.js'

/** The seeds a 10,008-seed sweep once left unfinished (4 domains), each on both placements. */
const ONCE_HUNG: [nodes: number, k: number, seed: number][] = [[4, 3, 204], [5, 3, 248], [8, 3, 62], [8, 3, 90], [16, 3, 127], [16, 3, 255], [32, 3, 216], [8, 1, 29]]
const onceHung: SweepCase[] = ONCE_HUNG.flatMap(([nodes, k, seed]) => (['host', 'domain'] as const).map((placeBy) => ({ nodes, maxUnavailable: k, domains: 4, placeBy, seeds: { from: seed, to: seed } })))

describe('vote: seed sweep, K up to 3 on small clusters', () => {
  it('the seeds that once hung (two holders waiting on each other; K candidates splitting every term; a promise to a released, later retired holder) now finish', () => sweep(onceHung), 300_000)

  it('N=3 K=2,3; N=4 K=1,2,3; N=5 K=3; N=8 K=3 — Ceph placed by host and by rack: no violation, every wave completes', () => sweep([...smallKCases('host'), ...smallKCases('domain')]), 600_000)
})
