/**
 * zod shapes of the Kubernetes v1 objects the health probes read (only the fields used;
 * the rest passes through). Node, Pod, PodDisruptionBudget, lists, and Status errors.
 */
import { z } from 'zod'

const ObjectMeta = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  labels: z.record(z.string(), z.string()).nullish(),
  annotations: z.record(z.string(), z.string()).nullish(),
  ownerReferences: z.array(z.object({ kind: z.string(), name: z.string(), controller: z.boolean().optional() })).nullish(),
  deletionTimestamp: z.string().nullish(),
})

export const KubeNode = z.object({
  metadata: ObjectMeta,
  spec: z.object({ unschedulable: z.boolean().optional() }).nullish(),
  status: z
    .object({
      conditions: z
        .array(
          z.object({
            type: z.string(),
            status: z.enum(['True', 'False', 'Unknown']),
            reason: z.string().optional(),
            message: z.string().optional(),
            lastTransitionTime: z.string().optional(),
          }),
        )
        .nullish(),
    })
    .nullish(),
})
export type KubeNode = z.infer<typeof KubeNode>

export const KubePod = z.object({
  metadata: ObjectMeta,
  spec: z.object({ nodeName: z.string().optional() }),
  status: z
    .object({
      phase: z.string().optional(),
      conditions: z.array(z.object({ type: z.string(), status: z.string() })).nullish(),
    })
    .nullish(),
})
export type KubePod = z.infer<typeof KubePod>

const Selector = z.object({
  matchLabels: z.record(z.string(), z.string()).nullish(),
  matchExpressions: z
    .array(z.object({ key: z.string(), operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: z.array(z.string()).nullish() }))
    .nullish(),
})

export const KubePdb = z.object({
  metadata: ObjectMeta,
  spec: z.object({ selector: Selector.nullish() }),
  status: z.object({ disruptionsAllowed: z.number().int().default(0), currentHealthy: z.number().int().optional(), desiredHealthy: z.number().int().optional(), expectedPods: z.number().int().optional() }).nullish(),
})
export type KubePdb = z.infer<typeof KubePdb>

export const listOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item).nullable().transform((x) => x ?? []), metadata: z.object({ continue: z.string().optional() }).optional() })

/** metav1.Status, the body of API errors (and of a successful eviction). */
export const KubeStatus = z.object({
  kind: z.literal('Status').optional(),
  status: z.string().optional(),
  message: z.string().optional(),
  reason: z.string().optional(),
  code: z.number().optional(),
  details: z.object({ causes: z.array(z.object({ reason: z.string().optional(), message: z.string().optional() })).optional() }).nullish(),
})
export type KubeStatus = z.infer<typeof KubeStatus>
