/**
 * Enrollment: a join token + fingerprint + public key in, a membership certificate and
 * the roster out. Refusals change nothing stored; acceptance commits the token's use, the
 * node, its MAC binding, the new roster version and the audit entry in one batch.
 */
import type { ErrorCode } from '../agent/protocol/error-codes.js'
import type { Logger } from '../agent/protocol/ports.js'
import { ShoalError } from '../agent/protocol/errors.js'
import { ENROLL_API_VERSION, type EnrollPending, type EnrollRequest, type EnrollResponse, signCertificate } from '../agent/protocol/enroll/index.js'
import type { ClusterState } from './cluster-state.js'
import type { IdentityResolution, IdentityResolver } from './identity-resolver.js'
import { checkToken, requestDigest, tokenHash } from './join-token.js'
import { keys, type NodeEntry, type Op, type PendingEntry, type RetiredEntry, type TokenEntry } from './state-store.js'

export interface EnrollContext {
  /** Bootstrap addresses to hand out (depend on how the worker reached us). */
  bootstrap: string[]
  /** The image for a node with no assignment. */
  defaultImage: () => Promise<string>
  approval: 'off' | 'new-fingerprints'
  resolver: IdentityResolver
  /**
   * True when the node `id` is alive in the coordinator's mesh view right now (probes
   * answered, no reboot announced): its id is then never handed to another key (a clone).
   * Absent: no mesh view (tests without a mesh), nothing is alive.
   */
  holderAlive?: (id: string) => boolean
  remote?: string
  log: Logger
}

export type EnrollOutcome =
  | { status: 200; body: EnrollResponse }
  | { status: 202; body: EnrollPending }
  | { status: 403; code: ErrorCode; message: string }
  | { status: 409; code: 'id-in-use'; message: string }

const PENDING_RETRY_MS = 5_000
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

export function enroll(state: ClusterState, req: EnrollRequest, ctx: EnrollContext): Promise<EnrollOutcome> {
  return state.exclusive(async () => {
    const now = state.deps.clock.now()
    const hash = tokenHash(req.token)
    const digest = requestDigest(req.publicKey, req.fingerprint.comps)
    const entry = await state.getToken(hash)
    const verdict = checkToken(entry, { mac: req.mac, publicKey: req.publicKey, digest }, now, state.limits.enrollRetryWindowMs)
    if (verdict.kind === 'refused') {
      ctx.log.warn({ component: 'enroll', mac: req.mac, remote: ctx.remote, code: verdict.code }, 'enrollment refused')
      return { status: 403, code: verdict.code, message: verdict.message }
    }
    if (verdict.kind === 'retry') return retry(state, req, verdict.entry, hash, ctx)

    const identity = ctx.resolver(req.fingerprint.id, req.fingerprint.comps, [...state.nodes.values()].map((n) => ({ id: n.id, comps: n.comps })))
    const retired = identity.identity === 'new' ? retiredMatch(state, req.fingerprint.id, req.fingerprint.comps, ctx.resolver) : undefined
    if (retired?.returning === 'refuse') return retiredRefusal(state, retired, req.mac, req.fingerprint.id, ctx)
    const known = identity.identity === 'known' ? state.nodes.get(identity.id) : undefined
    // A known id from another MAC or with other parts is, to the coordinator, a claim it
    // cannot check (anyone can copy a digest from a record): in approval mode it waits like a new machine.
    const changes = known ? hardwareChanges(known, req.mac, req.fingerprint.comps) : undefined
    if (ctx.approval === 'new-fingerprints' && (identity.identity === 'new' || changes)) {
      const clone = cloneRefusal(state, identity.id, req.publicKey, req.mac, ctx)
      if (clone) return clone
      const requestId = hex(state.deps.random(8))
      const pending: PendingEntry = {
        requestId,
        tokenHash: hash,
        mac: req.mac,
        publicKey: req.publicKey,
        digest,
        comps: req.fingerprint.comps,
        proposedId: req.fingerprint.id,
        inventory: req.inventory,
        inventoryDetail: req.inventoryDetail,
        requestedAt: now,
        state: 'waiting',
        ...(known && changes ? { knownId: known.id, changes } : {}),
      }
      const used: TokenEntry = { ...entry!, usedAt: now, usedBy: { publicKey: req.publicKey, digest }, pendingId: requestId }
      await state.deps.store.batch([
        { type: 'put', key: keys.token(hash), value: used },
        { type: 'put', key: keys.pending(requestId), value: pending },
        state.auditOp({ at: now, kind: 'pending', mac: req.mac, remote: ctx.remote, detail: { requestId, proposedId: req.fingerprint.id, inventory: req.inventory, ...(pending.knownId ? { knownId: pending.knownId, changes: pending.changes } : {}) } }),
      ])
      state.pending.set(requestId, pending)
      state.markTokenUsed(req.mac, hash)
      ctx.log.info({ component: 'enroll', mac: req.mac, requestId, knownId: pending.knownId }, pending.knownId ? 'known id with changed hardware waits for approval' : 'new machine waits for approval')
      return { status: 202, body: pendingBody(pending) }
    }
    const used: TokenEntry = { ...entry!, usedAt: now, usedBy: { publicKey: req.publicKey, digest } }
    return complete(state, identity, { ...req, comps: req.fingerprint.comps, proposedId: req.fingerprint.id }, hash, used, ctx, [])
  })
}

