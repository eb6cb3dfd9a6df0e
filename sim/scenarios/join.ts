/**
 * join: converge N nodes, then power on new nodes one at a time and time how fast each
 * one's record reaches 99.9% and 100% of the cluster (the "join seen by 99.9%").
 */
import { convergedCluster, measureBandwidth, ms, percentile, kbit, round3 } from './kit.js'
import type { Scenario } from './scenario.js'
import type { MeshCluster } from '../engine/mesh-cluster.js'

export const join: Scenario = {
  name: 'join',
  summary: 'converge N nodes, then add nodes one by one; time until 99.9% / 100% hold each new record',
  defaultNodes: 100,
  options: {
    joins: { type: 'int', description: 'nodes to add, one after another (p50/p99 over them)', default: 5, min: 1, max: 1000 },
    'gap-ms': { type: 'int', description: 'simulated ms between joins (and before the first)', default: 2000, min: 0 },
    'deadline-ms': { type: 'int', description: 'simulated ms a join may take before it counts as missed', default: 10_000, min: 1 },
  },
  run(ctx) {
    const joins = ctx.options.joins as number
    const gapMs = ctx.options['gap-ms'] as number
    const deadlineMs = ctx.options['deadline-ms'] as number
    const { cluster, convergeMs } = convergedCluster(ctx, joins)
    if (convergeMs === undefined) return { ok: false, summary: { convergeMs: null } }
    const copiesAtConverge = recordCopies(cluster)
    const framesAtConverge = counterSum(cluster, 'messages-in')
    const steady = measureBandwidth(cluster, gapMs)
    const t999: number[] = []
    const t100: number[] = []
    const informed: number[] = []
    let missed = 0
    const joinCopies = { new: 0, dup: 0 }
    for (let j = 0; j < joins; j++) {
      const id = cluster.ids[ctx.nodes + j]!
      const copiesBefore = recordCopies(cluster)
      cluster.sim.start(id)
      const w = cluster.knowledge.watchRecord(id)
      const from = cluster.sim.now
      let joinerInformedAt: number | undefined
      const done = () => {
        if (joinerInformedAt === undefined && cluster.knowledge.informed(id)) joinerInformedAt = cluster.sim.now
        return w.reachedAt.size === w.observers.size && joinerInformedAt !== undefined
      }
      cluster.sim.runUntilTrue(done, from + deadlineMs)
      cluster.knowledge.unwatch(w)
      const a = w.timeTo(0.999)
      const b = w.timeTo(1)
      if (a === undefined || b === undefined || joinerInformedAt === undefined) missed++
      if (a !== undefined) t999.push(a)
      if (b !== undefined) t100.push(b)
      if (joinerInformedAt !== undefined) informed.push(joinerInformedAt - from)
      const copies = recordCopies(cluster)
      joinCopies.new += copies.new - copiesBefore.new
      joinCopies.dup += copies.dup - copiesBefore.dup
      ctx.log(`join ${j + 1}/${joins} (${id}): 99.9% in ${ms(a)}, 100% in ${ms(b)}; the joiner knew everyone after ${ms(joinerInformedAt === undefined ? undefined : joinerInformedAt - from)}`)
      if (gapMs > 0) cluster.sim.runFor(gapMs)
    }
    const fig = (xs: number[], p: number) => (xs.length === 0 ? null : round3(percentile(xs, p)))
    const summary = {
      convergeMs: round3(convergeMs),
      joins,
      joinsMissed: missed,
      join999P50Ms: fig(t999, 50),
      join999P99Ms: fig(t999, 99),
      join100P50Ms: fig(t100, 50),
      join100P99Ms: fig(t100, 99),
      joinerInformedP50Ms: fig(informed, 50),
      joinerInformedP99Ms: fig(informed, 99),
      // Copies of a node record each node received per record it learned (1 = no duplicates):
      // during a cold start's convergence (a warm start hands the records in: null), and during the joins.
      convergeCopiesPerRecord: copiesPerRecord(copiesAtConverge),
      // Frames each node received while converging (cold start; null warm): what a join costs a node.
      convergeFramesPerNode: copiesAtConverge.new === 0 ? null : round3(framesAtConverge / ctx.nodes),
      joinCopiesPerRecord: copiesPerRecord(joinCopies),
      steadyBytesPerSecPerNode: round3(steady.meanBps),
      steadyMaxBytesPerSecPerNode: round3(steady.maxBps),
    }
    ctx.log(`join 99.9%: p50 ${ms(summary.join999P50Ms ?? undefined)}, p99 ${ms(summary.join999P99Ms ?? undefined)}; 100%: p50 ${ms(summary.join100P50Ms ?? undefined)}, p99 ${ms(summary.join100P99Ms ?? undefined)}; missed ${missed}`)
    ctx.log(`record copies received per record learned: ${summary.convergeCopiesPerRecord ?? '-'} while converging, ${summary.joinCopiesPerRecord ?? '-'} during the joins`)
    ctx.log(`steady traffic: ${kbit(steady.meanBps)} per node (max ${kbit(steady.maxBps)})`)
    return { ok: missed === 0, summary }
  },
}

/** One counter summed over all up nodes. */
function counterSum(cluster: MeshCluster, name: string): number {
  let n = 0
  for (const id of cluster.sim.upIds()) n += cluster.sim.process(id)?.counters?.[name] ?? 0
  return n
}

/** Record copies (new and already held) all up nodes received so far, from their counters. */
function recordCopies(cluster: MeshCluster): { new: number; dup: number } {
  return { new: counterSum(cluster, 'record-copies-new'), dup: counterSum(cluster, 'record-copies-dup') }
}

function copiesPerRecord(c: { new: number; dup: number }): number | null {
  return c.new === 0 ? null : round3((c.new + c.dup) / c.new)
}
