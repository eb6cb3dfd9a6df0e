/**
 * The agent's HTTP API (node:http): ask any agent about the whole cluster. JSON answers,
 * an NDJSON change stream for watchers, errors as `{ error: { code, message } }` with a
 * 4xx/5xx status. Described by ./openapi.ts, served at GET /openapi.json.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import type { MemberView, MeshEvent } from '../protocol/mesh-types.js'
import { NodeId, type NodeRecordBody } from '../protocol/node-record.js'
import { silentLogger, type Logger } from '../protocol/ports.js'
import { meshFingerprints } from '../fingerprint/mesh-fingerprints.js'
import { PROTOCOL_VERSION } from '../protocol/frame.js'
import { SOFTWARE_VERSION } from '../protocol/software-version.js'
import { clusterSummary, nodeDetail, nodeSummary } from './node-summary.js'
import { readCapped } from './read-capped.js'
import { HttpError, Router, sendError, sendJson } from '../http/index.js'
import { sendMetrics } from '../http/send-metrics.js'

/** A forwarded inventory is tens of KB; 4 MiB is generous and bounds what an insider's record can make an agent hold. */
export const MAX_FORWARDED_INVENTORY_BYTES = 4 * 1024 * 1024

/** What the API reads; MeshRuntime provides it. */
export interface ApiSource {
  readonly selfId: string
  readonly startedAt: number
  now(): number
  view(): MemberView[]
  /** One member's view, without building the whole view (the watch stream asks once per event). Absent: found in view(). */
  member?(id: string): MemberView | undefined
  counters(): object
  on(event: 'event', listener: (event: MeshEvent, at: number) => void): unknown
  off(event: 'event', listener: (event: MeshEvent, at: number) => void): unknown
}

/** One member of the source's view: O(1) where the source can look one up, a scan of view() otherwise. */
function memberOf(src: ApiSource, id: string): MemberView | undefined {
  return src.member ? src.member(id) : src.view().find((v) => v.id === id)
}

/** This node's full inventory (agent/inventory's Inventory, which carries `collectedAt`). */
export interface InventoryProvider {
  collect(): Promise<{ collectedAt: number }>
}

export interface ApiServerOptions {
  source: ApiSource
  /** Extra fields for /v1/self (public key, config summary, ...). */
  selfInfo?: () => object
  inventory?: InventoryProvider
  /** A forwarded inventory older than this is refreshed; a failed refresh falls back to it. */
  inventoryCacheMs?: number
  /** Deadline of a forwarded inventory request, headers and body together. */
  forwardTimeoutMs?: number
  /** Largest forwarded inventory answer read (MAX_FORWARDED_INVENTORY_BYTES). */
  maxForwardBytes?: number
  /** The Prometheus exposition for GET /metrics (agent/api AgentMetrics). */
  metrics?: { expose(): Promise<{ contentType: string; text: string }> }
  /** Seconds between heartbeat lines on /v1/watch, so a watcher can tell a quiet cluster from a dead link. */
  watchHeartbeatMs?: number
  logger?: Logger
  /** WebSocket upgrades (the remote shell, agent/api/shell-server.ts); without it every upgrade is refused. */
  onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  /** Extra GET routes (the cluster page, shell sessions) tried first; true when it answered. */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>
}

/** Operator-visible fields that differ between two records of one node (all of them for a first record). */
function changedFields(previous: NodeRecordBody | undefined, next: NodeRecordBody): string[] {
  const fields = ['phase', 'image', 'domain', 'api', 'health', 'inv', 'work'] as const
  if (!previous) return [...fields]
  return fields.filter((f) => JSON.stringify(previous[f]) !== JSON.stringify(next[f]))
}

interface CachedInventory {
  inventory: unknown
  fetchedAt: number
  /** Its age when fetched. */
  ageMs: number
}

export class ApiServer {
  private server: Server | undefined
  private readonly watchers = new Set<ServerResponse>()
  private readonly inventoryCache = new Map<string, CachedInventory>()
  private readonly log: Logger
  private readonly routes: Router<{ req: IncomingMessage; res: ServerResponse }>

