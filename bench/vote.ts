/**
 * Vote benchmark. Two kinds of figure, one JSON object each:
 *
 * - `vote.sweep`: the seed sweep's speed at N = 8, 50 and 200 (K=2, faults on, as
 *   `npm run sim -- --scenario wave` runs it): CPU seconds of this process over S seeds,
 *   run one after another here, so the figure does not depend on how many cores are free.
 * - `vote.wave`: makespan of a clean wave with a fixed per-node cycle, as a ratio to the
 *   lower bound ceil(N/K) x cycle (target <= 1.05), and vote messages per granted lease.
 *
 * `--full` adds N=1000 clean waves (~10 min of CPU each). `--case=N,K` runs one clean wave.
 */
import { runWave } from '../sim/wave/run-wave.js'
import { waveSimConfig } from '../sim/wave/wave-config.js'

const full = process.argv.includes('--full')
const only = process.argv.find((a) => a.startsWith('--case='))?.slice(7).split(',').map(Number) as [number, number] | undefined

function cpuSeconds(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

if (!only) {
  for (const [nodes, k, seeds] of [[8, 2, 60], [50, 2, 12], [200, 2, 3]] as const) {
    const cfg = waveSimConfig({ nodes, k, domains: 4 })
    const c0 = cpuSeconds()
    const t0 = performance.now()
    let violations = 0
    for (let seed = 1; seed <= seeds; seed++) if (runWave(cfg, seed).violation) violations++
    const cpu = cpuSeconds() - c0
    console.log(JSON.stringify({ bench: 'vote.sweep', nodes, k, seeds, cpuSeconds: round(cpu, 2), seedsPerCpuSecond: round(seeds / cpu, 3), cpuSecondsPerSeed: round(cpu / seeds, 3), wallMs: Math.round(performance.now() - t0), violations }))
  }
}

const cases: [number, number][] = only ? [only] : full ? [[100, 1], [100, 4], [1000, 1], [1000, 4]] : [[100, 1], [100, 4]]
for (const [n, k] of cases) {
  const cfg = waveSimConfig({ nodes: n, k, domains: 4 })
  cfg.faults.enabled = false
  // A fixed cycle: drain tail 30 s + reboot 120 s + max(kubelet 20 s, recovery 30 s) = 180 s.
  cfg.drainGraceMs = [30_000, 30_000]
  cfg.rebootMs = [120_000, 120_000]
  cfg.kubeletMs = [20_000, 20_000]
  cfg.recoveryMs = [30_000, 30_000]
  cfg.podStartMs = [0, 0]
  cfg.kube = { ...cfg.kube, podsPerNode: 0 }
  // Every host holds PGs (so every cycle includes its 30 s recovery): with the default 256
  // PGs, most of 1000 hosts held none and their cycle was 170 s, under the bound's 180 s.
  cfg.ceph = { ...cfg.ceph, pgs: Math.max(256, 2 * n) }
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

function round(x: number, d: number): number {
  const p = 10 ** d
  return Math.round(x * p) / p
}
