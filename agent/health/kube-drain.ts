/**
 * Draining a node the way `kubectl drain --ignore-daemonsets` does: cordon, then evict every
 * pod except DaemonSet pods (their controller would recreate them in place) and mirror pods
 * (static pods the kubelet owns), through the Eviction API so PodDisruptionBudgets are
 * honoured. A 429 ("the budget says not now") is retried with backoff until the deadline;
 * at the deadline the drain reports which pods still block and why.
 */
import { retryDelay, type BackoffPolicy } from './retry-policy.js'
import type { KubeClient } from './kube-client.js'
import type { KubePdb, KubePod } from './kube-schemas.js'
import { selects, type LabelSelector } from './label-selector.js'
import type { DrainPlan, PodRef } from './observation.js'

const mirrorAnnotation = 'kubernetes.io/config.mirror'

/** A pod no controller owns is gone for good once evicted (kubectl drain refuses it without --force). */
export function isUnmanaged(p: KubePod): boolean {
  return !p.metadata.ownerReferences?.some((o) => o.controller) && !['Succeeded', 'Failed'].includes(p.status?.phase ?? '')
}
const unmanagedReason = 'not managed by a controller: evicting it deletes it for good (recreate it under a Deployment/StatefulSet, or delete it yourself)'

/** Splits a node's pods into those a drain evicts and those it leaves. Pure. */
export function classifyPods(pods: KubePod[]): Pick<DrainPlan, 'evict' | 'stay'> {
  const evict: PodRef[] = []
  const stay: DrainPlan['stay'] = []
  for (const p of pods) {
    const ref = { namespace: p.metadata.namespace ?? 'default', name: p.metadata.name }
    if (p.metadata.annotations?.[mirrorAnnotation] !== undefined) stay.push({ ...ref, why: 'mirror' })
    else if (p.metadata.ownerReferences?.some((o) => o.controller && o.kind === 'DaemonSet')) stay.push({ ...ref, why: 'daemonset' })
    else if (p.metadata.deletionTimestamp) continue // already going
    else evict.push(ref)
  }
  return { evict, stay }
}

/** A budget that allows no disruption with every pod it expects healthy: waiting never frees it. */
export function allowsNoneEver(b: KubePdb): boolean {
  const st = b.status
  if (!st || st.disruptionsAllowed > 0 || st.currentHealthy === undefined || st.expectedPods === undefined) return false
  return st.expectedPods > 0 && st.currentHealthy >= st.expectedPods
}

/** The drain plan without evicting: which pods a PodDisruptionBudget would refuse now. Pure. */
export function drainPlan(pods: KubePod[], pdbs: KubePdb[]): DrainPlan {
  const { evict, stay } = classifyPods(pods)
  const byKey = new Map(pods.map((p) => [`${p.metadata.namespace ?? 'default'}/${p.metadata.name}`, p]))
  const blocking: DrainPlan['blocking'] = []
  // Evicting several pods under one budget uses it up one by one.
  const used = new Map<string, number>()
  const none: NonNullable<DrainPlan['pdbsAllowingNone']> = []
  for (const ref of evict) {
    const pod = byKey.get(`${ref.namespace}/${ref.name}`)!
    if (isUnmanaged(pod)) {
      blocking.push({ ...ref, reason: unmanagedReason })
      continue
    }
    const ready = pod.status?.phase === 'Running' && pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
    if (!ready) continue // unhealthy pods do not count against a budget's healthy pods
    const budgets = pdbs.filter((b) => (b.metadata.namespace ?? 'default') === ref.namespace && selects(b.spec.selector as LabelSelector, pod.metadata.labels ?? {}))
    if (budgets.length > 1) {
      blocking.push({ ...ref, reason: `more than one PodDisruptionBudget selects it (${budgets.map((b) => b.metadata.name).join(', ')}); the Eviction API refuses such pods` })
      continue
    }
    const b = budgets[0]
    if (!b) continue
    const key = `${b.metadata.namespace}/${b.metadata.name}`
    const left = (b.status?.disruptionsAllowed ?? 0) - (used.get(key) ?? 0)
    if (left < 1) {
      const h = b.status?.currentHealthy !== undefined && b.status?.desiredHealthy !== undefined ? ` (${b.status.currentHealthy} healthy, ${b.status.desiredHealthy} needed)` : ''
      blocking.push({ ...ref, reason: `PodDisruptionBudget ${b.metadata.name} allows no more disruptions${h}` })
      const st = b.status
      if (allowsNoneEver(b) && !none.some((x) => x.name === b.metadata.name)) none.push({ name: b.metadata.name, healthy: st!.currentHealthy!, desired: st!.desiredHealthy ?? st!.currentHealthy! })
    } else used.set(key, (used.get(key) ?? 0) + 1)
  }
  return { evict, stay, blocking, ...(none.length ? { pdbsAllowingNone: none } : {}) }
}

