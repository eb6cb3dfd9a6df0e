/**
 * soak: a long steady run hunting false positives. Nodes freeze now and then (GC pauses,
 * CPU hogs: the way a live node fails to answer probes in real life), optionally with
 * churn (a node powers off and back on). Counts live nodes marked dead anywhere — the
 * figure the issue wants at zero over a simulated day — and refuted suspicions.
 */
import type { MeshCluster } from '../engine/mesh-cluster.js'
import { convergedCluster, kbit, measureBandwidth, ms, percentile, round3 } from './kit.js'
import type { Scenario, ScenarioResult } from './scenario.js'

export interface PauseModel {
  /** Mean simulated ms between two pauses of one node (exponential gaps). */
  everyMs: number
  minMs: number
  maxMs: number
}

/** Freezes random up nodes from now until `untilMs`, each about once per `everyMs`. Returns how many pauses it scheduled. */
export function schedulePauses(cluster: MeshCluster, model: PauseModel, untilMs: number): { count: () => number } {
  const sim = cluster.sim
  let count = 0
  const next = () => {
    const up = sim.upIds()
    if (up.length === 0) return
    // Superposition of per-node Poisson processes: one stream with rate N / everyMs.
    const gap = -Math.log(1 - sim.rng.next()) * (model.everyMs / up.length)
    const at = sim.now + gap
    if (at > untilMs) return
    sim.at(at, () => {
      const live = sim.upIds()
      if (live.length > 0) {
        sim.stall(sim.rng.pick(live), sim.rng.uniform(model.minMs, model.maxMs))
        count++
      }
      next()
    })
  }
  next()
  return { count: () => count }
}

/** How long each crash took to be seen dead by every live node (ms), and how many never were. */
export interface ChurnResult {
  count: () => number
  /** Ms from each power-off until every up node held the victim dead (in crash order). */
  deadAtAll: number[]
  /** Crashes not seen dead everywhere before the node came back (or within `detectDeadlineMs`). */
  missed: () => number
}

/** Resolution of the detection measurement: the knowledge tracker is asked every this many simulated ms. */
const DETECT_STEP_MS = 1

/**
 * Every `everyMs`, powers a random up node off and, `downMs` later, on again (a fresh
 * instance), and times how long every live node took to hold it dead.
 */
export function scheduleChurn(cluster: MeshCluster, everyMs: number, downMs: number, untilMs: number, detectDeadlineMs = 30_000): ChurnResult {
  const sim = cluster.sim
  let count = 0
  let missed = 0
  const deadAtAll: number[] = []
  const watch = (victim: string, from: number) => {
    const check = () => {
      if (sim.isUp(victim) || sim.now - from > detectDeadlineMs) return void missed++
      if (cluster.knowledge.deadEverywhere(victim)) return void deadAtAll.push(sim.now - from)
      sim.after(DETECT_STEP_MS, check)
    }
    sim.after(DETECT_STEP_MS, check)
  }
  const tick = () => {
    if (sim.now + everyMs > untilMs) return
    sim.after(everyMs, () => {
      const victim = sim.rng.pick(sim.upIds())
      sim.crash(victim)
      count++
      watch(victim, sim.now)
      sim.after(downMs, () => sim.start(victim))
      tick()
    })
  }
  tick()
  return { count: () => count, deadAtAll, missed: () => missed }
}

