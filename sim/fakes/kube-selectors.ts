/** List filtering as the API server does it: a pod list's fieldSelector and any list's labelSelector. */
import { parseSelectorString } from '../../agent/health/label-selector.js'
import type { Obj } from './kube-types.js'

export function selectPods(pods: Iterable<Obj>, ns: string | undefined, q: URLSearchParams): Obj[] {
  let items = [...pods].filter((p) => !ns || p.metadata.namespace === ns)
  for (const t of parseSelectorString(q.get('fieldSelector'))) {
    const get = (p: Obj): string | undefined =>
      t.key === 'spec.nodeName' ? p.spec.nodeName : t.key === 'metadata.name' ? p.metadata.name : t.key === 'metadata.namespace' ? p.metadata.namespace : t.key === 'status.phase' ? p.status.phase : undefined
    items = items.filter((p) => (get(p) === t.value) === (t.op === '='))
  }
  return filterLabels(items, q.get('labelSelector'))
}

export function filterLabels(items: Obj[], sel: string | null): Obj[] {
  const terms = parseSelectorString(sel)
  return items.filter((o) => terms.every((t) => ((o.metadata.labels ?? {})[t.key] === t.value) === (t.op === '=')))
}