async function retry(state: ClusterState, req: EnrollRequest, entry: TokenEntry, hash: string, ctx: EnrollContext): Promise<EnrollOutcome> {
  if (entry.nodeId !== undefined) {
    const node = state.nodes.get(entry.nodeId)
    if (node && node.key === req.publicKey) return { status: 200, body: await response(state, node, 'known', ctx) }
    return { status: 403, code: 'rejected', message: `node ${entry.nodeId} was removed or re-enrolled since this token was used; reboot the node to enroll again` }
  }
  const pending = entry.pendingId !== undefined ? state.pending.get(entry.pendingId) : undefined
  if (!pending) return { status: 403, code: 'rejected', message: 'this enrollment request no longer exists; reboot the node to enroll again' }
  if (pending.state === 'waiting') return { status: 202, body: pendingBody(pending) }
  if (pending.state === 'rejected') return { status: 403, code: 'rejected', message: `enrollment request ${pending.requestId} was rejected by an operator` }
  // Approved: resolve again (others may have enrolled meanwhile) and issue the certificate.
  const identity = ctx.resolver(pending.proposedId, pending.comps, [...state.nodes.values()].map((n) => ({ id: n.id, comps: n.comps })))
  // Decommissioned (and refused on return) while it waited: the later decision wins.
  const retired = identity.identity === 'new' ? retiredMatch(state, pending.proposedId, pending.comps, ctx.resolver) : undefined
  if (retired?.returning === 'refuse') return retiredRefusal(state, retired, req.mac, pending.proposedId, ctx)
  const used: TokenEntry = { ...entry, pendingId: undefined }
  return complete(
    state,
    identity,
    { ...req, comps: pending.comps, proposedId: pending.proposedId, inventory: pending.inventory, inventoryDetail: pending.inventoryDetail },
    hash,
    used,
    ctx,
    [{ type: 'del', key: keys.pending(pending.requestId) }],
    () => state.pending.delete(pending.requestId),
  )
}

