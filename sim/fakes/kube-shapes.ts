/** The API server's response shapes: Status errors, Lists, Tables (kubectl's `as=Table`), node conditions, /version. */
import type { Obj } from './kube-types.js'

export function nodeConditions(ready: boolean, reason = ready ? 'KubeletReady' : 'KubeletNotReady'): Obj[] {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  const c = (type: string, status: string, r: string, message: string) => ({ type, status, lastHeartbeatTime: now, lastTransitionTime: now, reason: r, message })
  return [
    c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    c('Ready', ready ? 'True' : 'False', reason, ready ? 'kubelet is posting ready status' : 'container runtime network not ready'),
  ]
}

export function status(code: number, reason: string, message: string): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }
}

export function notFound(resource: string, name: string): Error {
  return Object.assign(new Error(`${resource} "${name}" not found`), { status: 404, reason: 'NotFound' })
}

export function list(kind: string, apiVersion: string, items: Obj[], rv: number): Obj {
  return { kind, apiVersion, metadata: { resourceVersion: String(rv) }, items }
}

export function table(cols: [string, string, string][], rows: { cells: unknown[]; obj: Obj }[], rv: number): Obj {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: String(rv) },
    columnDefinitions: cols.map(([name, type, format]) => ({ name, type, format, description: name, priority: 0 })),
    rows: rows.map((r) => ({
      cells: r.cells,
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: r.obj.metadata },
    })),
  }
}

export function age(ts: string): string {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000))
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h`
}


export function nodeTable(items: Obj[], rv: number): Obj {
  return table(
    [['Name', 'string', 'name'], ['Status', 'string', ''], ['Roles', 'string', ''], ['Age', 'string', ''], ['Version', 'string', '']],
    items.map((n) => {
      const ready = n.status.conditions.find((c: Obj) => c.type === 'Ready')?.status === 'True'
      const st = (ready ? 'Ready' : 'NotReady') + (n.spec.unschedulable ? ',SchedulingDisabled' : '')
      return { cells: [n.metadata.name, st, '<none>', age(n.metadata.creationTimestamp), n.status.nodeInfo?.kubeletVersion ?? ''], obj: n }
    }),
    rv,
  )
}

export function podTable(items: Obj[], rv: number): Obj {
  return table(
    [['Name', 'string', 'name'], ['Ready', 'string', ''], ['Status', 'string', ''], ['Restarts', 'string', ''], ['Age', 'string', '']],
    items.map((p) => {
      const ready = p.status.conditions?.some((c: Obj) => c.type === 'Ready' && c.status === 'True')
      return { cells: [p.metadata.name, ready ? '1/1' : '0/1', p.status.phase, '0', age(p.metadata.creationTimestamp)], obj: p }
    }),
    rv,
  )
}
