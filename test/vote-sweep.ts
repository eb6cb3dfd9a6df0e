/**
 * The seed sweep CI runs (test/vote-sweep-a.test.ts and -b, split so vitest can start
 * both halves at once; each half runs its seeds on worker threads across the cores,
 * sim/wave/wave-sweep.ts). Seeded fault schedules over small waves, the invariant checker
 * at every step; asserts no safety violation anywhere and, where the case can finish, no
 * incomplete or halted wave. A failure names its case and seed; `npm run sim -- --scenario
 * wave --nodes N --max-unavailable K --domains D --placement P --seeds S-S --trace` prints its story.
 *
 * The matrix: K=1 and K=2; N=3, 5 and 8; Ceph placement by host and by rack (domain),
 * with production's upgrade cycle (agent/protocol/upgrade-cycle) in every simulated node.
 * N=8: the smallest cluster in which the fault schedule can still take memory from a
 * member inside the liveness envelope (sim/wave/fault-schedule.ts), so it gets the most
 * seeds. Left out here: N=2 (test/vote-sweep-small.test.ts: with pools at size 2 / min_size
 * 1 every wave completes, the coordinator's tie-break carrying the quorum; with the default
 * pools the start check refuses it), and K=3, N=4 and K >= N-1 (test/vote-sweep-k3.test.ts:
 * smallKCases).
 */
import { expect } from 'vitest'
import { runSweep, type SweepCase } from '../sim/wave/wave-sweep.js'

const SEEDS: Record<number, number> = { 3: 150, 5: 150, 8: 400 }

/** CI's cases for one Ceph placement. */
export function ciCases(placeBy: 'host' | 'domain'): SweepCase[] {
  const out: SweepCase[] = []
  for (const nodes of [3, 5, 8]) {
    for (const k of [1, 2]) {
      if (k >= nodes - 1) continue
      out.push({ nodes, maxUnavailable: k, domains: 3, placeBy, seeds: { from: 1, to: SEEDS[nodes]! } })
    }
  }
  return out
}

/**
 * The shapes the K=1/2 matrix leaves out: K=3, K >= N-1, and N=4 — where Ceph (size 3 /
 * min_size 2) lets fewer nodes stop together than K allows, so holders meet at their joint
 * check and candidates must not split the votes. Each once made a wave hang (two holders
 * waiting on each other; K candidates splitting every term; a promise to a released holder
 * that later died): docs/vote.md, "Liveness at K >= 2".
 */
export function smallKCases(placeBy: 'host' | 'domain'): SweepCase[] {
  const shapes: [number, number][] = [[3, 2], [3, 3], [4, 1], [4, 2], [4, 3], [5, 3], [8, 3]]
  return shapes.map(([nodes, k]) => ({ nodes, maxUnavailable: k, domains: 3, placeBy, seeds: { from: 1, to: 150 } }))
}

/** `refused`: the coordinator's start check must refuse every wave (a cluster that can never finish one) instead. */
export async function sweep(cases: SweepCase[], opts: { refused?: boolean } = {}): Promise<void> {
  const results = await runSweep(cases)
  for (const r of results) {
    const s = r.summary
    const name = `N=${s.nodes} K=${s.maxUnavailable} domains=${s.domains} placement=${s.placeBy} seeds ${s.seedRange[0]}-${s.seedRange[1]}`
    console.log(`vote sweep ${name}: ${JSON.stringify({ violations: s.violations, incomplete: s.incomplete, halted: s.halted, refused: s.refused, makespanRatio: s.makespanRatio, failedSeeds: s.failedSeeds })}`)
    // Safety: any violation fails with the seed and its trace.
    for (const o of r.outcomes) if (o.violation && o.violation.invariant !== 'e') expect.fail(`${name}\n${o.violation.report}`)
    expect(s.safetyViolations, name).toBe(0)
    expect(s.refused, name).toBe(opts.refused ? s.seeds : 0)
    // Liveness (e): once the faults heal (the operator retires what never came back), every wave completes.
    expect(s.failedSeeds, name).toEqual([])
    expect(s.incomplete, name).toBe(0)
    expect(s.halted, name).toBe(0)
    expect(s.maxHolders, name).toBeLessThanOrEqual(s.maxUnavailable)
    // Placed by host with K=2, two holders whose hosts share PGs do meet: the joint
    // ok-to-stop (agent/protocol/upgrade-cycle) made the second wait instead of going down.
    if (s.placeBy === 'host' && s.maxUnavailable === 2 && s.nodes >= 8) expect(r.outcomes.reduce((a, o) => a + o.jointWaits, 0), name).toBeGreaterThan(0)
  }
}