  constructor(private readonly opts: ApiServerOptions) {
    this.log = opts.logger ?? silentLogger
    const GET = ['GET', 'HEAD']
    const src = opts.source
    const notFound = (_method: string, path: string) => new HttpError(404, 'not-found', `no route ${path}; the routes are listed at GET /openapi.json`)
    this.routes = new Router<{ req: IncomingMessage; res: ServerResponse }>(notFound)
      // Loaded on the first ask: the document's schemas are not built at every start (docs/boot.md).
      .on(GET, '/openapi.json', async ({ res }) => sendJson(res, 200, (await import('./openapi.js')).agentOpenApi()))
      .on(GET, '/v1/cluster', ({ res }) => sendJson(res, 200, clusterSummary(src.selfId, src.view(), src.now())))
      .on(GET, '/v1/self', ({ res }) => sendJson(res, 200, this.self()))
      .on(GET, '/v1/watch', ({ req, res }) => this.watch(req, res))
      // Known fingerprints of the whole cluster, for a rebooting worker (agent/boot/peer-identity.ts).
      .on(GET, '/v1/fingerprints', ({ res }) => sendJson(res, 200, meshFingerprints(src.view())))
      .on(GET, '/v1/nodes', ({ res }) => sendJson(res, 200, clusterSummary(src.selfId, src.view(), src.now()).nodes))
      .on(GET, '/v1/nodes/:id', ({ res }, p) => sendJson(res, 200, this.node(p.id!)))
      .on(GET, '/v1/nodes/:id/inventory', async ({ res }, p) => sendJson(res, 200, await this.inventory(p.id!)))
    const metrics = opts.metrics
    if (metrics) {
      this.routes.on(GET, '/metrics', async ({ res }) => sendMetrics(res, await metrics.expose()))
    }
  }

