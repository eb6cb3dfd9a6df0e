/**
 * The seed sweep with Ceph placed by host (every host its own failure domain: any two hosts
 * share PGs, so K=2 is exactly where a per-node ok-to-stop is not enough) and K=2, with
 * production's upgrade cycle (agent/protocol/upgrade-cycle) in every simulated node: the
 * joint ok-to-stop before noout and right before each reboot, the fence before every
 * action. Asserts no safety violation — never more than K holders, never two holders of a
 * slot, no reboot without a valid fence, no PG made inactive by a wave reboot — and that
 * the joint rule was exercised (holders did wait on each other). A failure prints its seed
 * and trace; `npm run sim -- --scenario wave --nodes 8 --k 2 --domains 3 --placement host
 * --seeds S-S --trace` replays it.
 */
import { describe, expect, it } from 'vitest'
import { runWave, summarize } from '../sim/wave/run-wave.js'
import { waveSimConfig } from '../sim/wave/wave-config.js'

describe('vote: seed sweep, Ceph placed by host, K=2, production cycle', () => {
  it('seeds 1-400 (N=8): no safety violation; holders waited on the joint check', () => {
    const cfg = waveSimConfig({ nodes: 8, k: 2, domains: 3 })
    cfg.ceph.placeBy = 'host'
    const from = 1
    const to = 400
    const results = []
    let jointWaits = 0
    const t0 = performance.now()
    for (let seed = from; seed <= to; seed++) {
      const r = runWave(cfg, seed)
      if (r.violation && r.violation.invariant !== 'e') throw new Error(r.violation.report())
      jointWaits += r.jointWaits
      results.push(r)
    }
    const s = summarize(cfg, from, to, results, performance.now() - t0)
    console.log(`vote sweep (placement host) seeds ${from}-${to}: ${JSON.stringify({ violations: s.violations, safety: s.safetyViolations, incomplete: s.incomplete, halted: s.halted, jointWaits, maxHolders: s.maxHolders, failedSeeds: s.failedSeeds })}`)
    expect(s.safetyViolations).toBe(0)
    expect(s.maxHolders).toBeLessThanOrEqual(2)
    // Two holders whose hosts share PGs did meet: the second waited instead of going down.
    expect(jointWaits).toBeGreaterThan(0)
  }, 300_000)
})
