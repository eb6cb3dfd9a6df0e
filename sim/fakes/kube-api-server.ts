/**
 * FakeKubeApiServer: a small Kubernetes API server of our own, faithful enough that the
 * real `kubectl` runs `get nodes`, `cordon`, `uncordon` and `drain` against it.
 *
 * What it serves: legacy discovery (/api, /apis, /api/v1, /apis/{apps,policy}/v1, /version),
 * Nodes (get, list, Table output, strategic/merge PATCH, PUT), Pods (get, list with
 * fieldSelector spec.nodeName / labelSelector, delete), DaemonSets (get), ReplicaSets (get),
 * PodDisruptionBudgets (list, get; status computed live like the disruption controller),
 * and the Eviction subresource: 201 and the pod is deleted, or 429 TooManyRequests while a
 * PDB that selects the pod has no disruptions left — the shapes and messages of the real
 * API server. core/v1 Events: create (validated like the API server: 422 Invalid), get,
 * merge-patch (a recorder bumping `count`), list per namespace and across namespaces with
 * the involvedObject field selectors `kubectl describe node` sends, and Table output for
 * `kubectl get events`.
 *
 * Test hooks: add/remove objects, flip node readiness, inject faults (status codes or
 * hangs on matching requests), a request log and events ('request', 'evicted',
 * 'eviction-denied') to wait on. Optional: bearer-token auth, TLS, and rescheduling of
 * evicted ReplicaSet pods onto another schedulable node (as a real ReplicaSet would).
 *
 * Used by the health tests, the live demo and the upgrade-wave tests.
 *
 * This file holds the object store (nodes, pods, PDBs, Events, owners; resourceVersions;
 * graceful termination and ReplicaSet rescheduling), the test hooks and the routing. The
 * rest, one idea a file: kube-types (specs, options), kube-http (one request: auth, faults,
 * the log), kube-discovery, kube-patch (merge patch), kube-eviction (PDB status and the
 * Eviction subresource), kube-events (core/v1 Events), kube-selectors (field and label
 * selectors on lists), kube-shapes (Status, List, Table).
 */
import { EventEmitter } from 'node:events'
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttps } from 'node:https'
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { FakeKubeOptions, FakeNodeSpec, FakePdbSpec, FakePodSpec, Fault, Obj, RequestRecord } from './kube-types.js'
import { list, nodeConditions, nodeTable, notFound, podTable, status } from './kube-shapes.js'
import { discovery } from './kube-discovery.js'
import { applyMergePatch, parsePatch } from './kube-patch.js'
import { createEvent, listEvents } from './kube-events.js'
import { evict, pdbStatus } from './kube-eviction.js'
import { handle } from './kube-http.js'
import { filterLabels, selectPods } from './kube-selectors.js'

export type { FakeKubeOptions, FakeNodeSpec, FakePdbSpec, FakePodSpec, Fault, RequestRecord } from './kube-types.js'


export class FakeKubeApiServer extends EventEmitter {
  readonly nodes = new Map<string, Obj>()
  readonly pods = new Map<string, Obj>()
  readonly pdbs = new Map<string, Obj>()
  /** core/v1 Events by `namespace/name`. */
  readonly events = new Map<string, Obj>()
  readonly daemonsets = new Map<string, Obj>()
  readonly replicasets = new Map<string, Obj>()
  readonly requests: RequestRecord[] = []
  readonly evictions: { pod: string; status: number }[] = []
  private faults: (Fault & { left: number })[] = []
  private server?: Server
  private readonly hung = new Set<ServerResponse>()
  /** Pods with graceful termination (FakePodSpec.terminatingMs), by key, and their pending removals. */
  private readonly grace = new Map<string, number>()
  private readonly terminating = new Set<ReturnType<typeof setTimeout>>()
  private rv = 1
  private readonly version: string
  url = ''

  constructor(readonly options: FakeKubeOptions = {}) {
    super()
    this.version = options.version ?? 'v1.32.0'
  }

