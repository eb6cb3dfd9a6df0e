/**
 * The seed sweep shared by test/vote-sweep-*.test.ts (split in two files so vitest runs the
 * halves on both cores): seeded fault schedules over small waves, the invariant checker at
 * every step; asserts no safety violation and no incomplete wave. N=8, K=2: the smallest
 * cluster in which the fault schedule can still take memory from a member inside the
 * liveness envelope (sim/wave/fault-schedule.ts).
 */
import { expect } from 'vitest'
import { runWave, summarize } from '../sim/wave/run-wave.js'
import { waveSimConfig, type WaveSimConfig } from '../sim/wave/wave-config.js'

/**
 * `cfg`: the cluster (default N=8, K=2, 3 domains). `refused`: the coordinator's start check
 * must refuse every wave (a cluster that can never finish one) — instead of each completing.
 */
export function sweep(from: number, to: number, cfg: WaveSimConfig = waveSimConfig({ nodes: 8, k: 2, domains: 3 }), opts: { refused?: boolean } = {}): void {
  const results = []
  const t0 = performance.now()
  for (let seed = from; seed <= to; seed++) {
    const r = runWave(cfg, seed)
    // Safety: any violation fails at once, with the seed and the trace.
    if (r.violation && r.violation.invariant !== 'e') throw new Error(r.violation.report())
    results.push(r)
  }
  const s = summarize(cfg, from, to, results, performance.now() - t0)
  console.log(`vote sweep N=${cfg.nodes} K=${cfg.k} pool ${cfg.ceph.size}/${cfg.ceph.minSize} seeds ${from}-${to}: ${JSON.stringify({ violations: s.violations, incomplete: s.incomplete, halted: s.halted, refused: s.refused, makespanRatio: s.makespanRatio, failedSeeds: s.failedSeeds })}`)
  expect(s.safetyViolations).toBe(0)
  expect(s.refused).toBe(opts.refused ? results.length : 0)
  // Liveness (e): once the faults heal (the operator retires what never came back), every
  // wave completes. A failure names its seed; `--seeds S-S --trace` prints its story.
  expect(s.failedSeeds).toEqual([])
  expect(s.incomplete).toBe(0)
  expect(s.halted).toBe(0)
}
