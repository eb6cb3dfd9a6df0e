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
 */
import { EventEmitter } from 'node:events'
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttps } from 'node:https'
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { parseSelectorString, selects, type LabelSelector } from '../../agent/health/label-selector.js'

type Obj = Record<string, any>

export interface FakeNodeSpec {
  name: string
  ready?: boolean
  unschedulable?: boolean
  labels?: Record<string, string>
}

export interface FakePodSpec {
  name: string
  namespace?: string
  node: string
  labels?: Record<string, string>
  /** Controller owner: kind + name ("ReplicaSet"/"web-6d4b", "DaemonSet"/"proxy", "StatefulSet"/...). Absent: a bare pod. */
  owner?: { kind: string; name: string }
  /** A static pod's API mirror (annotation kubernetes.io/config.mirror). */
  mirror?: boolean
  ready?: boolean
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed'
  /**
   * Graceful termination: once deleted or evicted, the pod stays (with its
   * deletionTimestamp, no longer counted by a PDB) this long before it is gone, as its
   * containers shut down. Default 0: gone at once. A ReplicaSet's replacement (reschedule)
   * is created at once and inherits it.
   */
  terminatingMs?: number
}

export interface FakePdbSpec {
  name: string
  namespace?: string
  selector: LabelSelector
  minAvailable?: number | string
  maxUnavailable?: number | string
}

export interface Fault {
  /** Which requests: method and a path prefix (query excluded). */
  method?: string
  pathPrefix: string
  /** Answer with this status (a Status body) ... */
  status?: number
  /** ... or never answer (the socket stays open until the client gives up or the server closes). */
  hang?: boolean
  /** How many matching requests to hit; default 1. */
  times?: number
}

export interface FakeKubeOptions {
  /** Require `Authorization: Bearer <token>`. */
  token?: string
  /** Serve HTTPS with this key/cert (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer }
  /**
   * Recreate evicted ReplicaSet pods, Ready, on another schedulable Ready node — the one
   * with the fewest pods of that ReplicaSet (the scheduler's default spreading). Default false.
   */
  reschedule?: boolean
  /** Kubernetes version reported by /version and the node table. */
  version?: string
}