  /** Listens on 127.0.0.1, or host (a free port unless given); returns the base URL. Idempotent. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    if (this.server) return this.url
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res)
    this.server = this.options.tls ? createHttps({ key: this.options.tls.key, cert: this.options.tls.cert }, handler) : createHttp(handler)
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject)
      this.server!.listen(port, host, () => resolve())
    })
    const a = this.server.address() as AddressInfo
    this.url = `${this.options.tls ? 'https' : 'http'}://${host}:${a.port}`
    return this.url
  }

  async close(): Promise<void> {
    const s = this.server
    if (!s) return
    this.server = undefined
    for (const t of this.terminating) clearTimeout(t)
    this.terminating.clear()
    for (const r of this.hung) r.destroy()
    this.hung.clear()
    s.closeAllConnections?.()
    await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  /** A kubeconfig (YAML is a superset of JSON) that points kubectl or our client here. */
  kubeconfig(opts: { caPem?: string } = {}): string {
    const cluster: Obj = { server: this.url }
    if (opts.caPem) cluster['certificate-authority-data'] = Buffer.from(opts.caPem).toString('base64')
    const user: Obj = this.options.token ? { token: this.options.token } : {}
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster }],
      users: [{ name: 'fake', user }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    }, null, 2)
  }

  // ------------------------------------------------------------------ test hooks

  addNode(spec: FakeNodeSpec): Obj {
    const node = {
      kind: 'Node',
      apiVersion: 'v1',
      metadata: this.meta(spec.name, undefined, { 'kubernetes.io/hostname': spec.name, 'kubernetes.io/os': 'linux', ...spec.labels }),
      spec: spec.unschedulable ? { unschedulable: true } : {},
      status: {
        conditions: nodeConditions(spec.ready ?? true),
        nodeInfo: { kubeletVersion: this.version, osImage: 'shoal', containerRuntimeVersion: 'containerd://1.7', kernelVersion: '6.1', architecture: 'amd64', operatingSystem: 'linux' },
        addresses: [{ type: 'Hostname', address: spec.name }],
      },
    }
    this.nodes.set(spec.name, node)
    return node
  }

  setNodeReady(name: string, ready: boolean, reason = ready ? 'KubeletReady' : 'KubeletNotReady'): void {
    const n = this.mustNode(name)
    n.status.conditions = nodeConditions(ready, reason)
    this.touch(n)
  }

  setNodeCondition(name: string, type: string, status: 'True' | 'False' | 'Unknown', message = ''): void {
    const n = this.mustNode(name)
    const now = new Date().toISOString()
    const c = n.status.conditions.find((x: Obj) => x.type === type)
    if (c) Object.assign(c, { status, message, lastTransitionTime: now })
    else n.status.conditions.push({ type, status, reason: type, message, lastHeartbeatTime: now, lastTransitionTime: now })
    this.touch(n)
  }

  addPod(spec: FakePodSpec): Obj {
    const ns = spec.namespace ?? 'default'
    const annotations: Record<string, string> = spec.mirror ? { 'kubernetes.io/config.mirror': randomUUID().replace(/-/g, ''), 'kubernetes.io/config.source': 'file' } : {}
    const meta = this.meta(spec.name, ns, spec.labels ?? {})
    if (Object.keys(annotations).length) meta.annotations = annotations
    if (spec.owner) {
      const apiVersion = ['DaemonSet', 'ReplicaSet', 'StatefulSet', 'Deployment'].includes(spec.owner.kind) ? 'apps/v1' : 'v1'
      meta.ownerReferences = [{ apiVersion, kind: spec.owner.kind, name: spec.owner.name, uid: this.ownerUid(spec.owner, ns), controller: true, blockOwnerDeletion: true }]
    }
    if (spec.mirror && !spec.owner) meta.ownerReferences = [{ apiVersion: 'v1', kind: 'Node', name: spec.node, uid: this.nodes.get(spec.node)?.metadata.uid ?? randomUUID(), controller: true }]
    const ready = spec.ready ?? true
    const pod = {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: meta,
      spec: { nodeName: spec.node, containers: [{ name: 'main', image: 'registry.local/app:1' }], restartPolicy: 'Always', terminationGracePeriodSeconds: spec.terminatingMs ? Math.ceil(spec.terminatingMs / 1000) : 30 },
      status: {
        phase: spec.phase ?? 'Running',
        conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: meta.creationTimestamp }],
        podIP: '10.244.0.' + ((this.pods.size % 250) + 2),
        startTime: meta.creationTimestamp,
      },
    }
    this.pods.set(`${ns}/${spec.name}`, pod)
    if (spec.terminatingMs) this.grace.set(`${ns}/${spec.name}`, spec.terminatingMs)
    else this.grace.delete(`${ns}/${spec.name}`)
    return pod
  }

  removePod(namespace: string, name: string): boolean {
    return this.pods.delete(`${namespace}/${name}`)
  }

  setPodReady(namespace: string, name: string, ready: boolean): void {
    const p = this.pods.get(`${namespace}/${name}`)
    if (!p) throw new Error(`no pod ${namespace}/${name}`)
    p.status.conditions = [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: new Date().toISOString() }]
    this.touch(p)
  }

  /** Sets a pod's graceful termination (FakePodSpec.terminatingMs; 0: gone at once). */
  setTerminating(namespace: string, name: string, ms: number): void {
    const p = this.pods.get(`${namespace}/${name}`)
    if (!p) throw new Error(`no pod ${namespace}/${name}`)
    if (ms > 0) this.grace.set(`${namespace}/${name}`, ms)
    else this.grace.delete(`${namespace}/${name}`)
    p.spec.terminationGracePeriodSeconds = ms > 0 ? Math.ceil(ms / 1000) : 30
  }

  addPdb(spec: FakePdbSpec): Obj {
    const ns = spec.namespace ?? 'default'
    const pdbSpec: Obj = { selector: spec.selector }
    if (spec.minAvailable !== undefined) pdbSpec.minAvailable = spec.minAvailable
    if (spec.maxUnavailable !== undefined) pdbSpec.maxUnavailable = spec.maxUnavailable
    const pdb = { kind: 'PodDisruptionBudget', apiVersion: 'policy/v1', metadata: this.meta(spec.name, ns, {}), spec: pdbSpec, status: {} }
    this.pdbs.set(`${ns}/${spec.name}`, pdb)
    return pdb
  }

  /** Injects a fault for the next matching request(s). */
  fault(f: Fault): void {
    this.faults.push({ ...f, left: f.times ?? 1 })
  }
  clearFaults(): void {
    this.faults = []
  }

  /** Pods on a node, as the API lists them. */
  podsOn(node: string): Obj[] {
    return [...this.pods.values()].filter((p) => p.spec.nodeName === node)
  }

  pdbStatus(pdb: Obj): Obj {
    return pdbStatus(pdb, this.pods.values())
  }

  // ------------------------------------------------------------------ HTTP

  private handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const route = (method: string, path: string, q: URLSearchParams, body: string, headers: IncomingMessage['headers']) => this.route(method, path, q, body, headers)
    // Getters: read after the body arrives, as before the split (clearFaults() replaces the list).
    const self = this
    const ctx = {
      get token() { return self.options.token },
      get faults() { return self.faults },
      hung: this.hung,
      requests: this.requests,
      emit: (e: string, a: unknown) => this.emit(e, a),
      route,
    }
    return handle(ctx, req, res)
  }

  private route(method: string, path: string, q: URLSearchParams, body: string, headers: IncomingMessage['headers']): [number, unknown] {
    const accept = String(headers.accept ?? '')
    const seg = path.split('/').filter(Boolean)
    if (method === 'GET') {
      const d = discovery(path, this.version, this.url)
      if (d) return d
    }
    // /api/v1/nodes[/name]
    if (seg[0] === 'api' && seg[1] === 'v1' && seg[2] === 'nodes') {
      const name = seg[3]
      if (!name && method === 'GET') {
        const items = filterLabels([...this.nodes.values()], q.get('labelSelector'))
        if (accept.includes('as=Table')) return [200, nodeTable(items, this.rv)]
        return [200, list('NodeList', 'v1', items, this.rv)]
      }
      if (name && seg.length === 4) {
        const n = this.nodes.get(name)
        if (!n) throw notFound('nodes', name)
        if (method === 'GET') return [200, accept.includes('as=Table') ? nodeTable([n], this.rv) : n]
        if (method === 'PATCH') {
          applyMergePatch(n, parsePatch(body, headers['content-type']))
          this.touch(n)
          return [200, n]
        }
        if (method === 'PUT') {
          const next = JSON.parse(body)
          next.metadata = { ...n.metadata, labels: next.metadata?.labels ?? n.metadata.labels, annotations: next.metadata?.annotations }
          next.status = n.status
          this.nodes.set(name, next)
          this.touch(next)
          return [200, next]
        }
      }
    }
    // /api/v1/events (all namespaces) and /api/v1/namespaces/NS/events[/name]
    if (seg[0] === 'api' && seg[1] === 'v1' && seg[2] === 'events' && seg.length === 3 && method === 'GET') return listEvents(this.events, this.rv, undefined, q, accept)
    if (seg[0] === 'api' && seg[1] === 'v1' && seg[2] === 'namespaces' && seg[4] === 'events') {
      const ns = seg[3]!
      const name = seg[5]
      if (!name && method === 'GET') return listEvents(this.events, this.rv, ns, q, accept)
      if (!name && method === 'POST') return this.createEvent(ns, body)
      if (name && seg.length === 6) {
        const e = this.events.get(`${ns}/${name}`)
        if (!e) throw notFound('events', name)
        if (method === 'GET') return [200, e]
        if (method === 'PATCH') {
          applyMergePatch(e, parsePatch(body, headers['content-type']))
          this.touch(e)
          return [200, e]
        }
        if (method === 'DELETE') {
          this.events.delete(`${ns}/${name}`)
          return [200, status(200, '', '')]
        }
      }
    }
    // /api/v1/pods (all namespaces) and /api/v1/namespaces/NS/pods[/name[/eviction]]
    if (seg[0] === 'api' && seg[1] === 'v1' && seg[2] === 'pods' && seg.length === 3 && method === 'GET') {
      const items = selectPods(this.pods.values(), undefined, q)
      return [200, accept.includes('as=Table') ? podTable(items, this.rv) : list('PodList', 'v1', items, this.rv)]
    }
    if (seg[0] === 'api' && seg[1] === 'v1' && seg[2] === 'namespaces' && seg[4] === 'pods') {
      const ns = seg[3]!
      const name = seg[5]
      if (!name && method === 'GET') {
        const items = selectPods(this.pods.values(), ns, q)
        return [200, accept.includes('as=Table') ? podTable(items, this.rv) : list('PodList', 'v1', items, this.rv)]
      }
      if (name && seg.length === 6) {
        const p = this.pods.get(`${ns}/${name}`)
        if (!p) throw notFound('pods', name)
        if (method === 'GET') return [200, p]
        if (method === 'DELETE') {
          this.deletePod(p)
          return [200, p]
        }
      }
      if (name && seg[6] === 'eviction' && method === 'POST') return this.evict(ns, name, body)
    }
    // apps/v1 daemonsets and replicasets, policy/v1 PDBs
    const groupObj = (map: Map<string, Obj>, resource: string, listKind: string, apiVersion: string): [number, unknown] | undefined => {
      if (seg[3] === resource && seg.length === 4 && method === 'GET') return [200, list(listKind, apiVersion, [...map.values()].map((x) => this.withStatus(x)), this.rv)]
      if (seg[3] === 'namespaces' && seg[5] === resource && method === 'GET') {
        const ns = seg[4]!
        if (seg.length === 6) return [200, list(listKind, apiVersion, [...map.values()].filter((x) => x.metadata.namespace === ns).map((x) => this.withStatus(x)), this.rv)]
        if (seg.length === 7) {
          const o = map.get(`${ns}/${seg[6]}`)
          if (!o) throw notFound(resource, seg[6]!)
          return [200, this.withStatus(o)]
        }
      }
      return undefined
    }
    if (seg[0] === 'apis' && seg[1] === 'apps' && seg[2] === 'v1') {
      const r = groupObj(this.daemonsets, 'daemonsets', 'DaemonSetList', 'apps/v1') ?? groupObj(this.replicasets, 'replicasets', 'ReplicaSetList', 'apps/v1')
      if (r) return r
    }
    if (seg[0] === 'apis' && seg[1] === 'policy' && seg[2] === 'v1') {
      const r = groupObj(this.pdbs, 'poddisruptionbudgets', 'PodDisruptionBudgetList', 'policy/v1')
      if (r) return r
    }
    throw Object.assign(new Error(`the server could not find the requested resource (${method} ${path})`), { status: 404, reason: 'NotFound' })
  }

  private createEvent(ns: string, body: string): [number, unknown] {
    return createEvent({ events: this.events, meta: (n, s, l) => this.meta(n, s, l), emit: (e, a) => this.emit(e, a) }, ns, body)
  }

  private evict(ns: string, name: string, body: string): [number, unknown] {
    return evict({ pods: this.pods, pdbs: this.pdbs, evictions: this.evictions, deletePod: (p) => this.deletePod(p), emit: (e, a) => this.emit(e, a) }, ns, name, body)
  }

  private deletePod(p: Obj): void {
    const key = `${p.metadata.namespace}/${p.metadata.name}`
    if (p.metadata.deletionTimestamp) return // already terminating
    const graceMs = this.grace.get(key) ?? 0
    if (graceMs > 0) {
      // Terminating: the object stays until its containers have stopped; its controller
      // replaces it at once (below).
      p.metadata.deletionTimestamp = new Date(Date.now() + graceMs).toISOString()
      p.metadata.deletionGracePeriodSeconds = Math.ceil(graceMs / 1000)
      this.touch(p)
      const t = setTimeout(() => {
        this.terminating.delete(t)
        if (this.pods.get(key) === p) {
          this.pods.delete(key)
          this.grace.delete(key)
          this.rv++
          this.emit('terminated', { pod: key, node: p.spec.nodeName })
        }
      }, graceMs)
      this.terminating.add(t)
    } else {
      this.pods.delete(key)
      this.grace.delete(key)
    }
    this.rv++
    const owner = p.metadata.ownerReferences?.find((o: Obj) => o.controller)
    if (this.options.reschedule && owner?.kind === 'ReplicaSet') {
      const mine = (n: string) => [...this.pods.values()].filter((x) => x.spec.nodeName === n && !x.metadata.deletionTimestamp && x.metadata.ownerReferences?.some((o: Obj) => o.controller && o.kind === 'ReplicaSet' && o.name === owner.name)).length
      const eligible = [...this.nodes.values()].filter(
        (n) => n.metadata.name !== p.spec.nodeName && !n.spec.unschedulable && n.status.conditions.some((c: Obj) => c.type === 'Ready' && c.status === 'True'),
      )
      // Spread like the scheduler: the eligible node with the fewest pods of this ReplicaSet (first on a tie).
      let target: Obj | undefined
      for (const n of eligible) if (!target || mine(n.metadata.name) < mine(target.metadata.name)) target = n
      if (target) {
        this.addPod({
          name: `${owner.name}-${randomUUID().slice(0, 5)}`,
          namespace: p.metadata.namespace,
          node: target.metadata.name,
          labels: p.metadata.labels,
          owner: { kind: 'ReplicaSet', name: owner.name },
          ...(graceMs > 0 ? { terminatingMs: graceMs } : {}),
        })
      }
    }
  }

  private withStatus(o: Obj): Obj {
    return o.kind === 'PodDisruptionBudget' ? { ...o, status: this.pdbStatus(o) } : o
  }


  private meta(name: string, namespace: string | undefined, labels: Record<string, string>): Obj {
    const m: Obj = { name, uid: randomUUID(), resourceVersion: String(++this.rv), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), labels }
    if (namespace) m.namespace = namespace
    return m
  }

  private ownerUid(owner: { kind: string; name: string }, ns: string): string {
    const map = owner.kind === 'DaemonSet' ? this.daemonsets : owner.kind === 'ReplicaSet' ? this.replicasets : undefined
    if (!map) return randomUUID()
    const key = `${ns}/${owner.name}`
    let o = map.get(key)
    if (!o) {
      o = { kind: owner.kind, apiVersion: 'apps/v1', metadata: this.meta(owner.name, ns, {}), spec: {}, status: {} }
      map.set(key, o)
    }
    return o.metadata.uid
  }

  private mustNode(name: string): Obj {
    const n = this.nodes.get(name)
    if (!n) throw new Error(`no node ${name}`)
    return n
  }

  private touch(o: Obj): void {
    o.metadata.resourceVersion = String(++this.rv)
  }
}
