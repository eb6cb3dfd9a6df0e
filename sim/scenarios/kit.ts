/** Shared steps of the mesh scenarios: build and converge a cluster, measure bandwidth, summarise. */
import { MeshCluster } from '../engine/mesh-cluster.js'
import type { ScenarioContext } from './scenario.js'

/** Virtual ms a fresh cluster may take to converge before the run is declared failed. */
export const CONVERGE_DEADLINE_MS = 60_000

/** Simulated ms run after convergence before anything is measured: the overlay settles to its target degree. */
export const SETTLE_MS = 5000

/** Builds a cluster of ctx.nodes (plus `spare` enrolled but not started), converges it and lets it settle. */
export function convergedCluster(ctx: ScenarioContext, spare = 0): { cluster: MeshCluster; convergeMs: number | undefined } {
  const cluster = new MeshCluster({ seed: ctx.seed, rosterSize: ctx.nodes + spare, network: ctx.network, mesh: ctx.mesh })
  ctx.onCluster?.(cluster)
  if (ctx.start === 'warm') cluster.warmStart(ctx.nodes)
  else cluster.startFirst(ctx.nodes)
  const convergeMs = cluster.runToConvergence(CONVERGE_DEADLINE_MS)
  ctx.log(
    convergeMs === undefined
      ? `start (${ctx.start}): NOT converged after ${CONVERGE_DEADLINE_MS} ms (${pct(cluster.knowledge.convergedFraction())} of pairs)`
      : ctx.start === 'warm'
        ? `start (warm): ${ctx.nodes} nodes begin with every record (converged by construction)`
        : `start (cold): ${ctx.nodes} nodes powered on at once converged in ${ms(convergeMs)}`,
  )
  if (convergeMs !== undefined) cluster.sim.runFor(SETTLE_MS)
  return { cluster, convergeMs }
}

/**
 * Bytes sent per second per up node over the next `windowMs` of simulated time. With
 * `progress`, the window runs in slices of `progress.everyMs` and `progress.report` is
 * called after each but the last (a long run says how far it got); slicing changes no event.
 */
export function measureBandwidth(cluster: MeshCluster, windowMs: number, during?: () => void, progress?: { everyMs: number; report: (doneMs: number) => void }): { meanBps: number; maxBps: number } {
  const ids = cluster.sim.upIds()
  const before = ids.map((id) => cluster.sim.traffic(id).sentBytes)
  during?.()
  const end = cluster.sim.now + windowMs
  if (progress && progress.everyMs > 0) {
    for (let done = progress.everyMs; done < windowMs; done += progress.everyMs) {
      cluster.sim.runUntil(end - windowMs + done)
      progress.report(done)
    }
  }
  cluster.sim.runUntil(end)
  let sum = 0
  let max = 0
  ids.forEach((id, i) => {
    const bps = ((cluster.sim.traffic(id).sentBytes - before[i]!) * 1000) / windowMs
    sum += bps
    if (bps > max) max = bps
  })
  return { meanBps: sum / ids.length, maxBps: max }
}

/** Nearest-rank percentile of a non-empty list (p in [0, 100]). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty list')
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1]!
}

/** Ms rounded to µs: stable text, enough precision for sub-ms LAN latencies. */
export function round3(x: number): number {
  return Math.round(x * 1000) / 1000
}

export function ms(x: number | undefined): string {
  return x === undefined ? 'never' : `${round3(x)} ms`
}

export function pct(f: number): string {
  return `${(f * 100).toFixed(2)}%`
}

export function kbit(bps: number): string {
  return `${((bps * 8) / 1000).toFixed(2)} kbit/s`
}
