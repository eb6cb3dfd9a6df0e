/**
 * HTTP routes for waves (contract in wave-api.ts): admin bearer token for /v1/waves*,
 * the node's signature for /v1/assign. Bodies are validated strictly at the edge.
 */
import type { ClusterState } from '../cluster-state.js'
import { bearer, HttpError, readJson, sendJson, validate, type Exchange, type Router } from '../../agent/http/index.js'
import { AssignLeaseRequest, ForceReleaseRequest, WaveCreate, waveRoutes } from './wave-api.js'
import type { WaveService } from './wave-service.js'
import { DecommissionRequest, DEFAULT_RETURNING, MaintenanceRequest, NodeVerbRequest, nodeVerbRoutes } from './node-verbs.js'
import { NodeId } from '../../agent/protocol/node-record.js'

export interface WaveRouteContext {
  waves: WaveService
  state: ClusterState
  maxBodyBytes: number
}

/** Adds /v1/assign and /v1/waves* to the coordinator's router. */
export function addWaveRoutes(router: Router<Exchange>, ctx: WaveRouteContext): void {
  const admin = ({ req }: Exchange): void => {
    // Not drained: the 401 carries Connection: close (http-json closeIfUnread).
    if (!ctx.state.isAdmin(bearer(req))) throw new HttpError(401, 'unauthorized', 'the waves API needs Authorization: Bearer <admin token> (see <dataDir>/admin-token on the coordinator)')
  }
  const by = ({ req }: Exchange) => `admin@${req.socket.remoteAddress ?? '?'}`
  /** An operation without a body: what was sent is read and dropped. */
  const op = (status: number, run: (id: string, by: string) => Promise<unknown>) => async (x: Exchange, p: Record<string, string>) => {
    x.req.resume()
    sendJson(x.res, status, await run(decodeURIComponent(p.id!), by(x)))
  }
  router
    .on(['POST'], waveRoutes.assign, async ({ req, res }) => {
      const body = validate(AssignLeaseRequest, await readJson(req, ctx.maxBodyBytes), 'boot assignment request')
      sendJson(res, 200, await ctx.waves.assign(body, req.socket.remoteAddress))
    })
    .on(
      ['GET', 'POST'],
      waveRoutes.waves,
      async (x) => {
        if (x.method === 'GET') return sendJson(x.res, 200, { waves: ctx.waves.list() })
        const body = validate(WaveCreate, await readJson(x.req, ctx.maxBodyBytes), 'wave')
        const out = await ctx.waves.create(body, by(x))
        sendJson(x.res, 'dryRun' in out ? 200 : 201, out)
      },
      admin,
    )
    .on(['GET'], `${waveRoutes.waves}/:id`, ({ res }, p) => sendJson(res, 200, ctx.waves.get(decodeURIComponent(p.id!))), admin)
    .on(['POST'], `${waveRoutes.waves}/:id/pause`, op(200, (id, who) => ctx.waves.pause(id, who)), admin)
    .on(['POST'], `${waveRoutes.waves}/:id/resume`, op(200, (id, who) => ctx.waves.resume(id, who)), admin)
    .on(['POST'], `${waveRoutes.waves}/:id/abort`, op(200, (id, who) => ctx.waves.abort(id, who)), admin)
    .on(['POST'], `${waveRoutes.waves}/:id/rollback`, op(201, (id, who) => ctx.waves.rollback(id, who)), admin)
    .on(
      ['POST'],
      `${waveRoutes.waves}/:id/force-release`,
      async (x, p) => {
        const body = validate(ForceReleaseRequest, await readJson(x.req, ctx.maxBodyBytes), 'force-release')
        sendJson(x.res, 200, await ctx.waves.forceRelease(decodeURIComponent(p.id!), body.node, by(x)))
      },
      admin,
    )
    .on(
      ['POST'],
      `${waveRoutes.waves}/:id/:op`,
      (_x, p) => {
        throw new HttpError(404, 'not-found', `no wave operation "${p.op}" (pause, resume, abort, rollback, force-release)`)
      },
      admin,
    )
    .on(['GET'], nodeVerbRoutes.held, ({ req, res }) => {
      req.resume()
      sendJson(res, 200, { held: ctx.waves.heldNodes() })
    }, admin)
    .on(
      ['POST'],
      `${nodeVerbRoutes.nodes}/:id/:verb`,
      async (x, p) => {
        const node = decodeURIComponent(p.id!)
        if (!NodeId.safeParse(node).success) throw new HttpError(400, 'bad-node-id', `"${node}" is not a node id (letters, digits, . _ - only)`)
        const verb = p.verb!
        const raw = await readJson(x.req, ctx.maxBodyBytes)
        if (verb === 'maintenance') {
          const body = validate(MaintenanceRequest, raw, 'maintenance')
          if (!body.on) return sendJson(x.res, 200, await ctx.waves.maintenanceOff(node, by(x)))
          return sendJson(x.res, 201, await ctx.waves.nodeVerb(node, 'maintenance', by(x), body.maxUnavailable))
        }
        if (verb !== 'reboot' && verb !== 'shutdown' && verb !== 'decommission') throw new HttpError(404, 'not-found', `no node verb "${verb}" (maintenance, reboot, shutdown, decommission)`)
        if (verb === 'decommission') {
          const body = validate(DecommissionRequest, raw, verb)
          return sendJson(x.res, 201, await ctx.waves.nodeVerb(node, verb, by(x), body.maxUnavailable, { returning: body.returning ?? DEFAULT_RETURNING }))
        }
        const body = validate(NodeVerbRequest, raw, verb)
        sendJson(x.res, 201, await ctx.waves.nodeVerb(node, verb, by(x), body.maxUnavailable))
      },
      admin,
    )
    .on('*', `${waveRoutes.waves}/*`, ({ method, url }) => {
      throw new HttpError(404, 'not-found', `no route ${method} ${url.pathname}`)
    }, admin)
}
