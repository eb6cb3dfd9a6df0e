/**
 * The admin routes (coordinator/admin-api.ts has the contract): bearer-token check, then
 * approve/reject, assign, remove, and the node, pending and audit listings.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { AddOperatorRequest, RemoveOperatorRequest, adminRoutes, AssignRequest, AuditQuery, DecideRequest, RemoveRequest, type AdminNode, type AdminPending } from './admin-api.js'
import type { ClusterState } from './cluster-state.js'
import type { CoordinatorConfig } from './coordinator-config.js'
import { decide } from './enrollment.js'
import { allow, bearer, HttpError, readJson, sendJson, validate } from './http-json.js'
import type { ImageStore } from './image-store.js'
import type { PendingEntry } from './state-store.js'
import { backupLines } from './state-backup.js'
import { addOperator, removeOperator } from './operators.js'

export interface AdminContext {
  state: ClusterState
  images: ImageStore
  config: CoordinatorConfig
}

export async function handleAdmin(ctx: AdminContext, req: IncomingMessage, res: ServerResponse, path: string, method: string, url: URL): Promise<void> {
  if (!ctx.state.isAdmin(bearer(req))) {
    // Not drained: the 401 carries Connection: close (http-json closeIfUnread).
    throw new HttpError(401, 'unauthorized', 'admin API needs Authorization: Bearer <admin token> (see <dataDir>/admin-token on the coordinator)')
  }
  const state = ctx.state
  const by = `admin@${req.socket.remoteAddress ?? '?'}`
  switch (path) {
    case adminRoutes.nodes: {
      allow(method, ['GET'])
      const nodes: AdminNode[] = [...state.nodes.values()]
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((n) => ({
          id: n.id,
          key: n.key,
          macs: n.macs,
          assignedImage: state.nodeAssignments.get(n.id)?.image,
          serial: n.certificate.serial,
          firstEnrolledAt: n.firstEnrolledAt,
          lastEnrolledAt: n.lastEnrolledAt,
          enrollments: n.enrollments,
          inventory: n.inventory,
          ...(state.cloneRefusals.has(n.id) ? { cloneRefusals: state.cloneRefusals.get(n.id)! } : {}),
        }))
      return sendJson(res, 200, { nodes })
    }
    case adminRoutes.pending: {
      allow(method, ['GET'])
      return sendJson(res, 200, { pending: [...state.pending.values()].sort((a, b) => a.requestedAt - b.requestedAt).map(pendingView) })
    }
    case adminRoutes.approve:
    case adminRoutes.reject: {
      allow(method, ['POST'])
      const body = validate(DecideRequest, await readJson(req, ctx.config.maxBodyBytes), 'decision')
      const p = await decide(state, body.requestId, path === adminRoutes.approve ? 'approved' : 'rejected', by)
      return sendJson(res, 200, pendingView(p))
    }
    case adminRoutes.assign: {
      allow(method, ['POST'])
      const body = validate(AssignRequest, await readJson(req, ctx.config.maxBodyBytes), 'assignment')
      if (!(await ctx.images.hasVersion(body.image))) throw new HttpError(400, 'bad-request', `no image version "${body.image}" in ${ctx.config.imagesDir}; build it first`)
      const a = await state.assign({ node: body.node, mac: body.mac }, body.image, by)
      return sendJson(res, 200, a)
    }
    case adminRoutes.remove: {
      allow(method, ['POST'])
      const body = validate(RemoveRequest, await readJson(req, ctx.config.maxBodyBytes), 'removal')
      await state.removeNode(body.node, by)
      return sendJson(res, 200, { removed: body.node })
    }
    case adminRoutes.audit: {
      allow(method, ['GET'])
      const q = validate(AuditQuery, Object.fromEntries(url.searchParams), 'audit query')
      return sendJson(res, 200, { entries: await state.listAudit({ limit: q.limit, sinceMs: q.since, kind: q.kind }) })
    }
    case adminRoutes.backup: {
      allow(method, ['GET'])
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' })
      for await (const line of backupLines(state.deps.store, { id: state.clusterId, publicKey: state.publicKey }, state.deps.clock.now())) {
        if (!res.write(line + '\n')) await new Promise<void>((resolve) => res.once('drain', () => resolve()).once('close', () => resolve()))
        if (res.destroyed) return
      }
      return void res.end()
    }
    case adminRoutes.operators: {
      allow(method, ['GET', 'POST'])
      if (method === 'GET') return sendJson(res, 200, { operators: [...state.operators.values()].sort((a, b) => a.name.localeCompare(b.name)) })
      const body = validate(AddOperatorRequest, await readJson(req, ctx.config.maxBodyBytes), 'operator')
      return sendJson(res, 200, await addOperator(state, body.name, body.key, by))
    }
    case adminRoutes.removeOperator: {
      allow(method, ['POST'])
      const body = validate(RemoveOperatorRequest, await readJson(req, ctx.config.maxBodyBytes), 'operator removal')
      await removeOperator(state, body.name, by)
      return sendJson(res, 200, { removed: body.name })
    }
    default:
      throw new HttpError(404, 'not-found', `no admin route ${method} ${path}`)
  }
}

function pendingView(p: PendingEntry): AdminPending {
  return { requestId: p.requestId, mac: p.mac, proposedId: p.proposedId, state: p.state, requestedAt: p.requestedAt, inventory: p.inventory, ...(p.knownId ? { knownId: p.knownId, changes: p.changes } : {}) }
}