async function complete(
  state: ClusterState,
  identity: IdentityResolution,
  req: Pick<EnrollRequest, 'mac' | 'publicKey' | 'inventory' | 'inventoryDetail'> & { comps: string[]; proposedId: string },
  hash: string,
  used: TokenEntry,
  ctx: EnrollContext,
  extraOps: Op[],
  afterCommit?: () => void,
): Promise<EnrollOutcome> {
  const clone = cloneRefusal(state, identity.id, req.publicKey, req.mac, ctx)
  if (clone) return clone
  const now = state.deps.clock.now()
  const prev = state.nodes.get(identity.id)
  // A retired machine let back as new: its retirement is spent (the id is live again).
  const retired = identity.identity === 'new' ? retiredMatch(state, req.proposedId, req.comps, ctx.resolver) : undefined
  const serial = state.nextSerialOps()
  const bump = state.rosterBumpOps()
  const certificate = signCertificate({ v: ENROLL_API_VERSION, cluster: state.clusterId, id: identity.id, key: req.publicKey, serial: serial.serial, issuedAt: now }, state.keyring)
  const node: NodeEntry = {
    id: identity.id,
    key: req.publicKey,
    comps: req.comps,
    proposedId: req.proposedId,
    macs: [...new Set([...(prev?.macs ?? []), req.mac])].sort(),
    inventory: req.inventory,
    ...(req.inventoryDetail !== undefined ? { inventoryDetail: req.inventoryDetail } : {}),
    certificate,
    firstEnrolledAt: prev?.firstEnrolledAt ?? now,
    lastEnrolledAt: now,
    enrollments: (prev?.enrollments ?? 0) + 1,
  }
  const ops: Op[] = [
    { type: 'put', key: keys.token(hash), value: { ...used, nodeId: node.id } satisfies TokenEntry },
    { type: 'put', key: keys.node(node.id), value: node },
    { type: 'put', key: keys.mac(req.mac), value: node.id },
    ...serial.ops,
    ...bump.ops,
    ...extraOps,
    ...(retired ? [{ type: 'del', key: keys.retired(retired.id) } satisfies Op] : []),
  ]
  // A MAC moves with its NIC: if another node had it, that node no longer does.
  const formerOwner = state.macToNode.get(req.mac)
  let formerEntry: NodeEntry | undefined
  if (formerOwner !== undefined && formerOwner !== node.id) {
    const f = state.nodes.get(formerOwner)
    if (f) {
      formerEntry = { ...f, macs: f.macs.filter((m) => m !== req.mac) }
      ops.push({ type: 'put', key: keys.node(f.id), value: formerEntry })
    }
  }
  ops.push(
    state.auditOp({
      at: now,
      kind: 'enroll',
      node: node.id,
      mac: req.mac,
      remote: ctx.remote,
      detail: {
        identity: identity.identity,
        proposedId: req.proposedId,
        key: req.publicKey,
        previousKey: prev?.key,
        serial: serial.serial,
        inventory: req.inventory,
        ...(retired ? { returningRetired: { id: retired.id, retiredAt: retired.at, retiredBy: retired.by } } : {}),
      },
    }),
  )
  await state.deps.store.batch(ops)
  state.nodes.set(node.id, node)
  if (formerEntry) state.nodes.set(formerEntry.id, formerEntry)
  state.macToNode.set(req.mac, node.id)
  state.applySerial(serial.serial)
  state.applyRosterBump(bump.next)
  state.markTokenUsed(req.mac, hash)
  if (retired) {
    state.retired.delete(retired.id)
    state.retiredRefusals.delete(retired.id)
  }
  afterCommit?.()
  ctx.log.info({ component: 'enroll', node: node.id, mac: req.mac, identity: identity.identity, serial: serial.serial }, 'node enrolled')
  return { status: 200, body: await response(state, node, identity.identity, ctx) }
}

async function response(state: ClusterState, node: NodeEntry, identity: 'known' | 'new', ctx: EnrollContext): Promise<EnrollResponse> {
  const image = state.assignedImage(node.id, node.macs.find((m) => state.macAssignments.has(m))) ?? (await ctx.defaultImage())
  return {
    status: 'enrolled',
    id: node.id,
    identity,
    certificate: node.certificate,
    roster: state.roster(),
    cluster: state.clusterId,
    clusterKey: state.publicKey,
    bootstrap: ctx.bootstrap,
    image,
  }
}

function pendingBody(p: Pick<PendingEntry, 'requestId' | 'knownId'>): EnrollPending {
  return {
    status: 'pending',
    requestId: p.requestId,
    retryAfterMs: PENDING_RETRY_MS,
    message: p.knownId
      ? `this machine claims node ${p.knownId} from another MAC or with changed parts and waits for an operator: shoal coordinator pending, then approve ${p.requestId}`
      : `this machine is new and waits for an operator: shoal coordinator approve ${p.requestId}`,
  }
}

/**
 * 409 when `id` is held by a node alive in the mesh under another key: a second machine
 * claiming it is a clone (or a forger who copied its digest). Audited at most once a
 * minute per node (with a count) and counted, so a flood cannot evict the audit log.
 */
