/**
 * The ranking's inputs a node publishes about itself (NodeRecord `work`, docs/vote.md
 * "Ranking"), taken from the same probe round as its gate verdicts:
 * - pods / blocked: the drain plan (agent/health/kube-drain.ts drainPlan) — pods a drain
 *   would evict, and of those the ones a PodDisruptionBudget (or a missing controller)
 *   refuses now;
 * - pgs / primaries: the host's Ceph share (ceph-probe.ts cephShare, from `pg dump pgs_brief`);
 * - load: the 1-minute load average per CPU core.
 * A source that did not answer leaves its fields out: never a made-up 0 for a node whose
 * Kubernetes API is down (the reader counts an absent field as 0, so only the republish
 * rule below keeps the last known value).
 */
import { availableParallelism, loadavg } from 'node:os'
import type { Workload } from '../protocol/node-record.js'
import type { NodeObservations } from './observation.js'

/** 1-minute load average per core, two decimals (os.loadavg reads /proc/loadavg). */
export function loadPerCore(): number {
  const cores = Math.max(1, availableParallelism())
  return Math.round((loadavg()[0]! / cores) * 100) / 100
}

/** The workload of one round; `prev` fills what this round could not see. Pure. */
export function workloadOf(obs: NodeObservations, load: number, prev?: Workload): Workload {
  const w: Workload = { pods: prev?.pods ?? 0, load }
  const drain = obs.kube.state === 'ok' ? obs.kube.value.drain : undefined
  if (drain) {
    w.pods = drain.evict.length
    w.blocked = drain.blocking.length
  } else if (prev?.blocked !== undefined) w.blocked = prev.blocked
  const share = obs.ceph.state === 'ok' ? obs.ceph.value.share : undefined
  if (share) {
    w.pgs = share.pgs
    w.primaries = share.primaries
  } else if (prev?.pgs !== undefined) {
    w.pgs = prev.pgs
    w.primaries = prev.primaries ?? 0
  }
  return w
}

/**
 * Load moves all the time, and every new record travels to every node: republish for load
 * alone only when it moved by at least this much per core since the last published value.
 */
export const LOAD_STEP = 0.25

/** Whether `next` is worth a new record over `published`. Pure. */
export function workChanged(published: Workload | undefined, next: Workload): boolean {
  if (!published) return true
  if (published.pods !== next.pods || published.blocked !== next.blocked || published.pgs !== next.pgs || published.primaries !== next.primaries) return true
  return Math.abs(published.load - next.load) >= LOAD_STEP
}
