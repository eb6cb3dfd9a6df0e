/**
 * The simulator at scale (issue 18): the production MeshNode, N of them in one process.
 * `npm run bench -- scale` prints one JSON line per figure:
 * - `scale.join`: N nodes (warm start), then nodes join one at a time: time until 99.9%
 *   and 100% of the others hold each joiner's record (p50/p99), LAN latency model.
 *   Target: 99.9% within 100 ms at N=10,000.
 * - `scale.soak`: N nodes for H simulated hours with 1% frame loss, GC-like pauses of
 *   50–500 ms (each node about every 10 minutes) and a node crashing every 10 minutes
 *   (back after 30 s): live nodes marked dead (target 0) and the time until every live
 *   node held each crash dead (target ≤ 3 s).
 * Each figure runs in its own process, so `peakRssMb` is that run's alone; `heapMb` is the
 * largest V8 heap seen (sampled every 10,000 simulator steps), `externalMb` the typed arrays
 * (member tables, the knowledge tracker) at that moment. `wallMs` and `cpuMs` are what the
 * run cost on this machine (wall time lies on a shared machine; CPU less so); `events` the
 * engine's events over the whole run (warm start included), per wall and per CPU second.
 *
 * Env: SCALE_SEED (7), SCALE_JOIN_NODES (10000), SCALE_JOINS (5), SCALE_SOAK_NODES (1000),
 * SCALE_SOAK_HOURS (1: a full day is ~24x that; see docs/sim.md for what was run),
 * SCALE_SOAK_CHURN_MS (600000: a crash every 10 simulated minutes; shorter runs need more
 * to measure detection; a crashed node is back after 30 s or half this, if less),
 * SCALE_SOAK_PROGRESS_MS (3600000: a progress line on stderr this often, simulated, with
 * the figures so far and the wall/CPU/heap spent: a long run cut short still reports).
 * The whole area can outlast bench/run.ts's default 10 min per area: raise
 * SHOAL_BENCH_TIMEOUT_MS for the defaults.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { latencyPresets } from '../sim/engine/latency.js'
import { join } from '../sim/scenarios/join.js'
import type { ScenarioContext } from '../sim/scenarios/scenario.js'
import { soak } from '../sim/scenarios/soak.js'
import type { MeshCluster } from '../sim/engine/mesh-cluster.js'

const seed = Number(process.env.SCALE_SEED ?? 7)
const joinNodes = Number(process.env.SCALE_JOIN_NODES ?? 10_000)
const joins = Number(process.env.SCALE_JOINS ?? 5)
const soakNodes = Number(process.env.SCALE_SOAK_NODES ?? 1000)
const soakHours = Number(process.env.SCALE_SOAK_HOURS ?? 1)
const soakChurnMs = Number(process.env.SCALE_SOAK_CHURN_MS ?? 600_000)
const soakProgressMs = Number(process.env.SCALE_SOAK_PROGRESS_MS ?? 3_600_000)
const MB = 1e6

/** Largest heap seen at a sample, and the external memory at that moment. */
let peak = { heap: 0, external: 0 }
function sample(): void {
  const m = process.memoryUsage()
  if (m.heapUsed > peak.heap) peak = { heap: m.heapUsed, external: m.external } // arrayBuffers is part of external
}

let watched: MeshCluster | undefined
const wallAt0 = performance.now()

/** What a progress line of a long run cost so far: wall, CPU, heap (stderr only; the figures stay seeded). */
function stamp(): string {
  const cpu = process.cpuUsage()
  sample()
  return `wall ${Math.round((performance.now() - wallAt0) / 1000)} s, CPU ${Math.round((cpu.user + cpu.system) / 1e6)} s, heap ${Math.round(process.memoryUsage().heapUsed / MB)} MB`
}

/** Samples memory every 10,000 simulator steps of the run's cluster (warm start included). */
function watchMemory(cluster: MeshCluster): void {
  watched = cluster
  let steps = 0
  cluster.sim.onStep(() => {
    if (++steps % 10_000 === 0) sample()
  })
}