export interface RequestRecord {
  method: string
  path: string
  query: string
  status: number
}

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

  /** The disruption controller's view of a PDB, computed now. */
  pdbStatus(pdb: Obj): Obj {
    const ns = pdb.metadata.namespace
    const matching = [...this.pods.values()].filter((p) => p.metadata.namespace === ns && selects(pdb.spec.selector, p.metadata.labels) && !p.metadata.deletionTimestamp)
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

  // ------------------------------------------------------------------ HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x')
    const path = u.pathname.replace(/\/+$/, '') || '/'
    const method = req.method ?? 'GET'
    const record: RequestRecord = { method, path, query: u.search, status: 0 }
    const send = (status: number, body: unknown, contentType = 'application/json') => {
      record.status = status
      this.requests.push(record)
      this.emit('request', record)
      const text = JSON.stringify(body)
      res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' })
      res.end(text)
    }
    try {
      const body = await readBody(req)
      if (this.options.token && req.headers.authorization !== `Bearer ${this.options.token}`) {
        return send(401, status(401, 'Unauthorized', 'Unauthorized'))
      }
      const f = this.faults.find((x) => x.left > 0 && path.startsWith(x.pathPrefix) && (!x.method || x.method === method))
      if (f) {
        f.left--
        if (f.hang) {
          record.status = -1
          this.requests.push(record)
          this.emit('request', record)
          this.hung.add(res)
          res.once('close', () => this.hung.delete(res))
          return
        }
        return send(f.status ?? 500, status(f.status ?? 500, 'InternalError', `injected fault on ${method} ${path}`))
      }
      const r = this.route(method, path, u.searchParams, body, req.headers)
      return send(r[0], r[1])
    } catch (err) {
      const e = err as Error & { status?: number; reason?: string }
      return send(e.status ?? 500, status(e.status ?? 500, e.reason ?? 'InternalError', e.message))
    }
  }

  private route(method: string, path: string, q: URLSearchParams, body: string, headers: IncomingMessage['headers']): [number, unknown] {
    const accept = String(headers.accept ?? '')
    const seg = path.split('/').filter(Boolean)
    if (method === 'GET') {
      if (path === '/version') return [200, versionInfo(this.version)]
      if (path === '/api') return [200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.url.replace(/^https?:\/\//, '') }] }]
      if (path === '/apis') return [200, apiGroupList()]
      if (path === '/api/v1') return [200, coreResources()]
      if (path === '/apis/apps/v1') return [200, appsResources()]
      if (path === '/apis/policy/v1') return [200, policyResources()]
      if (path === '/healthz' || path === '/readyz' || path === '/livez') return [200, 'ok']
    }
    // /api/v1/nodes[/name]
    if (seg[0] === 'api' && seg[1] === 'v1' && seg[2] === 'nodes') {
      const name = seg[3]
      if (!name && method === 'GET') {
        const items = this.filterLabels([...this.nodes.values()], q.get('labelSelector'))
        if (accept.includes('as=Table')) return [200, this.nodeTable(items)]
        return [200, list('NodeList', 'v1', items, this.rv)]
      }
      if (name && seg.length === 4) {
        const n = this.nodes.get(name)
        if (!n) throw notFound('nodes', name)
        if (method === 'GET') return [200, accept.includes('as=Table') ? this.nodeTable([n]) : n]
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
    if (seg[0] === 'api' && seg[1] === 'v1' && seg[2] === 'events' && seg.length === 3 && method === 'GET') return this.listEvents(undefined, q, accept)
    if (seg[0] === 'api' && seg[1] === 'v1' && seg[2] === 'namespaces' && seg[4] === 'events') {
      const ns = seg[3]!
      const name = seg[5]
      if (!name && method === 'GET') return this.listEvents(ns, q, accept)
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
      const items = this.listPods(undefined, q)
      return [200, accept.includes('as=Table') ? this.podTable(items) : list('PodList', 'v1', items, this.rv)]
    }
    if (seg[0] === 'api' && seg[1] === 'v1' && seg[2] === 'namespaces' && seg[4] === 'pods') {
      const ns = seg[3]!
      const name = seg[5]
      if (!name && method === 'GET') {
        const items = this.listPods(ns, q)
        return [200, accept.includes('as=Table') ? this.podTable(items) : list('PodList', 'v1', items, this.rv)]
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

  /** POST an Event: the checks of the API server's ValidateEvent that a recorder can trip. */
  private createEvent(ns: string, body: string): [number, unknown] {
    let e: Obj
    try {
      e = JSON.parse(body || '{}')
    } catch {
      throw Object.assign(new Error('Event body is not JSON'), { status: 400, reason: 'BadRequest' })
    }
    const problems: string[] = []
    if (e.kind !== 'Event' || e.apiVersion !== 'v1') problems.push('kind/apiVersion: must be v1 Event')
    const name = e.metadata?.name ?? (e.metadata?.generateName ? `${e.metadata.generateName}${randomUUID().slice(0, 5)}` : undefined)
    if (!name) problems.push('metadata.name: Required value: name or generateName is required')
    if (e.metadata?.namespace !== undefined && e.metadata.namespace !== ns) problems.push(`metadata.namespace: Invalid value: "${e.metadata.namespace}": does not match the namespace of the request`)
    const io = e.involvedObject ?? {}
    if (!io.kind || !io.name) problems.push('involvedObject: Required value: kind and name')
    if (io.namespace && io.namespace !== ns) problems.push(`involvedObject.namespace: Invalid value: "${io.namespace}": does not match event.namespace`)
    if (e.type !== undefined && e.type !== 'Normal' && e.type !== 'Warning') problems.push(`type: Unsupported value: "${e.type}": supported values: "Normal", "Warning"`)
    if (typeof e.reason === 'string' && e.reason.length > 128) problems.push('reason: Too long: may not be more than 128 bytes')
    if (typeof e.message === 'string' && e.message.length > 4096) problems.push('message: Too long: may not be more than 4096 bytes')
    if (problems.length) {
      const err = status(422, 'Invalid', `Event "${name ?? ''}" is invalid: ${problems.join(', ')}`)
      return [422, err]
    }
    const key = `${ns}/${name}`
    if (this.events.has(key)) return [409, status(409, 'AlreadyExists', `events "${name}" already exists`)]
    const stored: Obj = { ...e, metadata: { ...this.meta(name!, ns, e.metadata?.labels ?? {}), ...(e.metadata?.annotations ? { annotations: e.metadata.annotations } : {}) } }
    delete stored.metadata.labels
    stored.count ??= 1
    stored.firstTimestamp ??= stored.metadata.creationTimestamp
    stored.lastTimestamp ??= stored.firstTimestamp
    this.events.set(key, stored)
    this.emit('event', stored)
    return [201, stored]
  }

  private listEvents(ns: string | undefined, q: URLSearchParams, accept: string): [number, unknown] {
    let items = [...this.events.values()].filter((e) => !ns || e.metadata.namespace === ns)
    for (const t of parseSelectorString(q.get('fieldSelector'))) {
      const get = (e: Obj): string => {
        const [a, b] = t.key.split('.')
        if (a === 'involvedObject' && b) return String(e.involvedObject?.[b] ?? '')
        if (a === 'metadata' && b) return String(e.metadata?.[b] ?? '')
        return String(e[t.key] ?? '')
      }
      items = items.filter((e) => (get(e) === t.value) === (t.op === '='))
    }
    items.sort((a, b) => String(a.lastTimestamp).localeCompare(String(b.lastTimestamp)))
    if (accept.includes('as=Table')) return [200, this.eventTable(items)]
    return [200, list('EventList', 'v1', items, this.rv)]
  }

  private eventTable(items: Obj[]): Obj {
    return table(
      [['Last Seen', 'string', ''], ['Type', 'string', ''], ['Reason', 'string', ''], ['Object', 'string', ''], ['Message', 'string', '']],
      items.map((e) => ({ cells: [age(e.lastTimestamp ?? e.metadata.creationTimestamp), e.type ?? 'Normal', e.reason ?? '', `${String(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`, e.message ?? ''], obj: e })),
      this.rv,
    )
  }

  private evict(ns: string, name: string, body: string): [number, unknown] {
    const p = this.pods.get(`${ns}/${name}`)
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
    const budgets = [...this.pdbs.values()].filter((b) => b.metadata.namespace === ns && selects(b.spec.selector, p.metadata.labels))
    if (budgets.length > 1) throw Object.assign(new Error('This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.'), { status: 500 })
    const podReady = p.status.conditions?.some((c: Obj) => c.type === 'Ready' && c.status === 'True')
    if (running && podReady && budgets.length === 1) {
      const st = this.pdbStatus(budgets[0]!)
      if (st.disruptionsAllowed < 1) {
        this.evictions.push({ pod: key, status: 429 })
        this.emit('eviction-denied', { pod: key, pdb: budgets[0]!.metadata.name })
        const s = status(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.")
        s.details = { causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${budgets[0]!.metadata.name} needs ${st.desiredHealthy} healthy pods and has ${st.currentHealthy} currently` }] }
        return [429, s]
      }
    }
    this.deletePod(p)
    this.evictions.push({ pod: key, status: 201 })
    this.emit('evicted', { pod: key, node: p.spec.nodeName })
    return [201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 }]
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

  private listPods(ns: string | undefined, q: URLSearchParams): Obj[] {
    let items = [...this.pods.values()].filter((p) => !ns || p.metadata.namespace === ns)
    for (const t of parseSelectorString(q.get('fieldSelector'))) {
      const get = (p: Obj): string | undefined =>
        t.key === 'spec.nodeName' ? p.spec.nodeName : t.key === 'metadata.name' ? p.metadata.name : t.key === 'metadata.namespace' ? p.metadata.namespace : t.key === 'status.phase' ? p.status.phase : undefined
      items = items.filter((p) => (get(p) === t.value) === (t.op === '='))
    }
    return this.filterLabels(items, q.get('labelSelector'))
  }

  private filterLabels(items: Obj[], sel: string | null): Obj[] {
    const terms = parseSelectorString(sel)
    return items.filter((o) => terms.every((t) => ((o.metadata.labels ?? {})[t.key] === t.value) === (t.op === '=')))
  }

  private withStatus(o: Obj): Obj {
    return o.kind === 'PodDisruptionBudget' ? { ...o, status: this.pdbStatus(o) } : o
  }

  private nodeTable(items: Obj[]): Obj {
    return table(
      [['Name', 'string', 'name'], ['Status', 'string', ''], ['Roles', 'string', ''], ['Age', 'string', ''], ['Version', 'string', '']],
      items.map((n) => {
        const ready = n.status.conditions.find((c: Obj) => c.type === 'Ready')?.status === 'True'
        const st = (ready ? 'Ready' : 'NotReady') + (n.spec.unschedulable ? ',SchedulingDisabled' : '')
        return { cells: [n.metadata.name, st, '<none>', age(n.metadata.creationTimestamp), n.status.nodeInfo?.kubeletVersion ?? ''], obj: n }
      }),
      this.rv,
    )
  }

  private podTable(items: Obj[]): Obj {
    return table(
      [['Name', 'string', 'name'], ['Ready', 'string', ''], ['Status', 'string', ''], ['Restarts', 'string', ''], ['Age', 'string', '']],
      items.map((p) => {
        const ready = p.status.conditions?.some((c: Obj) => c.type === 'Ready' && c.status === 'True')
        return { cells: [p.metadata.name, ready ? '1/1' : '0/1', p.status.phase, '0', age(p.metadata.creationTimestamp)], obj: p }
      }),
      this.rv,
    )
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

// ------------------------------------------------------------------ shapes

function nodeConditions(ready: boolean, reason = ready ? 'KubeletReady' : 'KubeletNotReady'): Obj[] {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  const c = (type: string, status: string, r: string, message: string) => ({ type, status, lastHeartbeatTime: now, lastTransitionTime: now, reason: r, message })
  return [
    c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    c('Ready', ready ? 'True' : 'False', reason, ready ? 'kubelet is posting ready status' : 'container runtime network not ready'),
  ]
}

function status(code: number, reason: string, message: string): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }
}

function notFound(resource: string, name: string): Error {
  return Object.assign(new Error(`${resource} "${name}" not found`), { status: 404, reason: 'NotFound' })
}

function list(kind: string, apiVersion: string, items: Obj[], rv: number): Obj {
  return { kind, apiVersion, metadata: { resourceVersion: String(rv) }, items }
}

function table(cols: [string, string, string][], rows: { cells: unknown[]; obj: Obj }[], rv: number): Obj {
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

function age(ts: string): string {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000))
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h`
}

function versionInfo(v: string): Obj {
  const m = /^v(\d+)\.(\d+)/.exec(v)
  return { major: m?.[1] ?? '1', minor: m?.[2] ?? '32', gitVersion: v, gitCommit: 'shoal-fake', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z', goVersion: 'go1.23', compiler: 'gc', platform: 'linux/amd64' }
}

const rw = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']
function res(name: string, singular: string, kind: string, namespaced: boolean, verbs = rw, extra: Obj = {}): Obj {
  return { name, singularName: singular, namespaced, kind, verbs, ...extra }
}

function coreResources(): Obj {
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

function appsResources(): Obj {
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

function policyResources(): Obj {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: 'policy/v1',
    resources: [res('poddisruptionbudgets', 'poddisruptionbudget', 'PodDisruptionBudget', true, rw, { shortNames: ['pdb'] })],
  }
}

function apiGroupList(): Obj {
  const g = (name: string) => ({ name, versions: [{ groupVersion: `${name}/v1`, version: 'v1' }], preferredVersion: { groupVersion: `${name}/v1`, version: 'v1' } })
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [g('apps'), g('policy')] }
}

function parsePatch(body: string, contentType: string | undefined): Obj {
  const ct = String(contentType ?? '')
  if (!ct.includes('merge-patch+json')) throw Object.assign(new Error(`unsupported patch type ${ct}`), { status: 415, reason: 'UnsupportedMediaType' })
  try {
    return JSON.parse(body)
  } catch {
    throw Object.assign(new Error('patch body is not JSON'), { status: 400, reason: 'BadRequest' })
  }
}

/** RFC 7386 merge patch (strategic merge patch behaves the same for the fields kubectl patches here). */
function applyMergePatch(target: Obj, patch: Obj): void {
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$setElementOrder' || k.startsWith('$')) continue
    if (v === null) delete target[k]
    else if (typeof v === 'object' && !Array.isArray(v)) {
      // RFC 7386: a patch object merges into the target's object, or into {} when there is
      // none (so its nulls delete rather than being stored as values).
      if (typeof target[k] !== 'object' || target[k] === null || Array.isArray(target[k])) target[k] = {}
      applyMergePatch(target[k], v as Obj)
    } else target[k] = v
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > 4 << 20) reject(Object.assign(new Error('request body too large'), { status: 413, reason: 'RequestEntityTooLarge' }))
      else chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}