export interface DrainOptions {
  /** Give up (and report blockers) after this long. */
  deadlineMs: number
  /** Backoff between eviction attempts of one pod refused by its budget (kubectl waits 5 s). */
  retry?: BackoffPolicy
  /** How often to look whether an evicted pod is gone. */
  pollMs?: number
  /** Also evict pods no controller owns (they do not come back). Default false: they block. */
  force?: boolean
}

export interface DrainResult {
  /** True when every evictable pod is gone. */
  drained: boolean
  evicted: PodRef[]
  stay: DrainPlan['stay']
  /** Pods still on the node at the deadline, with the last reason. */
  blocking: (PodRef & { reason: string })[]
  ms: number
}

/** Cordons the node and evicts its pods until done or the deadline. */
export async function drainNode(client: KubeClient, node: string, opts: DrainOptions): Promise<DrainResult> {
  const env = client.env
  const t0 = env.now()
  const deadline = t0 + opts.deadlineMs
  const retry = opts.retry ?? { baseMs: 1000, maxMs: 5000, attempts: Number.MAX_SAFE_INTEGER }
  const pollMs = opts.pollMs ?? 250
  await client.setUnschedulable(node, true)
  const pods = await client.podsOnNode(node)
  const { evict, stay } = classifyPods(pods)
  const uidOf = new Map(pods.map((p) => [`${p.metadata.namespace ?? 'default'}/${p.metadata.name}`, p.metadata.uid]))
  const evicted: PodRef[] = []
  const blocking: DrainResult['blocking'] = []
  const byKey = new Map(pods.map((p) => [`${p.metadata.namespace ?? 'default'}/${p.metadata.name}`, p]))
  const toEvict = evict.filter((ref) => {
    if (opts.force || !isUnmanaged(byKey.get(`${ref.namespace}/${ref.name}`)!)) return true
    blocking.push({ ...ref, reason: unmanagedReason })
    return false
  })

  await Promise.all(
    toEvict.map(async (ref) => {
      let reason = 'not evicted before the deadline'
      for (let attempt = 1; ; attempt++) {
        let out
        try {
          out = await client.evict(ref)
        } catch (err) {
          out = { kind: 'denied' as const, reason: (err as Error).message }
        }
        if (out.kind !== 'denied') break
        reason = out.reason
        const wait = retryDelay(retry, attempt, env.random)
        if (env.now() + wait > deadline) {
          blocking.push({ ...ref, reason })
          return
        }
        await env.sleep(wait)
      }
      // Evicted: wait until the pod object is gone (or replaced by a new one of that name).
      const uid = uidOf.get(`${ref.namespace}/${ref.name}`)
      for (;;) {
        let cur: string | undefined
        try {
          cur = await client.podUid(ref)
        } catch {
          cur = uid // unknown: keep waiting
        }
        if (cur === undefined || (uid && cur !== uid)) {
          evicted.push(ref)
          return
        }
        if (env.now() + pollMs > deadline) {
          blocking.push({ ...ref, reason: 'evicted but still terminating at the deadline' })
          return
        }
        await env.sleep(pollMs)
      }
    }),
  )
  return { drained: blocking.length === 0, evicted, stay, blocking, ms: env.now() - t0 }
}
