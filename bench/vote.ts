/**
 * Vote benchmark. Two kinds of figure, one JSON object each:
 *
 * - `vote.sweep`: the seed sweep's speed at N = 8, 50 and 200 (K=2, faults on, as
 *   `npm run sim -- --scenario wave` runs it): CPU seconds of this process over S seeds,
 *   run one after another here, so the figure does not depend on how many cores are free.
 * - `vote.sweep.parallel`: the same sweep at N=50 on worker threads, one per core
 *   (sim/wave/wave-sweep.ts): wall time, and the wall time 10,000 seeds would take at that
 *   rate (target: <= 25 min on a 2-core machine).
 * - `vote.wave`: makespan of a clean wave with a fixed per-node cycle, as a ratio to the
 *   lower bound ceil(N/K) x cycle (target <= 1.05), and vote messages per granted lease.
 *
 * - `vote.wait`: clean waves with Ceph placed by host at K=2 and 3, where holders meet at
 *   their joint check and wait: the makespan ratio and the waits per seed.
 *
 * `--full` adds N=1000 clean waves (~10 min of CPU each). `--case=N,K` runs one clean wave.
 * `--part=sweep|wait|wave` runs one kind alone.
 */
import { availableParallelism } from 'node:os'
import { runWave } from '../sim/wave/run-wave.js'
import { waveSimConfig, type WaveSimConfig } from '../sim/wave/wave-config.js'
import { runSweep } from '../sim/wave/wave-sweep.js'

const full = process.argv.includes('--full')
const only = process.argv.find((a) => a.startsWith('--case='))?.slice(7).split(',').map(Number) as [number, number] | undefined
/** `--part=sweep|wait|wave`: one kind of figure alone. */
const part = process.argv.find((a) => a.startsWith('--part='))?.slice(7)
const runs = (p: string) => !only && (part === undefined || part === p)

function cpuSeconds(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

if (runs('sweep')) {
  for (const [nodes, k, seeds] of [[8, 2, 60], [50, 2, 12], [200, 2, 3]] as const) {
    const cfg = waveSimConfig({ nodes, maxUnavailable: k, domains: 4 })
    const c0 = cpuSeconds()
    const t0 = performance.now()
    let violations = 0
    for (let seed = 1; seed <= seeds; seed++) if (runWave(cfg, seed).violation) violations++
    const cpu = cpuSeconds() - c0
    console.log(JSON.stringify({ bench: 'vote.sweep', nodes, k, seeds, cpuSeconds: round(cpu, 2), seedsPerCpuSecond: round(seeds / cpu, 3), cpuSecondsPerSeed: round(cpu / seeds, 3), wallMs: Math.round(performance.now() - t0), violations }))
  }
  const workers = availableParallelism()
  const seeds = 20 * workers
  const t0 = performance.now()
  const [r] = await runSweep([{ nodes: 50, maxUnavailable: 2, domains: 4, seeds: { from: 1, to: seeds } }], { workers })
  const wallMs = performance.now() - t0
  console.log(JSON.stringify({ bench: 'vote.sweep.parallel', nodes: 50, k: 2, seeds, workers, wallMs: Math.round(wallMs), seedsPerWallSecond: round(seeds / (wallMs / 1000), 3), projected10kSeedsMin: round((10_000 * wallMs) / seeds / 60_000, 1), targetMin: 25, violations: r!.summary.violations }))
}

// Waiting holders: Ceph placed by host (any two hosts share PGs), K >= 2, so holders meet at
// their joint check and wait. Clean waves, the fixed cycle below; the makespan ratio shows
// how much the waits cost (a holder that retries only every waitPollMs loses up to that much
// per wait; one poked by the change it waits on, about the gossip delay).
if (runs('wait')) {
  for (const [n, k] of [[8, 2], [16, 3], [32, 3]] as const) {
    const cfg = fixedCycle(waveSimConfig({ nodes: n, maxUnavailable: k, domains: 4 }), n)
    cfg.ceph.placeBy = 'host'
    const ratios: number[] = []
    let waits = 0
    const seeds = 5
    for (let seed = 1; seed <= seeds; seed++) {
      const r = runWave(cfg, seed)
      if (r.ratio !== undefined) ratios.push(r.ratio)
      waits += r.jointWaits
    }
    const mean = ratios.reduce((a, x) => a + x, 0) / Math.max(1, ratios.length)
    console.log(JSON.stringify({ bench: 'vote.wait', placement: 'host', n, k, seeds, completed: ratios.length, ratioMean: round(mean, 4), ratioMax: round(Math.max(...ratios), 4), jointWaitsPerSeed: round(waits / seeds, 1) }))
  }
}

const cases: [number, number][] = only ? [only] : part !== undefined && part !== 'wave' ? [] : full ? [[100, 1], [100, 4], [1000, 1], [1000, 4]] : [[100, 1], [100, 4]]
for (const [n, k] of cases) {
  const cfg = fixedCycle(waveSimConfig({ nodes: n, maxUnavailable: k, domains: 4 }), n)
  const t0 = performance.now()
  const r = runWave(cfg, 1)
  const wallMs = performance.now() - t0
  console.log(JSON.stringify({
    bench: 'vote.wave',
    n,
    k,
    cycleSec: 180,
    lowerBoundSec: r.lowerBoundMs / 1000,
    makespanSec: r.makespanMs !== undefined ? Math.round(r.makespanMs) / 1000 : null,
    ratio: r.ratio !== undefined ? Math.round(r.ratio * 10000) / 10000 : null,
    targetRatio: 1.05,
    leases: r.leases,
    messagesPerLease: r.leases ? Math.round((r.voteMessages / r.leases) * 10) / 10 : null,
    messagesPerLeasePerNode: r.leases ? Math.round((r.voteMessages / r.leases / n) * 100) / 100 : null,
    violation: r.violation?.message ?? null,
    wallMs: Math.round(wallMs),
  }))
}

/** Faults off and a fixed cycle: drain tail 30 s + reboot 120 s + max(kubelet 20 s, recovery 30 s) = 180 s. */
function fixedCycle(cfg: WaveSimConfig, n: number): WaveSimConfig {
  cfg.faults.enabled = false
  cfg.drainGraceMs = [30_000, 30_000]
  cfg.rebootMs = [120_000, 120_000]
  cfg.kubeletMs = [20_000, 20_000]
  cfg.recoveryMs = [30_000, 30_000]
  cfg.podStartMs = [0, 0]
  cfg.kube = { ...cfg.kube, podsPerNode: 0 }
  // Every host holds PGs (so every cycle includes its 30 s recovery): with the default 256
  // PGs, most of 1000 hosts held none and their cycle was 170 s, under the bound's 180 s.
  cfg.ceph = { ...cfg.ceph, pgs: Math.max(256, 2 * n) }
  return cfg
}

function round(x: number, d: number): number {
  const p = 10 ** d
  return Math.round(x * p) / p
}
