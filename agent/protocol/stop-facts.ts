/**
 * Whether a node could EVER go down for a wave on its own, from facts its agent gossips —
 * and, when it cannot, why in words, with the numbers, and what the operator can change.
 *
 * A wave whose every candidate fails its pre-reboot gate for good never moves: with two
 * hosts and pools at size 2 / min_size 2, stopping either host makes PGs inactive, so every
 * ok-to-stop says no, forever. The coordinator refuses to start such a wave (unless forced),
 * the status names it, and the simulator counts it as refused — all three through this one
 * pure judgement.
 *
 * What cannot clear by itself:
 * - a pool whose replicas, once one failure domain is down, fall below its min_size:
 *   min(size, domains) - 1 < min_size. That is min_size = size, or fewer CRUSH failure
 *   domains than replicas (the PGs already run undersized);
 * - Ceph's own `ok-to-stop` saying no for this host's OSDs while nothing else is down and
 *   every PG is active+clean (the agent judges "alone" only then);
 * - a PodDisruptionBudget that allows no eviction with all its pods healthy.
 *
 * Pure: no IO, no clock.
 */
import { z } from 'zod'

const Name = z.string().max(64)
const copies = (n: number) => `${n} ${n === 1 ? 'copy' : 'copies'}`

/** What an agent publishes about stopping itself (HealthSummary.stop). Bounded for the record. */
export const StopFacts = z
  .object({
    /** Replicated pools: size and min_size (`ceph osd dump` pools). */
    pools: z.array(z.object({ name: Name, size: z.number().int().min(0).max(64), min: z.number().int().min(0).max(64) }).strict()).max(16).optional(),
    /** The CRUSH failure-domain type replicas are spread over (the rule's chooseleaf type; `host` by default). */
    domainType: z.string().max(32).optional(),
    /** Buckets of that type holding at least one OSD (`ceph osd tree`). */
    domains: z.number().int().nonnegative().optional(),
    /**
     * `ceph osd ok-to-stop` for this host's OSDs as of the last round in which nothing else
     * was down and every PG was active+clean; absent when no such round was seen.
     */
    okAlone: z.boolean().optional(),
    /** PodDisruptionBudgets that allow no eviction of this node's pods although all their pods are healthy. */
    pdbs: z.array(z.object({ name: Name, healthy: z.number().int().nonnegative(), desired: z.number().int().nonnegative() }).strict()).max(8).optional(),
  })
  .strict()
export type StopFacts = z.infer<typeof StopFacts>

/** Bounded codes (metric label values): why a node cannot go down. */
export type BlockerCode = 'pool-min-size' | 'failure-domains' | 'ok-to-stop-alone' | 'pdb-allows-none'

export interface Blocker {
  code: BlockerCode
  /** What is wrong, with the numbers behind it. */
  message: string
  /** What the operator can change. */
  fix: string
}

/**
 * Why `node` can never pass its pre-reboot gate on its own (empty: it could, or nothing
 * is known). Every message names the node's pool/domain facts; identical cluster-wide
 * causes (pools) read the same on every node, so callers can group them.
 */
export function neverStops(f: StopFacts | undefined): Blocker[] {
  if (!f) return []
  const out: Blocker[] = []
  const type = f.domainType ?? 'host'
  for (const p of f.pools ?? []) {
    if (p.size < 1) continue
    const domains = f.domains ?? p.size
    const placed = Math.min(p.size, domains)
    const left = placed - 1
    const min = Math.max(1, p.min)
    if (left >= min) continue
    if (domains < p.size) {
      out.push({
        code: 'failure-domains',
        message: `pool ${p.name} wants ${p.size} replicas on distinct ${type}s but the CRUSH map has ${domains} ${type}(s) with OSDs: its PGs hold ${copies(placed)}, and with one ${type} down ${copies(left)} remain${left === 1 ? 's' : ''}, below min_size ${p.min}, so its PGs go inactive — no ${type} can ever be stopped`,
        fix: `add a ${type} with OSDs (${domains} -> ${p.size}), or size the pool to the cluster: ceph osd pool set ${p.name} size ${domains}${domains >= 2 ? ` && ceph osd pool set ${p.name} min_size ${domains - 1}` : ''}`,
      })
    } else {
      out.push({
        code: 'pool-min-size',
        message: `pool ${p.name} has min_size ${p.min} with size ${p.size}: with one ${type} down ${copies(left)} remain${left === 1 ? 's' : ''}, below min_size, so its PGs go inactive — no ${type} can ever be stopped`,
        fix:
          p.size >= 2
            ? `ceph osd pool set ${p.name} min_size ${p.size - 1} (writes then continue on ${copies(p.size - 1)} while a ${type} reboots)`
            : `give the pool a second copy: ceph osd pool set ${p.name} size 2 && ceph osd pool set ${p.name} min_size 1 (needs 2 ${type}s)`,
      })
    }
  }
  // Ceph's own word counts only when the pools do not already explain it.
  if (out.length === 0 && f.okAlone === false) {
    out.push({
      code: 'ok-to-stop-alone',
      message: `Ceph says this ${type}'s OSDs are not ok to stop even with nothing else down and every PG active+clean`,
      fix: `check which pools place all their copies here or need every copy (ceph osd pool ls detail; ceph osd ok-to-stop <ids>), then lower their min_size or add a ${type}`,
    })
  }
  for (const b of f.pdbs ?? []) {
    out.push({
      code: 'pdb-allows-none',
      message: `PodDisruptionBudget ${b.name} allows no eviction although all ${b.healthy} of its pods are healthy (${b.desired} must stay up)`,
      fix: `relax the PodDisruptionBudget ${b.name} (lower minAvailable or raise maxUnavailable), or add a replica elsewhere`,
    })
  }
  return out
}

/** Blockers of many nodes, the same cause (same message) listed once with the nodes it stops. */
export function groupBlockers(byNode: ReadonlyMap<string, readonly Blocker[]>): { blocker: Blocker; nodes: string[] }[] {
  const groups = new Map<string, { blocker: Blocker; nodes: string[] }>()
  for (const [node, list] of byNode) {
    for (const b of list) {
      const g = groups.get(b.message) ?? { blocker: b, nodes: [] }
      g.nodes.push(node)
      groups.set(b.message, g)
    }
  }
  return [...groups.values()]
}