  /** Listens; resolves with the bound host:port. */
  async listen(port: number, host: string): Promise<{ host: string; port: number }> {
    const server = createServer((req, res) => void this.handle(req, res))
    server.keepAliveTimeout = 5_000
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.opts.onUpgrade) return this.opts.onUpgrade(req, socket, head)
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
    })
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    const a = server.address() as AddressInfo
    return { host: a.address, port: a.port }
  }

  /** Ends watch streams and stops listening. Idempotent. */
  async close(): Promise<void> {
    for (const w of this.watchers) w.end()
    this.watchers.clear()
    const server = this.server
    this.server = undefined
    if (!server) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  /** Answers one request without listening (the coordinator serves its mesh view this way, under /v1/mesh). */
  handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return this.handle(req, res)
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // This API reads no bodies: one still streaming is answered and the connection closed,
    // never read and discarded for as long as the client sends.
    if (!req.complete) res.setHeader('connection', 'close')
    try {
      const url = new URL(req.url ?? '/', 'http://agent')
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method-not-allowed', `${req.method} is not supported; this API is read-only (GET)`)
      if (url.pathname !== '/openapi.json' && this.opts.extraRoutes && (await this.opts.extraRoutes(req, res, url))) return
      // Empty segments are ignored (/v1//cluster is /v1/cluster), as they always were here.
      const path = url.pathname.startsWith('/v1/') ? '/' + url.pathname.split('/').filter(Boolean).join('/') : url.pathname
      if (!this.routes.has(path)) throw new HttpError(404, 'not-found', `no route ${url.pathname}; the routes are listed at GET /openapi.json`)
      await this.routes.dispatch({ req, res }, req.method, path)
    } catch (err) {
      if (err instanceof HttpError) return sendError(res, err.status, err.code, err.message, err.issues)
      this.log.error({ component: 'api', node: this.opts.source.selfId, err }, 'request failed')
      return sendError(res, 500, 'internal', `internal error: ${(err as Error).message}`)
    }
  }

  private checkId(raw: string): string {
    let id: string
    try {
      id = decodeURIComponent(raw)
    } catch {
      throw new HttpError(400, 'bad-node-id', `"${raw}" is not a valid node id (URL encoding is broken)`)
    }
    if (!NodeId.safeParse(id).success) throw new HttpError(400, 'bad-node-id', `"${id}" is not a valid node id (letters, digits, . _ - only, at most 64)`)
    return id
  }

  private member(id: string): MemberView {
    const m = memberOf(this.opts.source, id)
    if (!m) throw new HttpError(404, 'unknown-node', `no node "${id}" is known to ${this.opts.source.selfId}; list them with GET /v1/cluster`)
    return m
  }

  private node(raw: string) {
    return nodeDetail(this.member(this.checkId(raw)), this.opts.source.now())
  }

  private self() {
    const now = this.opts.source.now()
    const me = memberOf(this.opts.source, this.opts.source.selfId)
    const mem = process.memoryUsage()
    return {
      id: this.opts.source.selfId,
      uptimeMs: now - this.opts.source.startedAt,
      software: { version: SOFTWARE_VERSION, protocol: PROTOCOL_VERSION },
      ...(this.opts.selfInfo?.() ?? {}),
      node: me ? nodeDetail(me, now) : null,
      counters: this.opts.source.counters(),
      process: { pid: process.pid, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed },
    }
  }

  private watch(req: IncomingMessage, res: ServerResponse): void {
    const src = this.opts.source
    res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' })
    const line = (obj: unknown) => res.write(JSON.stringify(obj) + '\n')
    const snapshot = clusterSummary(src.selfId, src.view(), src.now())
    line({ type: 'snapshot', at: new Date(src.now()).toISOString(), ...snapshot })
    // Ids this watcher has been told about: a member can reach the view through a claim
    // before its record, so the first line a watcher sees about an id is always a join.
    const told = new Set(snapshot.nodes.map((n) => n.id))
    const onEvent = (event: MeshEvent, at: number) => {
      if (event.type === 'dropped') {
        line({ type: 'dropped', at: new Date(at).toISOString(), from: event.from, reason: event.reason, detail: event.detail })
        return
      }
      if (event.type !== 'member' && event.type !== 'record') return
      const m = memberOf(src, event.id)
      const node = m ? nodeSummary(m, at) : null
      const iso = new Date(at).toISOString()
      if (!told.has(event.id)) {
        told.add(event.id)
        line({ type: 'member', at: iso, id: event.id, status: m?.status ?? (event.type === 'member' ? event.status : 'alive'), previous: null, node })
        if (event.type === 'member') return
      }
      if (event.type === 'member') line({ type: 'member', at: iso, id: event.id, status: event.status, previous: event.previous ?? null, node })
      else line({ type: 'record', at: iso, id: event.id, changed: changedFields(event.previous, event.record), node })
    }
    const heartbeat = setInterval(() => line({ type: 'heartbeat', at: new Date(src.now()).toISOString() }), this.opts.watchHeartbeatMs ?? 15_000)
    src.on('event', onEvent)
    this.watchers.add(res)
    const stop = () => {
      clearInterval(heartbeat)
      src.off('event', onEvent)
      this.watchers.delete(res)
    }
    req.on('close', stop)
    res.on('close', stop)
  }

  private async inventory(raw: string) {
    const id = this.checkId(raw)
    const src = this.opts.source
    if (id === src.selfId) {
      if (!this.opts.inventory) {
        throw new HttpError(501, 'not-implemented', 'inventory collection is off on this agent (collectInventory: false, e.g. a synthetic machine); its hardware summary is in GET /v1/self')
      }
      const inventory = await this.opts.inventory.collect()
      return { id, source: 'self', ageMs: Math.max(0, src.now() - inventory.collectedAt), inventory }
    }
    const m = this.member(id)
    const cached = this.inventoryCache.get(id)
    const now = src.now()
    const cachedAge = () => cached!.ageMs + (now - cached!.fetchedAt)
    if (cached && now - cached.fetchedAt < (this.opts.inventoryCacheMs ?? 30_000)) return { id, source: 'cache', ageMs: cachedAge(), inventory: cached.inventory }
    const api = m.record?.api
    try {
      if (!api) throw new Error('its record names no API address')
      if (m.status === 'dead') throw new Error('it is dead')
      // undici costs ~15 MB of RSS once loaded: only agents that forward pay for it.
      const { request } = await import('undici')
      const timeoutMs = this.opts.forwardTimeoutMs ?? 2000
      const signal = AbortSignal.timeout(timeoutMs)
      let body: { inventory?: unknown; ageMs?: unknown; error?: { message?: string } }
      let res
      try {
        res = await request(`http://${api}/v1/nodes/${encodeURIComponent(id)}/inventory`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal })
        const text = (await readCapped(res.body, this.opts.maxForwardBytes ?? MAX_FORWARDED_INVENTORY_BYTES, `the answer of ${api}`)).toString('utf8')
        body = JSON.parse(text) as typeof body
      } catch (err) {
        if (signal.aborted) throw new Error(`no complete answer within ${timeoutMs} ms`)
        throw err
      }
      if (res.statusCode !== 200) throw new Error(`it answered ${res.statusCode}: ${body?.error?.message ?? 'no message'}`)
      if (typeof body?.inventory !== 'object' || body.inventory === null) throw new Error('its answer holds no inventory')
      const ageMs = typeof body.ageMs === 'number' && body.ageMs >= 0 ? body.ageMs : 0
      this.inventoryCache.set(id, { inventory: body.inventory, fetchedAt: src.now(), ageMs })
      return { id, source: `forwarded from ${api}`, ageMs, inventory: body.inventory }
    } catch (err) {
      const why = (err as Error).message
      if (cached) return { id, source: 'cache', ageMs: cachedAge(), stale: true, staleReason: why, inventory: cached.inventory }
      throw new HttpError(502, 'inventory-unavailable', `cannot get the inventory of "${id}" from ${api ?? 'its agent'} (${why}) and none is cached; try again, or ask that agent directly`)
    }
  }
}
