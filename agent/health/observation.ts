/**
 * What one round of probes saw about one node: per source, a value, an error, or a
 * deliberate skip. The gates and the health model are pure functions of this, so the
 * agent, the CLI and the simulator judge the same way.
 */
import type { CephSnapshot } from './ceph-probe.js'

export type Source = 'kubelet' | 'kube' | 'ceph'

export type Observed<T> =
  | { state: 'ok'; value: T }
  /** Left out on purpose (`--skip ceph`, no kubelet on an admin machine); the gate says so. */
  | { state: 'skipped'; why: string }
  /** The source did not answer or answered nonsense: never read as healthy. */
  | { state: 'error'; code: string; error: string }

export interface KubeletView {
  healthy: boolean
  /** First line of the /healthz body or the HTTP status, for the message. */
  detail: string
}

export interface KubeNodeCondition {
  type: string
  status: 'True' | 'False' | 'Unknown'
  reason?: string
  message?: string
  lastTransitionTime?: string
}

export interface KubeNodeView {
  name: string
  /** status of the Ready condition; 'Unknown' when the node controller lost the kubelet. */
  ready: 'True' | 'False' | 'Unknown'
  unschedulable: boolean
  conditions: KubeNodeCondition[]
}

export interface PodRef {
  namespace: string
  name: string
}

/** What draining the node would do, judged without evicting anything. */
export interface DrainPlan {
  /** Pods a drain would evict. */
  evict: PodRef[]
  /** Pods a drain leaves alone: DaemonSet pods (recreated in place) and mirror (static) pods. */
  stay: (PodRef & { why: 'daemonset' | 'mirror' })[]
  /** Pods whose eviction would be refused now, and why (PDB with no disruptions left, ...). */
  blocking: (PodRef & { reason: string })[]
  /**
   * Budgets among those that block which allow no eviction although every pod they cover
   * is healthy: waiting cannot clear them, only relaxing the budget (or more replicas) can.
   */
  pdbsAllowingNone?: { name: string; healthy: number; desired: number }[]
}

export interface KubeView {
  node: KubeNodeView
  /** Only read for the pre-reboot gate. */
  drain?: DrainPlan
}

export interface NodeObservations {
  node: string
  kubelet: Observed<KubeletView>
  kube: Observed<KubeView>
  ceph: Observed<CephSnapshot>
}

export function ok<T>(value: T): Observed<T> {
  return { state: 'ok', value }
}
export function skipped<T>(why: string): Observed<T> {
  return { state: 'skipped', why }
}
export function failed<T>(err: unknown): Observed<T> {
  const e = err as { code?: unknown; message?: unknown }
  return {
    state: 'error',
    code: typeof e?.code === 'string' ? e.code : 'error',
    error: typeof e?.message === 'string' ? e.message : String(err),
  }
}

/** Runs `fn` and turns its outcome into an Observed; never throws. */
export async function observe<T>(fn: () => Promise<T>): Promise<Observed<T>> {
  try {
    return ok(await fn())
  } catch (err) {
    return failed(err)
  }
}
