/**
 * The admin routes (coordinator/admin-api.ts has the contract): bearer-token check, then
 * approve/reject, assign, remove, and the node, pending and audit listings.
 */
import { AddOperatorRequest, RemoveOperatorRequest, adminRoutes, AssignRequest, AuditQuery, DecideRequest, ForgetRetiredRequest, LabelRequest, RemoveRequest, type AdminNode, type AdminPending, type AdminRetired } from './admin-api.js'
import type { ClusterState } from './cluster-state.js'
import type { CoordinatorConfig } from './coordinator-config.js'
import { decide } from './enrollment.js'
import { bearer, HttpError, readJson, sendJson, validate, type Exchange, type Router } from '../agent/http/index.js'
import type { ImageStore } from './image-store.js'
import type { PendingEntry } from './state-store.js'
import { backupLines } from './state-backup.js'
import { addOperator, removeOperator } from './operators.js'

export interface AdminContext {
  state: ClusterState
  images: ImageStore
  config: CoordinatorConfig
}

/** Adds /v1/admin/* to the coordinator's router; every one of them needs the admin token first. */
export function addAdminRoutes(router: Router<Exchange>, context: () => AdminContext): void {
  const admin = ({ req }: Exchange): void => {
    // Not drained: the 401 carries Connection: close (http-json closeIfUnread).
    if (!context().state.isAdmin(bearer(req))) throw new HttpError(401, 'unauthorized', 'admin API needs Authorization: Bearer <admin token> (see <dataDir>/admin-token on the coordinator)')
  }
  const by = ({ req }: Exchange) => `admin@${req.socket.remoteAddress ?? '?'}`
  const on = (methods: string[], path: string, handle: (x: Exchange, ctx: AdminContext) => Promise<void> | void) => router.on(methods, path, (x) => handle(x, context()), admin)
  on(['GET'], adminRoutes.nodes, ({ res }, { state }) => {
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
    sendJson(res, 200, { nodes })
  })
  on(['GET'], adminRoutes.pending, ({ res }, { state }) => {
    sendJson(res, 200, { pending: [...state.pending.values()].sort((a, b) => a.requestedAt - b.requestedAt).map(pendingView) })
  })
  for (const [path, outcome] of [
    [adminRoutes.approve, 'approved'],
    [adminRoutes.reject, 'rejected'],
  ] as const) {
    on(['POST'], path, async (x, ctx) => {
      const body = validate(DecideRequest, await readJson(x.req, ctx.config.maxBodyBytes), 'decision')
      sendJson(x.res, 200, pendingView(await decide(ctx.state, body.requestId, outcome, by(x))))
    })
  }
  on(['POST'], adminRoutes.assign, async (x, ctx) => {
    const body = validate(AssignRequest, await readJson(x.req, ctx.config.maxBodyBytes), 'assignment')
    if (!(await ctx.images.hasVersion(body.image))) throw new HttpError(400, 'bad-request', `no image version "${body.image}" in ${ctx.config.imagesDir}; build it first`)
    sendJson(x.res, 200, await ctx.state.assign({ node: body.node, mac: body.mac }, body.image, by(x)))
  })
  on(['POST'], adminRoutes.label, async (x, ctx) => {
    const body = validate(LabelRequest, await readJson(x.req, ctx.config.maxBodyBytes), 'label')
    const l = await ctx.state.label(body.node, body.domain, by(x))
    sendJson(x.res, 200, { node: body.node, domain: l?.domain ?? null })
  })
  on(['POST'], adminRoutes.remove, async (x, ctx) => {
    const body = validate(RemoveRequest, await readJson(x.req, ctx.config.maxBodyBytes), 'removal')
    await ctx.state.removeNode(body.node, by(x))
    sendJson(x.res, 200, { removed: body.node })
  })
  on(['GET'], adminRoutes.retired, ({ res }, { state }) => {
    const retired: AdminRetired[] = [...state.retired.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((r) => ({ id: r.id, returning: r.returning, at: r.at, by: r.by, ...(r.wave ? { wave: r.wave } : {}), macs: r.macs, ...(state.retiredRefusals.has(r.id) ? { refused: state.retiredRefusals.get(r.id)! } : {}) }))
    sendJson(res, 200, { retired })
  })
  on(['POST'], adminRoutes.forgetRetired, async (x, ctx) => {
    const body = validate(ForgetRetiredRequest, await readJson(x.req, ctx.config.maxBodyBytes), 'forget-retired')
    await ctx.state.forgetRetired(body.node, by(x))
    sendJson(x.res, 200, { forgotten: body.node })
  })
  on(['GET'], adminRoutes.audit, async ({ res, url }, { state }) => {
    const q = validate(AuditQuery, Object.fromEntries(url.searchParams), 'audit query')
    sendJson(res, 200, { entries: await state.listAudit({ limit: q.limit, sinceMs: q.since, kind: q.kind }) })
  })
  on(['GET'], adminRoutes.backup, async ({ res }, { state }) => {
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' })
    for await (const line of backupLines(state.deps.store, { id: state.clusterId, publicKey: state.publicKey }, state.deps.clock.now())) {
      if (!res.write(line + '\n')) await new Promise<void>((resolve) => res.once('drain', () => resolve()).once('close', () => resolve()))
      if (res.destroyed) return
    }
    res.end()
  })
  on(['GET', 'POST'], adminRoutes.operators, async (x, ctx) => {
    if (x.method === 'GET') return sendJson(x.res, 200, { operators: [...ctx.state.operators.values()].sort((a, b) => a.name.localeCompare(b.name)) })
    const body = validate(AddOperatorRequest, await readJson(x.req, ctx.config.maxBodyBytes), 'operator')
    sendJson(x.res, 200, await addOperator(ctx.state, body.name, body.key, by(x)))
  })
  on(['POST'], adminRoutes.removeOperator, async (x, ctx) => {
    const body = validate(RemoveOperatorRequest, await readJson(x.req, ctx.config.maxBodyBytes), 'operator removal')
    await removeOperator(ctx.state, body.name, by(x))
    sendJson(x.res, 200, { removed: body.name })
  })
  router.on('*', '/v1/admin/*', ({ method, url }) => {
    throw new HttpError(404, 'not-found', `no admin route ${method} ${url.pathname}`)
  }, admin)
}

function pendingView(p: PendingEntry): AdminPending {
  return { requestId: p.requestId, mac: p.mac, proposedId: p.proposedId, state: p.state, requestedAt: p.requestedAt, inventory: p.inventory, ...(p.knownId ? { knownId: p.knownId, changes: p.changes } : {}) }
}