function cloneRefusal(state: ClusterState, id: string, publicKey: string, mac: string, ctx: EnrollContext): EnrollOutcome | undefined {
  const holder = state.nodes.get(id)
  if (!holder || holder.key === publicKey || !ctx.holderAlive?.(id)) return undefined
  state.noteCloneRefusal(id, { mac, remote: ctx.remote, key: publicKey })
  ctx.log.warn({ component: 'enroll', node: id, mac, remote: ctx.remote }, 'enrollment refused: the id is held by a node alive in the mesh')
  return {
    status: 409,
    code: 'id-in-use',
    message: `node ${id} is alive in the mesh with another key; a second machine cannot take its id (a clone, or a copied fingerprint). If ${id} was really replaced, power the old machine off (or remove it: shoal coordinator remove ${id}) and boot again`,
  }
}

/**
 * The retired id (a decommissioned node) this machine is, if any: the same component match
 * the coordinator uses for enrolled nodes (resolveDigest, so a returning machine with a
 * swapped NIC is still recognised), or the very id it proposes (`shoal.node_id=`, or a
 * fingerprint with no usable parts). Only asked for machines that are new among the
 * enrolled nodes: a live node is never refused for sharing parts with a retired one.
 */
export function retiredMatch(state: ClusterState, proposedId: string, comps: readonly string[], resolver: IdentityResolver): RetiredEntry | undefined {
  if (state.retired.size === 0) return undefined
  const byId = state.retired.get(proposedId)
  if (byId) return byId
  const r = resolver(proposedId, comps, [...state.retired.values()].map((e) => ({ id: e.id, comps: e.comps })))
  return r.identity === 'known' ? state.retired.get(r.id) : undefined
}

/** 403 retired: the operator chose, at decommission, to refuse this machine if it came back. Counted, audited at most once a minute per id; nothing stored changes. */
function retiredRefusal(state: ClusterState, r: RetiredEntry, mac: string, proposedId: string, ctx: EnrollContext): EnrollOutcome {
  state.noteRetiredRefusal(r.id, { mac, remote: ctx.remote, proposedId })
  ctx.log.warn({ component: 'enroll', node: r.id, mac, remote: ctx.remote }, 'enrollment refused: the machine is a decommissioned node retired with --returning refuse')
  return {
    status: 403,
    code: 'retired',
    message: `this machine is node ${r.id}, decommissioned ${new Date(r.at).toISOString()} by ${r.by}${r.wave ? ` (wave ${r.wave})` : ''} with --returning refuse: it may not enroll again. To let it back in (it enrolls at its next try): shoal coordinator forget-retired ${r.id}`,
  }
}

/** What differs between a known node's last enrollment and this request (undefined: nothing). */
export function hardwareChanges(known: NodeEntry, mac: string, comps: readonly string[]): PendingEntry['changes'] {
  const was = new Set(known.comps)
  const now = new Set(comps)
  const added = [...now].filter((c) => !was.has(c)).sort()
  const removed = [...was].filter((c) => !now.has(c)).sort()
  const macChanged = !known.macs.includes(mac)
  if (!macChanged && added.length === 0 && removed.length === 0) return undefined
  return { ...(macChanged ? { mac: { was: known.macs, now: mac } } : {}), added, removed }
}

/** Operator decision on a pending request (admin API / `shoal coordinator approve|reject`). */
export function decide(state: ClusterState, requestId: string, decision: 'approved' | 'rejected', by: string): Promise<PendingEntry> {
  return state.exclusive(async () => {
    const p = state.pending.get(requestId)
    if (!p) throw new ShoalError('not-found', `no pending enrollment "${requestId}" (see: shoal coordinator pending)`)
    if (p.state !== 'waiting') throw new ShoalError('conflict', `enrollment ${requestId} was already ${p.state}`)
    const now = state.deps.clock.now()
    const next: PendingEntry = { ...p, state: decision, decidedAt: now, decidedBy: by }
    await state.deps.store.batch([
      { type: 'put', key: keys.pending(requestId), value: next },
      state.auditOp({ at: now, kind: decision === 'approved' ? 'approve' : 'reject', mac: p.mac, detail: { requestId, by, proposedId: p.proposedId } }),
    ])
    state.pending.set(requestId, next)
    return next
  })
}
