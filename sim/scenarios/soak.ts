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

/** A crash that took longer than the target to be seen dead everywhere, and where its time went. */
export interface SlowCrash {
  victim: string
  /** Simulated ms of the power-off. */
  at: number
  /** Ms after the power-off until the first node declared it dead (probe + suspicion). */
  firstDeadMs: number
  /** Ms until half of the up nodes held it dead. */
  halfDeadMs: number
  /** Ms until every up node held it dead. */
  allDeadMs: number
  /** The target it missed (ms). */
  targetMs: number
  /**
   * At the target: how many up nodes did not yet hold it dead, by what they held, and how
   * many of them were frozen then (a pause holds every input, a dead claim too).
   */
  holdouts: { alive: number; suspect: number; unknown: number; frozen: number }
}

/** How long each crash took to be seen dead by every live node (ms), and how many never were. */
export interface ChurnResult {
  count: () => number
  /** Ms from each power-off until every up node held the victim dead (in crash order). */
  deadAtAll: number[]
  /** Ms from each power-off until the first node declared it dead (in crash order). */
  firstDead: number[]
  /**
   * Ms from each power-off until every up node not frozen in a pause held it dead (in crash
   * order). A frozen process learns nothing until it thaws, whatever the protocol does; this
   * says whether a crash over the target was the protocol's time or a pause's.
   */
  deadAtRunning: number[]
  /** Crashes over `slowMs` (the detection target), with where their time went. */
  slow: SlowCrash[]
  /** Crashes not seen dead everywhere before the node came back (or within `detectDeadlineMs`). */
  missed: () => number
}

/** The detection target (issue #18: a crash seen dead by every node within 3 s). */
export const CRASH_TARGET_MS = 3000

/** Resolution of the detection measurement: the knowledge tracker is asked every this many simulated ms. */
const DETECT_STEP_MS = 1

/**
 * Every `everyMs`, powers a random up node off and, `downMs` later, on again (a fresh
 * instance), and times how long every live node took to hold it dead.
 */
