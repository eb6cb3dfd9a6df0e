/** Discovery: /version, /api, /apis and the resource lists kubectl reads before it acts, and the health probes. */
import type { Obj } from './kube-types.js'

/** The answer to a discovery or health GET, or undefined when the path is not one. */
export function discovery(path: string, version: string, url: string): [number, unknown] | undefined {
  if (path === '/version') return [200, versionInfo(version)]
  if (path === '/api') return [200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: url.replace(/^https?:\/\//, '') }] }]
  if (path === '/apis') return [200, apiGroupList()]
  if (path === '/api/v1') return [200, coreResources()]
  if (path === '/apis/apps/v1') return [200, appsResources()]
  if (path === '/apis/policy/v1') return [200, policyResources()]
  if (path === '/healthz' || path === '/readyz' || path === '/livez') return [200, 'ok']
  return undefined
}

export function versionInfo(v: string): Obj {
  const m = /^v(\d+)\.(\d+)/.exec(v)
  return { major: m?.[1] ?? '1', minor: m?.[2] ?? '32', gitVersion: v, gitCommit: 'shoal-fake', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z', goVersion: 'go1.23', compiler: 'gc', platform: 'linux/amd64' }
}

const rw = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']
function res(name: string, singular: string, kind: string, namespaced: boolean, verbs = rw, extra: Obj = {}): Obj {
  return { name, singularName: singular, namespaced, kind, verbs, ...extra }
}

export function coreResources(): Obj {
  return {
    kind: 'APIResourceList',
    groupVersion: 'v1',
    resources: [
      res('namespaces', 'namespace', 'Namespace', false, rw, { shortNames: ['ns'] }),
      res('nodes', 'node', 'Node', false, rw, { shortNames: ['no'] }),
      res('nodes/status', '', 'Node', false, ['get', 'patch', 'update']),
      res('events', 'event', 'Event', true, rw, { shortNames: ['ev'] }),
      res('pods', 'pod', 'Pod', true, rw, { shortNames: ['po'], categories: ['all'] }),
      res('pods/eviction', '', 'Eviction', true, ['create'], { group: 'policy', version: 'v1' }),
      res('pods/status', '', 'Pod', true, ['get', 'patch', 'update']),
    ],
  }
}

export function appsResources(): Obj {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: 'apps/v1',
    resources: [
      res('daemonsets', 'daemonset', 'DaemonSet', true, rw, { shortNames: ['ds'], categories: ['all'] }),
      res('replicasets', 'replicaset', 'ReplicaSet', true, rw, { shortNames: ['rs'], categories: ['all'] }),
    ],
  }
}

export function policyResources(): Obj {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: 'policy/v1',
    resources: [res('poddisruptionbudgets', 'poddisruptionbudget', 'PodDisruptionBudget', true, rw, { shortNames: ['pdb'] })],
  }
}

export function apiGroupList(): Obj {
  const g = (name: string) => ({ name, versions: [{ groupVersion: `${name}/v1`, version: 'v1' }], preferredVersion: { groupVersion: `${name}/v1`, version: 'v1' } })
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [g('apps'), g('policy')] }
}
