/**
 * The cluster page on the coordinator (agent/api/page): `/` and `/page/*`, and the agent
 * API over the coordinator's own mesh peer under `/v1/mesh/*` (cluster, watch, nodes,
 * self, shells — the same answers an agent gives), plus `/v1/mesh/wave`: the newest
 * wave's status, read-only and without the admin token (what any agent's /v1/self shows
 * of a wave is no more secret). Without a mesh peer (no DHT bootstrap) the mesh routes
 * answer 503.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ApiServer } from '../agent/api/api-server.js'
import { pageRoutes, servePage } from '../agent/api/page-routes.js'
import { ShellAuditLog } from '../agent/api/shell-audit-log.js'
import { SHELL_AUDIT_TOPIC } from '../agent/protocol/shell-channel.js'
import type { Waves } from './waves/index.js'

const MESH_PREFIX = '/v1/mesh'

export class CoordinatorPage {
  private readonly api: ApiServer | undefined
  private readonly shells = new ShellAuditLog()

  constructor(
    private readonly waves: Waves,
    cluster: string,
  ) {
    const runtime = waves.peer?.runtime
    if (!runtime) return
    runtime.on('event', (e) => {
      if (e.type === 'app' && e.topic === SHELL_AUDIT_TOPIC) this.shells.addFromMesh(e.from, e.body)
    })
    const routes = pageRoutes({ shells: this.shells })
    this.api = new ApiServer({
      source: runtime,
      selfInfo: () => ({ role: 'coordinator', cluster }),
      extraRoutes: (req, res, url) => {
        if (url.pathname === '/v1/wave') {
          const latest = waves.service.latest()
          const text = JSON.stringify(latest ? waves.service.get(latest.id) : { error: { code: 'not-found', message: 'no wave yet' } })
          res.writeHead(latest ? 200 : 404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
          res.end(text)
          return true
        }
        return url.pathname === '/v1/shells' ? routes(req, res, url) : false
      },
    })
  }

  /** True when it answered (the page, or a /v1/mesh route). */
  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    if (path === '/' || path === '/index.html' || path.startsWith('/page/')) return servePage(res, path)
    if (path !== MESH_PREFIX && !path.startsWith(MESH_PREFIX + '/')) return false
    if (!this.api) {
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify({ error: { code: 'no-mesh', message: 'this coordinator runs no mesh peer (no DHT bootstrap node); open the page of any agent instead' } }))
      return true
    }
    req.url = '/v1' + (req.url ?? '/').slice(MESH_PREFIX.length)
    await this.api.handleRequest(req, res)
    return true
  }

  async close(): Promise<void> {
    await this.api?.close()
  }
}