export function scheduleChurn(cluster: MeshCluster, everyMs: number, downMs: number, untilMs: number, detectDeadlineMs = 30_000, slowMs = CRASH_TARGET_MS): ChurnResult {
  const sim = cluster.sim
  const k = cluster.knowledge
  let count = 0
  let missed = 0
  const deadAtAll: number[] = []
  const firstDead: number[] = []
  const deadAtRunning: number[] = []
  const slow: SlowCrash[] = []
  // Read-only: the checks look at the knowledge tracker and change nothing the nodes see.
  const watch = (victim: string, from: number) => {
    let first: number | undefined
    let half: number | undefined
    let running: number | undefined
    let holdouts: SlowCrash['holdouts'] | undefined
    const check = () => {
      if (sim.isUp(victim) || sim.now - from > detectDeadlineMs) return void missed++
      const dead = k.deadAt(victim)
      if (first === undefined && dead > 0) firstDead.push((first = sim.now - from))
      if (half === undefined && dead * 2 >= sim.upIds().length) half = sim.now - from
      // Looked for only once someone declared it (before that nobody running holds it dead).
      if (running === undefined && first !== undefined && (k.deadEverywhere(victim) || holdoutsOf(victim).running === 0)) deadAtRunning.push((running = sim.now - from))
      if (holdouts === undefined && sim.now - from >= slowMs && !k.deadEverywhere(victim)) {
        const { running: _, ...h } = holdoutsOf(victim)
        holdouts = h
      }
      if (k.deadEverywhere(victim)) {
        const all = sim.now - from
        deadAtAll.push(all)
        if (all > slowMs) slow.push({ victim, at: from, targetMs: slowMs, firstDeadMs: first ?? all, halfDeadMs: half ?? all, allDeadMs: all, holdouts: holdouts ?? { alive: 0, suspect: 0, unknown: 0, frozen: 0 } })
        return
      }
      sim.after(DETECT_STEP_MS, check)
    }
    sim.after(DETECT_STEP_MS, check)
  }
  const holdoutsOf = (victim: string): SlowCrash['holdouts'] & { running: number } => {
    const h = { alive: 0, suspect: 0, unknown: 0, frozen: 0, running: 0 }
    for (const o of sim.upIds()) {
      if (o === victim) continue
      const st = k.held(o, victim).status
      if (st === 'dead') continue
      h[st]++
      if (sim.stalledUntil(o) > sim.now) h.frozen++
      else h.running++
    }
    return h
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
  return { count: () => count, deadAtAll, firstDead, deadAtRunning, slow, missed: () => missed }
}

/** One line saying where a slow crash's time went. */
export function slowLine(c: SlowCrash): string {
  const h = c.holdouts
  return `slow crash: ${c.victim} off at ${ms(c.at)}: first declared dead +${ms(c.firstDeadMs)}, by half +${ms(c.halfDeadMs)}, by all +${ms(c.allDeadMs)}; at +${ms(c.targetMs)} ${h.alive + h.suspect + h.unknown} nodes did not hold it dead (${h.alive} alive, ${h.suspect} suspect, ${h.unknown} unknown; ${h.frozen} of them frozen in a pause then)`
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
    const churn: ChurnResult = o['churn-every-ms']! > 0 ? scheduleChurn(cluster, o['churn-every-ms']!, o['churn-down-ms']!, until) : { count: () => 0, deadAtAll: [], firstDead: [], deadAtRunning: [], slow: [], missed: () => 0 }
    const steps0 = cluster.sim.steps
    const fig = (p: number) => (churn.deadAtAll.length === 0 ? null : round3(percentile(churn.deadAtAll, p)))
    let slowSaid = 0
    const report = (doneMs: number) => {
      ctx.log(
        `progress: ${round3(doneMs / 3600_000)} simulated h, ${pauses.count()} pauses, ${churn.count()} power cycles: ${cluster.knowledge.falseDead} false positives, ${cluster.knowledge.falseSuspect} suspicions of live nodes; crashes seen dead by all p50 ${ms(fig(50) ?? undefined)}, max ${ms(fig(100) ?? undefined)}, missed ${churn.missed()}; ${cluster.sim.events} events`,
      )
      for (; slowSaid < churn.slow.length; slowSaid++) ctx.log(slowLine(churn.slow[slowSaid]!))
    }
    const bw = measureBandwidth(cluster, runMs, undefined, { everyMs: o['progress-every-ms']!, report })
    const fps = cluster.knowledge.falseDead
    const suspicions = cluster.knowledge.falseSuspect
    for (const f of cluster.knowledge.falseAccusations.filter((f) => f.status === 'dead').slice(0, 5)) ctx.log(`FALSE POSITIVE at ${ms(f.at)}: ${f.observer} marked live ${f.subject} dead`)
    ctx.log(`${o.hours} simulated h, ${pauses.count()} pauses of ${o['pause-min-ms']}-${o['pause-max-ms']} ms, ${churn.count()} power cycles: ${fps} false positives, ${suspicions} suspicions of live nodes (refuted)`)
    if (churn.count() > 0) ctx.log(`crashes seen dead by every live node: p50 ${ms(fig(50) ?? undefined)}, p99 ${ms(fig(99) ?? undefined)}, max ${ms(fig(100) ?? undefined)}; missed ${churn.missed()}`)
    if (churn.firstDead.length > 0) ctx.log(`first node to declare a crash dead: p50 ${ms(round3(percentile(churn.firstDead, 50)))}, max ${ms(round3(percentile(churn.firstDead, 100)))}`)
    if (churn.deadAtRunning.length > 0) ctx.log(`dead at every live node not frozen in a pause: p50 ${ms(round3(percentile(churn.deadAtRunning, 50)))}, max ${ms(round3(percentile(churn.deadAtRunning, 100)))}`)
    for (const c of churn.slow) ctx.log(slowLine(c))
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
        crashFirstDeadMaxMs: churn.firstDead.length === 0 ? null : round3(percentile(churn.firstDead, 100)),
        crashDeadAtRunningMaxMs: churn.deadAtRunning.length === 0 ? null : round3(percentile(churn.deadAtRunning, 100)),
        slowCrashes: churn.slow.length,
        simSteps: cluster.sim.steps - steps0,
        bytesPerSecPerNode: round3(bw.meanBps),
        maxBytesPerSecPerNode: round3(bw.maxBps),
      },
    }
  },
}
