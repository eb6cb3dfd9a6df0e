/**
 * Simulator benchmark: the production MeshNode on the deterministic simulator,
 * LAN latency model (0.1–1 ms one way), warm start (see MeshCluster.warmStart).
 * `npx tsx bench/sim.ts` prints one JSON object per line per figure. Simulated figures are
 * deterministic for a seed; `wallMs` is what the simulation cost on this machine.
 *
 * Env: SIM_BENCH_SEED (default 7), SIM_BENCH_SIZES (default "100,1000"),
 * SIM_BENCH_DAY_NODES (default 10: the N of the 24 h false-positive run, chosen so the
 * simulated day fits in about a minute of CPU).
 */
import { MeshCluster } from '../sim/engine/mesh-cluster.js'
import { measureBandwidth, percentile, round3 } from '../sim/scenarios/kit.js'
import { scheduleChurn, schedulePauses, soak } from '../sim/scenarios/soak.js'

const seed = Number(process.env.SIM_BENCH_SEED ?? 7)
const sizes = (process.env.SIM_BENCH_SIZES ?? '100,1000').split(',').map(Number)
const dayNodes = Number(process.env.SIM_BENCH_DAY_NODES ?? 10)
const SETTLE_MS = 5000
const joinTargetMs = (n: number) => (n <= 100 ? 250 : 500)

let cpu0 = process.cpuUsage()
/** Prints one figure; `cpuMs` is this process's CPU since the previous figure (wall time lies on a shared machine). */
function emit(obj: Record<string, unknown>): void {
  const u = process.cpuUsage(cpu0)
  cpu0 = process.cpuUsage()
  console.log(JSON.stringify({ ...obj, cpuMs: Math.round((u.user + u.system) / 1000) }))
}

const kbit = (bps: number) => round3((bps * 8) / 1000)
const fig = (xs: number[], p: number) => (xs.length === 0 ? null : round3(percentile(xs, p)))

for (const n of sizes) {
  const joins = n <= 100 ? 10 : 5
  const crashes = 3
  const wall0 = performance.now()
  const c = new MeshCluster({ seed, rosterSize: n + joins })
  c.warmStart(n)
  c.runToConvergence(60_000)
  c.sim.runFor(SETTLE_MS)
  emit({ bench: 'sim.setup', n, seed, warmStartWallMs: Math.round(performance.now() - wall0) })

  // Steady state: nothing happens but probing, anti-entropy and tree upkeep.
  let w = performance.now()
  const steady = measureBandwidth(c, 10_000)
  emit({ bench: 'sim.steady', n, seed, windowMs: 10_000, bytesPerSecPerNode: round3(steady.meanBps), kbitPerSecPerNode: kbit(steady.meanBps), maxKbitPerSecPerNode: kbit(steady.maxBps), targetKbit: 50, met: kbit(steady.meanBps) <= 50, wallMs: Math.round(performance.now() - w) })

  // Joins: one new node at a time; time until 99.9% and 100% of the others hold its record.
  w = performance.now()
  const t999: number[] = []
  const t100: number[] = []
  let missed = 0
  for (let j = 0; j < joins; j++) {
    const id = c.ids[n + j]!
    c.sim.start(id)
    const watch = c.knowledge.watchRecord(id)
    c.sim.runUntilTrue(() => watch.reachedAt.size === watch.observers.size, c.sim.now + 10_000)
    c.knowledge.unwatch(watch)
    const a = watch.timeTo(0.999)
    const b = watch.timeTo(1)
    if (a === undefined || b === undefined) missed++
    if (a !== undefined) t999.push(a)
    if (b !== undefined) t100.push(b)
    c.sim.runFor(2000)
  }
  emit({ bench: 'sim.join', n, seed, joins, missed, p50Ms999: fig(t999, 50), p99Ms999: fig(t999, 99), p50Ms100: fig(t100, 50), p99Ms100: fig(t100, 99), targetMs999: joinTargetMs(n), met: missed === 0 && (fig(t999, 99) ?? Infinity) <= joinTargetMs(n), wallMs: Math.round(performance.now() - w) })

  // Silent crashes: time until every live node holds the victim dead.
  w = performance.now()
  const detect: number[] = []
  let undetected = 0
  for (let k = 0; k < crashes; k++) {
    const victim = c.sim.rng.pick(c.sim.upIds())
    c.sim.crash(victim)
    const from = c.sim.now
    const at = c.sim.runUntilTrue(() => c.knowledge.deadEverywhere(victim), from + 30_000)
    if (at === undefined) undetected++
    else detect.push(at - from)
    c.sim.runFor(2000)
  }
  const fpCrash = c.knowledge.falseDead
  emit({ bench: 'sim.crash', n, seed, crashes, undetected, p50MsDeadAtAll: fig(detect, 50), p99MsDeadAtAll: fig(detect, 99), falsePositives: fpCrash, targetMs: 5000, met: undetected === 0 && (fig(detect, 99) ?? Infinity) <= 5000 && fpCrash === 0, wallMs: Math.round(performance.now() - w) })

  // Churn: a node power-cycles every 2 s (off for 10 s, back as a fresh instance that must resync); 20 s window.
  w = performance.now()
  const windowMs = 20_000
  const cycles = scheduleChurn(c, 2000, 10_000, c.sim.now + windowMs)
  const churn = measureBandwidth(c, windowMs)
  const fpChurn = c.knowledge.falseDead - fpCrash
  emit({ bench: 'sim.churn', n, seed, windowMs, powerCycles: cycles.count(), bytesPerSecPerNode: round3(churn.meanBps), kbitPerSecPerNode: kbit(churn.meanBps), maxKbitPerSecPerNode: kbit(churn.maxBps), falsePositives: fpChurn, wallMs: Math.round(performance.now() - w) })

  // A shorter false-positive soak at this N (10 simulated minutes, each node pausing 50–500 ms about every 10 minutes).
  // Only at N <= 100: at 1000 it would cost minutes of CPU.
  if (n <= 100) {
    w = performance.now()
    const fp0 = c.knowledge.falseDead
    const sus0 = c.knowledge.falseSuspect
    const p = schedulePauses(c, { everyMs: 600_000, minMs: 50, maxMs: 500 }, c.sim.now + 600_000)
    c.sim.runFor(600_000)
    const fps = c.knowledge.falseDead - fp0
    const sus = c.knowledge.falseSuspect - sus0
    emit({ bench: 'sim.fp', n, seed, simulatedHours: round3(600_000 / 3600_000), pauses: p.count(), pauseMs: '50-500', falsePositives: fps, liveSuspicions: sus, met: fps === 0, wallMs: Math.round(performance.now() - w) })
  }
}

// The simulated day: as large an N as fits in about a minute of CPU (say so in the figure).
{
  const w = performance.now()
  const r = soak.run({
    nodes: dayNodes,
    seed,
    network: {},
    mesh: {},
    latency: 'lan',
    start: 'warm',
    options: { hours: 24, 'pause-every-ms': 600_000, 'pause-min-ms': 50, 'pause-max-ms': 500, 'churn-every-ms': 0, 'churn-down-ms': 0 },
    log: () => {},
  })
  const s = (r as { summary: Record<string, unknown> }).summary
  emit({ bench: 'sim.fp', n: dayNodes, seed, simulatedHours: 24, pauses: s.pauses, pauseMs: '50-500', falsePositives: s.falsePositives, liveSuspicions: s.liveSuspicions, kbitPerSecPerNode: kbit(s.bytesPerSecPerNode as number), met: s.falsePositives === 0, wallMs: Math.round(performance.now() - w) })
}