function context(nodes: number, options: ScenarioContext['options'], lossProbability = 0): ScenarioContext {
  return { nodes, seed, network: { latency: latencyPresets.lan, lossProbability }, mesh: {}, latency: 'lan', start: 'warm', options, log: (line) => process.stderr.write(`${line}${line.startsWith('progress:') ? ` (${stamp()})` : ''}\n`), onCluster: watchMemory }
}

async function one(kind: string): Promise<void> {
  const wall0 = performance.now()
  const cpu0 = process.cpuUsage()
  const r =
    kind === 'join'
      ? await join.run(context(joinNodes, { joins, 'gap-ms': 2000, 'deadline-ms': 10_000 }))
      : await soak.run(context(soakNodes, { hours: soakHours, 'pause-every-ms': 600_000, 'pause-min-ms': 50, 'pause-max-ms': 500, 'churn-every-ms': soakChurnMs, 'churn-down-ms': Math.min(30_000, soakChurnMs / 2), 'progress-every-ms': soakProgressMs }, 0.01))
  sample()
  const cpu = process.cpuUsage(cpu0)
  const wallMs = Math.round(performance.now() - wall0)
  const s = r.summary
  const cpuMs = Math.round((cpu.user + cpu.system) / 1000)
  // Engine events (frames, ticks, link changes) over the whole run, warm start included.
  const events = watched?.sim.events ?? 0
  const cost = {
    heapMb: Math.round(peak.heap / MB),
    externalMb: Math.round(peak.external / MB),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1000),
    wallMs,
    cpuMs,
    events,
    eventsPerSec: Math.round((events * 1000) / wallMs),
    eventsPerCpuSec: Math.round((events * 1000) / Math.max(1, cpuMs)),
  }
  if (kind === 'join') {
    const p99 = s.join999P99Ms as number | null
    console.log(JSON.stringify({ bench: 'scale.join', nodes: joinNodes, seed, latency: 'lan', joins, joinsMissed: s.joinsMissed, join999P50Ms: s.join999P50Ms, join999P99Ms: p99, join100P50Ms: s.join100P50Ms, join100P99Ms: s.join100P99Ms, targetMs999: 100, met: r.ok && p99 !== null && p99 <= 100, ...cost }))
  } else {
    const steps = s.simSteps as number
    const maxDetect = s.crashDeadAtAllMaxMs as number | null
    console.log(
      JSON.stringify({
        bench: 'scale.soak',
        nodes: soakNodes,
        seed,
        simulatedHours: soakHours,
        loss: 0.01,
        pauses: s.pauses,
        pauseMs: '50-500',
        crashes: s.powerCycles,
        crashEveryMs: soakChurnMs,
        falsePositives: s.falsePositives,
        liveSuspicions: s.liveSuspicions,
        crashDeadAtAllP50Ms: s.crashDeadAtAllP50Ms,
        crashDeadAtAllMaxMs: maxDetect,
        crashesMissed: s.crashesMissed,
        crashFirstDeadMaxMs: s.crashFirstDeadMaxMs,
        crashDeadAtRunningMaxMs: s.crashDeadAtRunningMaxMs,
        slowCrashes: s.slowCrashes,
        targetDetectMs: 3000,
        met: s.falsePositives === 0 && s.crashesMissed === 0 && maxDetect !== null && maxDetect <= 3000,
        simSteps: steps,
        stepsPerSec: Math.round((steps * 1000) / wallMs),
        kbitPerSecPerNode: Math.round(((s.bytesPerSecPerNode as number) * 8) / 10) / 100,
        ...cost,
      }),
    )
  }
}

const kind = process.argv[2]
if (kind === 'join' || kind === 'soak') await one(kind)
else {
  // One process per figure, one after another.
  for (const k of ['join', 'soak']) {
    const code = await new Promise<number>((resolve) => {
      // A young generation of 64 MB (V8's default: 16): the simulator makes short-lived
      // objects at a high rate (frames, effects, events) and a small nursery promoted them
      // into costly old-space collections. Measured at N=1000: about half the CPU per
      // simulated second, the output unchanged (docs/sim.md).
      const child = spawn(process.execPath, ['--max-old-space-size=16000', '--max-semi-space-size=64', '--import', 'tsx', fileURLToPath(import.meta.url), k], { stdio: ['ignore', 'inherit', 'inherit'] })
      child.on('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1)))
    })
    if (code !== 0) process.exitCode = code
  }
}
