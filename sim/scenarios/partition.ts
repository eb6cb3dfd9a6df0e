/**
 * partition: converge, split the network into two sides for a while, then heal it; time
 * until every node again sees every node alive with its current record.
 */
import { convergedCluster, ms, round3 } from './kit.js'
import type { Scenario } from './scenario.js'

export const partition: Scenario = {
  name: 'partition',
  summary: 'split into two sides, hold, heal; time until every node sees everyone alive and current',
  defaultNodes: 100,
  options: {
    'cut-ms': { type: 'int', description: 'simulated ms the partition lasts (beyond the 13 s link timeout, links break)', default: 30_000, min: 1 },
    fraction: { type: 'number', description: 'share of the nodes on the first side', default: 0.5, min: 0.01, max: 0.99 },
    'deadline-ms': { type: 'int', description: 'simulated ms the heal may take before it counts as failed', default: 120_000, min: 1 },
  },
  run(ctx) {
    const cutMs = ctx.options['cut-ms'] as number
    const fraction = ctx.options.fraction as number
    const deadlineMs = ctx.options['deadline-ms'] as number
    const { cluster, convergeMs } = convergedCluster(ctx)
    if (convergeMs === undefined) return { ok: false, summary: { convergeMs: null } }
    cluster.sim.runFor(2000)
    const up = cluster.sim.upIds()
    const shuffled = cluster.sim.rng.sample(up, up.length)
    const sideA = shuffled.slice(0, Math.max(1, Math.round(fraction * up.length)))
    const sideB = shuffled.slice(sideA.length)
    cluster.sim.partition([sideA])
    cluster.sim.runFor(cutMs)
    // How far the split got: nodes of each side that hold the other side dead.
    const probeA = sideA[0]!
    const probeB = sideB[0]!
    const deadOfA = cluster.knowledge.deadAt(probeA)
    const deadOfB = cluster.knowledge.deadAt(probeB)
    ctx.log(`partition ${sideA.length} | ${sideB.length} for ${ms(cutMs)}: ${deadOfA}/${sideB.length} of side B hold ${probeA} dead, ${deadOfB}/${sideA.length} of side A hold ${probeB} dead`)
    cluster.sim.heal()
    const healMs = cluster.runToConvergence(deadlineMs)
    ctx.log(`healed: every node sees everyone alive and current after ${ms(healMs)} (${(cluster.knowledge.convergedFraction() * 100).toFixed(2)}% of pairs)`)
    const summary = {
      convergeMs: round3(convergeMs),
      cutMs,
      sideA: sideA.length,
      sideB: sideB.length,
      splitSeenByOtherSide: deadOfA + deadOfB,
      healMs: healMs === undefined ? null : round3(healMs),
      linkTimeouts: cluster.sim.stats.linkTimeouts,
    }
    return { ok: healMs !== undefined, summary }
  },
}
