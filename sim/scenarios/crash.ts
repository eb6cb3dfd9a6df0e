/**
 * crash: converge, then power nodes off silently (no goodbye, no RST) one at a time;
 * time until every live node holds the crashed one dead, and count false positives:
 * a live node marked dead by anyone, at any time of the run.
 */
import { convergedCluster, kbit, measureBandwidth, ms, percentile, round3 } from './kit.js'
import type { Scenario } from './scenario.js'

export const crash: Scenario = {
  name: 'crash',
  summary: 'crash nodes silently; time until every live node marks each dead; count false positives',
  defaultNodes: 100,
  options: {
    crashes: { type: 'int', description: 'nodes to crash, one after another (p50/p99 over them)', default: 1, min: 1 },
    'deadline-ms': { type: 'int', description: 'simulated ms a detection may take before it counts as missed', default: 30_000, min: 1 },
    'observe-ms': { type: 'int', description: 'simulated ms to keep running after the last detection, watching for false positives', default: 10_000, min: 0 },
  },
  run(ctx) {
    const crashes = ctx.options.crashes as number
    const deadlineMs = ctx.options['deadline-ms'] as number
    const observeMs = ctx.options['observe-ms'] as number
    if (crashes >= ctx.nodes - 1) throw new RangeError(`--crashes must be below --nodes - 1 (${ctx.nodes - 1})`)
    const { cluster, convergeMs } = convergedCluster(ctx)
    if (convergeMs === undefined) return { ok: false, summary: { convergeMs: null } }
    const steady = measureBandwidth(cluster, 2000)
    const firstDead = new Map<string, number>()
    cluster.sim.onEffect((_node, eff, now) => {
      if (eff.type === 'event' && eff.event.type === 'member' && eff.event.status === 'dead' && !firstDead.has(eff.event.id)) firstDead.set(eff.event.id, now)
    })
    const detect: number[] = []
    const first: number[] = []
    let missed = 0
    for (let c = 0; c < crashes; c++) {
      const victim = cluster.sim.rng.pick(cluster.sim.upIds())
      cluster.sim.crash(victim)
      const from = cluster.sim.now
      firstDead.delete(victim)
      const at = cluster.sim.runUntilTrue(() => cluster.knowledge.deadEverywhere(victim), from + deadlineMs)
      const fd = firstDead.get(victim)
      if (fd !== undefined) first.push(fd - from)
      if (at === undefined) missed++
      else detect.push(at - from)
      ctx.log(`crash ${c + 1}/${crashes} (${victim}): first marked dead after ${ms(fd === undefined ? undefined : fd - from)}, dead at all ${cluster.sim.upIds().length} live nodes after ${ms(at === undefined ? undefined : at - from)}`)
    }
    cluster.sim.runFor(observeMs)
    const fps = cluster.knowledge.falseDead
    const suspicions = cluster.knowledge.falseSuspect
    for (const f of cluster.knowledge.falseAccusations.filter((f) => f.status === 'dead').slice(0, 5)) ctx.log(`FALSE POSITIVE at ${ms(f.at)}: ${f.observer} marked live ${f.subject} dead`)
    const fig = (xs: number[], p: number) => (xs.length === 0 ? null : round3(percentile(xs, p)))
    const summary = {
      convergeMs: round3(convergeMs),
      crashes,
      crashesMissed: missed,
      deadAtAllP50Ms: fig(detect, 50),
      deadAtAllP99Ms: fig(detect, 99),
      firstDeadP50Ms: fig(first, 50),
      falsePositives: fps,
      liveSuspicions: suspicions,
      steadyBytesPerSecPerNode: round3(steady.meanBps),
    }
    ctx.log(`dead at all: p50 ${ms(summary.deadAtAllP50Ms ?? undefined)}, p99 ${ms(summary.deadAtAllP99Ms ?? undefined)}; missed ${missed}; false positives ${fps}; suspicions of live nodes ${suspicions}`)
    ctx.log(`steady traffic before the crashes: ${kbit(steady.meanBps)} per node`)
    return { ok: missed === 0 && fps === 0, summary }
  },
}