export const soak: Scenario = {
  name: 'soak',
  summary: 'a long run with node pauses (and optional churn): count live nodes marked dead (false positives)',
  defaultNodes: 10,
  options: {
    hours: { type: 'number', description: 'simulated hours to run', default: 1, min: 0.001, max: 24 * 30 },
    'pause-every-ms': { type: 'int', description: 'mean simulated ms between pauses of one node (0: none)', default: 600_000, min: 0 },
    'pause-min-ms': { type: 'int', description: 'shortest pause', default: 50, min: 0 },
    'pause-max-ms': { type: 'int', description: 'longest pause (Lifeguard should ride out sub-second ones)', default: 500, min: 0 },
    'churn-every-ms': { type: 'int', description: 'a random node powers off this often (0: never)', default: 0, min: 0 },
    'churn-down-ms': { type: 'int', description: 'how long a churned node stays off', default: 30_000, min: 0 },
    'progress-every-ms': { type: 'int', description: 'a line of the figures so far this often (simulated ms; 0: none), so a long run that is cut short still says what it saw', default: 3_600_000, min: 0 },
  },
  run(ctx): ScenarioResult {
    const o = ctx.options as Record<string, number>
    const runMs = o.hours! * 3600_000
    if (o['pause-max-ms']! < o['pause-min-ms']!) throw new RangeError('--pause-max-ms must be >= --pause-min-ms')
    const { cluster, convergeMs } = convergedCluster(ctx)
    if (convergeMs === undefined) return { ok: false, summary: { convergeMs: null } }
    const until = cluster.sim.now + runMs
    const pauses = o['pause-every-ms']! > 0 ? schedulePauses(cluster, { everyMs: o['pause-every-ms']!, minMs: o['pause-min-ms']!, maxMs: o['pause-max-ms']! }, until) : { count: () => 0 }
    const churn: ChurnResult = o['churn-every-ms']! > 0 ? scheduleChurn(cluster, o['churn-every-ms']!, o['churn-down-ms']!, until) : { count: () => 0, deadAtAll: [], missed: () => 0 }
    const steps0 = cluster.sim.steps
    const fig = (p: number) => (churn.deadAtAll.length === 0 ? null : round3(percentile(churn.deadAtAll, p)))
    const report = (doneMs: number) =>
      ctx.log(
        `progress: ${round3(doneMs / 3600_000)} simulated h, ${pauses.count()} pauses, ${churn.count()} power cycles: ${cluster.knowledge.falseDead} false positives, ${cluster.knowledge.falseSuspect} suspicions of live nodes; crashes seen dead by all p50 ${ms(fig(50) ?? undefined)}, max ${ms(fig(100) ?? undefined)}, missed ${churn.missed()}; ${cluster.sim.events} events`,
      )
    const bw = measureBandwidth(cluster, runMs, undefined, { everyMs: o['progress-every-ms']!, report })
    const fps = cluster.knowledge.falseDead
    const suspicions = cluster.knowledge.falseSuspect
    for (const f of cluster.knowledge.falseAccusations.filter((f) => f.status === 'dead').slice(0, 5)) ctx.log(`FALSE POSITIVE at ${ms(f.at)}: ${f.observer} marked live ${f.subject} dead`)
    ctx.log(`${o.hours} simulated h, ${pauses.count()} pauses of ${o['pause-min-ms']}-${o['pause-max-ms']} ms, ${churn.count()} power cycles: ${fps} false positives, ${suspicions} suspicions of live nodes (refuted)`)
    if (churn.count() > 0) ctx.log(`crashes seen dead by every live node: p50 ${ms(fig(50) ?? undefined)}, p99 ${ms(fig(99) ?? undefined)}, max ${ms(fig(100) ?? undefined)}; missed ${churn.missed()}`)
    ctx.log(`traffic: ${kbit(bw.meanBps)} per node (max ${kbit(bw.maxBps)}); ${cluster.sim.steps - steps0} simulator steps`)
    return {
      ok: fps === 0 && churn.missed() === 0,
      summary: {
        simulatedHours: o.hours!,
        pauses: pauses.count(),
        powerCycles: churn.count(),
        falsePositives: fps,
        liveSuspicions: suspicions,
        crashDeadAtAllP50Ms: fig(50),
        crashDeadAtAllP99Ms: fig(99),
        crashDeadAtAllMaxMs: fig(100),
        crashesMissed: churn.missed(),
        simSteps: cluster.sim.steps - steps0,
        bytesPerSecPerNode: round3(bw.meanBps),
        maxBytesPerSecPerNode: round3(bw.maxBps),
      },
    }
  },
}
