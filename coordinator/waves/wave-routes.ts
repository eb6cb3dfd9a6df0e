/**
 * HTTP routes for waves (contract in wave-api.ts): admin bearer token for /v1/waves*,
 * the node's signature for /v1/assign. Bodies are validated strictly at the edge.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ClusterState } from '../cluster-state.js'
import { allow, bearer, HttpError, readJson, sendJson, validate } from '../http-json.js'
import { AssignLeaseRequest, ForceReleaseRequest, WaveCreate, waveRoutes } from './wave-api.js'
import type { WaveService } from './wave-service.js'

export interface WaveRouteContext {
  waves: WaveService
  state: ClusterState
  maxBodyBytes: number
}

/** True for paths this module answers. */
export function isWavePath(path: string): boolean {
  return path === waveRoutes.assign || path === waveRoutes.waves || path.startsWith(`${waveRoutes.waves}/`)
}

export async function handleWaves(ctx: WaveRouteContext, req: IncomingMessage, res: ServerResponse, path: string, method: string): Promise<void> {
  if (path === waveRoutes.assign) {
    allow(method, ['POST'])
    const body = validate(AssignLeaseRequest, await readJson(req, ctx.maxBodyBytes), 'boot assignment request')
    return sendJson(res, 200, await ctx.waves.assign(body, req.socket.remoteAddress))
  }
  if (!ctx.state.isAdmin(bearer(req))) {
    // Not drained: the 401 carries Connection: close (http-json closeIfUnread).
    throw new HttpError(401, 'unauthorized', 'the waves API needs Authorization: Bearer <admin token> (see <dataDir>/admin-token on the coordinator)')
  }
  const by = `admin@${req.socket.remoteAddress ?? '?'}`
  if (path === waveRoutes.waves) {
    allow(method, ['GET', 'POST'])
    if (method === 'GET') return sendJson(res, 200, { waves: ctx.waves.list() })
    const body = validate(WaveCreate, await readJson(req, ctx.maxBodyBytes), 'wave')
    const out = await ctx.waves.create(body, by)
    return sendJson(res, 'dryRun' in out ? 200 : 201, out)
  }
  const parts = path.slice(waveRoutes.waves.length + 1).split('/')
  const id = decodeURIComponent(parts[0] ?? '')
  if (parts.length === 1) {
    allow(method, ['GET'])
    return sendJson(res, 200, ctx.waves.get(id))
  }
  if (parts.length !== 2) throw new HttpError(404, 'not-found', `no route ${method} ${path}`)
  allow(method, ['POST'])
  switch (parts[1]) {
    case 'pause':
      req.resume()
      return sendJson(res, 200, await ctx.waves.pause(id, by))
    case 'resume':
      req.resume()
      return sendJson(res, 200, await ctx.waves.resume(id, by))
    case 'abort':
      req.resume()
      return sendJson(res, 200, await ctx.waves.abort(id, by))
    case 'rollback':
      req.resume()
      return sendJson(res, 201, await ctx.waves.rollback(id, by))
    case 'force-release': {
      const body = validate(ForceReleaseRequest, await readJson(req, ctx.maxBodyBytes), 'force-release')
      return sendJson(res, 200, await ctx.waves.forceRelease(id, body.node, by))
    }
    default:
      throw new HttpError(404, 'not-found', `no wave operation "${parts[1]}" (pause, resume, abort, rollback, force-release)`)
  }
}
