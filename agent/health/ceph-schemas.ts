/**
 * zod shapes of the `ceph ... --format json` answers the gates read, taken from a real
 * Pacific (16.2) cluster (../shared/reference/ceph-samples). Only the fields we use are
 * checked; everything else passes through untouched, so newer releases that add fields
 * still parse, and a release that changes a field we rely on fails naming that field.
 */
import { z } from 'zod'

export const CephHealthStatus = z.enum(['HEALTH_OK', 'HEALTH_WARN', 'HEALTH_ERR'])
export type CephHealthStatus = z.infer<typeof CephHealthStatus>

export const CephHealthCheck = z.object({
  severity: CephHealthStatus,
  summary: z.object({ message: z.string(), count: z.number().optional() }),
  detail: z.array(z.object({ message: z.string() })).optional(),
  muted: z.boolean().optional(),
})
export type CephHealthCheck = z.infer<typeof CephHealthCheck>

/** `ceph health detail --format json` (and the `health` object inside `ceph status`). */
export const CephHealth = z.object({
  status: CephHealthStatus,
  checks: z.record(z.string(), CephHealthCheck),
})
export type CephHealth = z.infer<typeof CephHealth>

/** `ceph status --format json`. */
export const CephStatus = z.object({
  fsid: z.string(),
  health: CephHealth,
  quorum_names: z.array(z.string()).optional(),
  osdmap: z.object({
    epoch: z.number().optional(),
    num_osds: z.number().int().nonnegative(),
    num_up_osds: z.number().int().nonnegative(),
    num_in_osds: z.number().int().nonnegative(),
  }),
  pgmap: z.object({
    pgs_by_state: z.array(z.object({ state_name: z.string(), count: z.number().int().nonnegative() })),
    num_pgs: z.number().int().nonnegative(),
  }),
  mgrmap: z.object({ available: z.boolean() }),
})
export type CephStatus = z.infer<typeof CephStatus>

/** `ceph osd tree --format json`: CRUSH buckets (root, host, ...) and OSDs. */
export const CephOsdTree = z.object({
  nodes: z.array(
    z.object({
      id: z.number().int(),
      name: z.string(),
      type: z.string(),
      children: z.array(z.number().int()).optional(),
      status: z.string().optional(),
      reweight: z.number().optional(),
    }),
  ),
  stray: z.array(z.unknown()).optional(),
})
export type CephOsdTree = z.infer<typeof CephOsdTree>

/** `ceph osd dump --format json`: the authoritative up/in state and per-CRUSH-node flags. */
export const CephOsdDump = z.object({
  epoch: z.number().int(),
  /** Bumped on every CRUSH map change: the key for caching `osd tree`. */
  crush_version: z.number().int().optional(),
  flags_set: z.array(z.string()).optional(),
  pools: z.array(
    z.object({ pool: z.number().int(), pool_name: z.string(), size: z.number().int(), min_size: z.number().int(), crush_rule: z.number().int().optional(), type: z.number().int().optional() }),
  ),
  osds: z.array(
    z.object({
      osd: z.number().int().nonnegative(),
      up: z.union([z.literal(0), z.literal(1)]),
      in: z.union([z.literal(0), z.literal(1)]),
      state: z.array(z.string()).optional(),
    }),
  ),
  crush_node_flags: z.record(z.string(), z.array(z.string())),
})
export type CephOsdDump = z.infer<typeof CephOsdDump>

/** `ceph osd ok-to-stop IDS --format json` (exit 0 ok, 16 not ok with the same JSON, 11 unknown). */
export const CephOkToStop = z.object({
  ok_to_stop: z.boolean(),
  osds: z.array(z.number().int()),
  num_ok_pgs: z.number().int().nonnegative(),
  num_not_ok_pgs: z.number().int().nonnegative(),
  bad_become_inactive: z.array(z.string()).optional(),
  ok_become_degraded: z.array(z.string()).optional(),
})
export type CephOkToStop = z.infer<typeof CephOkToStop>

/**
 * `ceph osd crush rule dump --format json`: where a rule spreads replicas. The failure
 * domain is the `type` of its choose/chooseleaf step ("host" in the default replicated_rule).
 */
export const CephCrushRules = z.array(
  z.object({
    rule_id: z.number().int(),
    rule_name: z.string(),
    steps: z.array(z.object({ op: z.string(), type: z.string().optional(), num: z.number().int().optional(), item_name: z.string().optional() })),
  }),
)
export type CephCrushRules = z.infer<typeof CephCrushRules>

/** One PG of `ceph pg dump pgs_brief --format json`: where its replicas live and which OSD leads it. */
export const CephPgBriefEntry = z.object({
  pgid: z.string(),
  state: z.string().optional(),
  acting: z.array(z.number().int()),
  acting_primary: z.number().int(),
})
/**
 * `ceph pg dump pgs_brief --format json`: Pacific wraps the list (`{pg_ready, pg_stats}`),
 * Nautilus answered the bare list; both read as the list.
 */
export const CephPgBrief = z.union([z.object({ pg_ready: z.boolean().optional(), pg_stats: z.array(CephPgBriefEntry) }).transform((d) => d.pg_stats), z.array(CephPgBriefEntry)])
export type CephPgBrief = z.infer<typeof CephPgBrief>
