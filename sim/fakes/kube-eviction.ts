/**
 * The disruption controller's PDB status and the Eviction subresource: 201 and the pod is
 * deleted, or 429 TooManyRequests while a PDB that selects the pod has no disruptions
 * left, with the real API server's shapes and messages.
 */
import { selects } from '../../agent/health/label-selector.js'
import type { Obj } from './kube-types.js'
import { notFound, status } from './kube-shapes.js'

/** What an eviction needs of the server: pods, PDBs, the eviction log, deletion, its emitter. */
export interface EvictionStore {
  pods: Map<string, Obj>
  pdbs: Map<string, Obj>
  evictions: { pod: string; status: number }[]
  deletePod(p: Obj): void
  emit(event: string, arg: unknown): boolean
}

/** The disruption controller's view of a PDB, computed now. */
export function pdbStatus(pdb: Obj, pods: Iterable<Obj>): Obj {
  const ns = pdb.metadata.namespace
  const matching = [...pods].filter((p) => p.metadata.namespace === ns && selects(pdb.spec.selector, p.metadata.labels) && !p.metadata.deletionTimestamp)
  const healthy = matching.filter((p) => p.status.phase === 'Running' && p.status.conditions?.some((c: Obj) => c.type === 'Ready' && c.status === 'True')).length
  const expected = matching.length
  const intOrPct = (v: number | string, total: number, roundUp: boolean) =>
    typeof v === 'number' ? v : roundUp ? Math.ceil((parseInt(v, 10) / 100) * total) : Math.floor((parseInt(v, 10) / 100) * total)
  let desired: number
  if (pdb.spec.minAvailable !== undefined) desired = intOrPct(pdb.spec.minAvailable, expected, true)
  else if (pdb.spec.maxUnavailable !== undefined) desired = Math.max(0, expected - intOrPct(pdb.spec.maxUnavailable, expected, true))
  else desired = expected
  return {
    observedGeneration: 1,
    disruptionsAllowed: Math.max(0, healthy - desired),
    currentHealthy: healthy,
    desiredHealthy: desired,
    expectedPods: expected,
    conditions: [{ type: 'DisruptionAllowed', status: healthy - desired > 0 ? 'True' : 'False', reason: healthy - desired > 0 ? 'SufficientPods' : 'InsufficientPods', message: '', lastTransitionTime: pdb.metadata.creationTimestamp, observedGeneration: 1 }],
  }
}

export function evict(ctx: EvictionStore, ns: string, name: string, body: string): [number, unknown] {
  const p = ctx.pods.get(`${ns}/${name}`)
  if (!p) throw notFound('pods', name)
  let ev: Obj
  try {
    ev = JSON.parse(body || '{}')
  } catch {
    throw Object.assign(new Error('Eviction body is not JSON'), { status: 400, reason: 'BadRequest' })
  }
  if (ev.kind !== 'Eviction' || (ev.metadata?.name && ev.metadata.name !== name))
    throw Object.assign(new Error(`expected an Eviction for pod ${name}`), { status: 400, reason: 'BadRequest' })
  const key = `${ns}/${name}`
  // Pods that are not running (finished, pending) can always be evicted, as in the real server.
  const running = p.status.phase === 'Running'
  const budgets = [...ctx.pdbs.values()].filter((b) => b.metadata.namespace === ns && selects(b.spec.selector, p.metadata.labels))
  if (budgets.length > 1) throw Object.assign(new Error('This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.'), { status: 500 })
  const podReady = p.status.conditions?.some((c: Obj) => c.type === 'Ready' && c.status === 'True')
  if (running && podReady && budgets.length === 1) {
    const st = pdbStatus(budgets[0]!, ctx.pods.values())
    if (st.disruptionsAllowed < 1) {
      ctx.evictions.push({ pod: key, status: 429 })
      ctx.emit('eviction-denied', { pod: key, pdb: budgets[0]!.metadata.name })
      const s = status(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.")
      s.details = { causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${budgets[0]!.metadata.name} needs ${st.desiredHealthy} healthy pods and has ${st.currentHealthy} currently` }] }
      return [429, s]
    }
  }
  ctx.deletePod(p)
  ctx.evictions.push({ pod: key, status: 201 })
  ctx.emit('evicted', { pod: key, node: p.spec.nodeName })
  return [201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 }]
}
