/**
 * The coordinator's view of the cluster, loaded from level at start and written through
 * on every change: the cluster key, enrolled nodes, MAC bindings, image assignments,
 * approval requests, join tokens and the audit log (audit-log.ts). Every mutation runs inside
 * `exclusive()` (one at a time, so two requests with one token cannot both win) and
 * commits its writes in one batch before the in-memory view changes.
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import { ed25519Keyring } from '../agent/protocol/ed25519.js'
import { ShoalError } from '../agent/protocol/errors.js'
import type { Clock, Keyring, Logger } from '../agent/protocol/ports.js'
import { ENROLL_API_VERSION, type SignedRoster, signRoster, verifyCertificate } from '../agent/protocol/enroll/index.js'
import { AuditLog } from './audit-log.js'
import { OperatorRecord } from './operator-record.js'
import { tokenHash } from './join-token.js'
import {
  Assignment,
  AuditEntry,
  ClusterMeta,
  NodeEntry,
  NodeLabels,
  PendingEntry,
  RetiredEntry,
  RosterMeta,
  TokenEntry,
  keys,
  type ReturningPolicy,
  type StateSeal,
  type Op,
  type StateStore,
} from './state-store.js'
import { z } from 'zod'

export interface StateDeps {
  store: StateStore
  clock: Clock
  /** Cryptographic randomness (tokens, cluster key, request ids). */
  random: (bytes: number) => Uint8Array
  log: Logger
}

export interface StateLimits {
  joinTokenTtlMs: number
  enrollRetryWindowMs: number
  maxTokensPerMac: number
  /** Unused join tokens kept in all; past it new tokens are refused (never someone else's evicted). Absent: no bound. */
  maxTokens?: number
  auditMaxEntries: number
}

export interface CloneRefusals {
  count: number
  lastAt: number
  lastMac: string
  lastRemote?: string
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

export class ClusterState {
  readonly nodes = new Map<string, NodeEntry>()
  readonly macToNode = new Map<string, string>()
  readonly nodeAssignments = new Map<string, Assignment>()
  /** Labels per node (`shoal coordinator label`): the failure domain its boot script names. */
  readonly nodeLabels = new Map<string, NodeLabels>()
  readonly macAssignments = new Map<string, Assignment>()
  readonly pending = new Map<string, PendingEntry>()
  /** Ids a decommission retired, and what to do if their machine comes back (`retired!<id>`). */
  readonly retired = new Map<string, RetiredEntry>()
  /** Enrollments refused because the machine is a retired one (per retired id, since start). */
  readonly retiredRefusals = new Map<string, { count: number; lastAt: number; lastMac: string }>()
  /** Operators whose keys sign shell grants (coordinator/operators.ts). */
  readonly operators = new Map<string, OperatorRecord>()
  /** Unused token hashes per MAC, oldest first (bounded by maxTokensPerMac). */
  private readonly tokensByMac = new Map<string, { hash: string; expiresAt: number }[]>()
  private rosterMeta: RosterMeta = { version: 0, issuedAt: 0 }
  private serial = 0
  private signedRoster: SignedRoster | undefined
  private adminHash: string | undefined
  private lock: Promise<unknown> = Promise.resolve()
  private sealing: Promise<void> = Promise.resolve()
  private sealQueued = false
  /** Enrollments refused because the id's holder is alive in the mesh (per node id, since start). */
  readonly cloneRefusals = new Map<string, CloneRefusals>()
  /** Roster entries that are not enrolled nodes (the coordinator's own mesh peer, coordinator/mesh-peer.ts). */
  private rosterExtras: { id: string; key: string }[] = []

  private constructor(
    readonly deps: StateDeps,
    readonly limits: StateLimits,
    readonly clusterId: string,
    readonly keyring: Keyring,
    private readonly auditLog: AuditLog,
  ) {}

  /** Opens the state, creating the cluster (id + key) on first start. */
  static async open(deps: StateDeps, limits: StateLimits, init: { clusterId?: string; adminToken?: string }): Promise<{ state: ClusterState; createdAdminToken?: string }> {
    const { store, clock, random } = deps
    let meta = await store.readCluster(ClusterMeta)
    const seal = await store.readSeal()
    if (!meta && seal) throw lostEntries(store.dir, seal, 'no cluster at all')
    const ops: Op[] = []
    if (!meta) {
      meta = { id: init.clusterId ?? `shoal-${hex(random(4))}`, seedHex: hex(random(32)), createdAt: clock.now() }
      ops.push({ type: 'put', key: keys.cluster, value: meta })
      ops.push({ type: 'put', key: keys.audit(meta.createdAt, 0), value: { at: meta.createdAt, kind: 'cluster-created', detail: { cluster: meta.id } } satisfies AuditEntry })
    } else if (init.clusterId !== undefined && init.clusterId !== meta.id) {
      throw new ShoalError('config', `this data dir belongs to cluster "${meta.id}", not "${init.clusterId}"; drop clusterId or use another data dir`)
    }
    const sealed = await store.unlock(meta.seedHex)
    if (sealed.sealed > 0) deps.log.info({ component: 'state', entries: sealed.sealed }, 'authenticated the entries of a data dir written before integrity')
    let createdAdminToken: string | undefined
    let admin: string
    const storedAdmin = await store.get(keys.admin, z.string())
    if (init.adminToken !== undefined) {
      admin = adminHash(init.adminToken)
      if (storedAdmin !== admin) ops.push({ type: 'put', key: keys.admin, value: admin })
    } else if (storedAdmin) {
      admin = storedAdmin
    } else {
      createdAdminToken = hex(random(32))
      admin = adminHash(createdAdminToken)
      ops.push({ type: 'put', key: keys.admin, value: admin })
    }
    await store.batch(ops)
    // The audit log counts its entries after the batch, which may hold the first ('cluster-created').
    const state = new ClusterState(deps, limits, meta.id, ed25519Keyring(Buffer.from(meta.seedHex, 'hex')), await AuditLog.open(deps, limits.auditMaxEntries))
    state.adminHash = admin

    state.rosterMeta = (await store.get(keys.roster, RosterMeta)) ?? { version: 0, issuedAt: 0 }
    state.serial = (await store.get(keys.serial, z.number().int().nonnegative())) ?? 0
    for (const [k, n] of await store.scan('node!', NodeEntry)) {
      state.checkNode(k, n)
      state.nodes.set(n.id, n)
    }
    for (const [k, id] of await store.scan('mac!', z.string())) state.macToNode.set(k.slice(4), id)
    for (const [k, a] of await store.scan('assign!node!', Assignment)) state.nodeAssignments.set(k.slice('assign!node!'.length), a)
    for (const [k, a] of await store.scan('assign!mac!', Assignment)) state.macAssignments.set(k.slice('assign!mac!'.length), a)
    for (const [k, l] of await store.scan('label!node!', NodeLabels)) state.nodeLabels.set(k.slice('label!node!'.length), l)
    for (const [, p] of await store.scan('pending!', PendingEntry)) state.pending.set(p.requestId, p)
    for (const [, r] of await store.scan('retired!', RetiredEntry)) state.retired.set(r.id, r)
    for (const [, o] of await store.scan('operator!', OperatorRecord)) state.operators.set(o.name, o)
    for (const [k, t] of await store.scan('token!', TokenEntry)) {
      if (t.usedBy) continue
      const list = state.tokensByMac.get(t.mac) ?? []
      list.push({ hash: k.slice('token!'.length), expiresAt: t.expiresAt })
      state.tokensByMac.set(t.mac, list)
    }
    for (const list of state.tokensByMac.values()) list.sort((a, b) => a.expiresAt - b.expiresAt)
    if (seal) {
      if (seal.cluster !== meta.id || seal.clusterKey !== state.publicKey) {
        throw new ShoalError('state-corrupt', `${store.dir} holds cluster ${meta.id} but its ${'state-seal.json'} was written for cluster ${seal.cluster}: the data dir was mixed from two controllers; restore it from one backup`)
      }
      if (state.rosterMeta.version < seal.rosterVersion || (state.rosterMeta.version === seal.rosterVersion && state.nodes.size < seal.members)) {
        throw lostEntries(store.dir, seal, `roster version ${state.rosterMeta.version} with ${state.nodes.size} node(s)`)
      }
    }
    await store.writeSeal(state.sealOf())
    return { state, createdAdminToken }
  }

  /** A node entry must agree with its own certificate (two copies of its key): a mismatch names the entry. */
  private checkNode(k: string, n: NodeEntry): void {
    const c = verifyCertificate(n.certificate, this.publicKey, { cluster: this.clusterId, id: n.id, key: n.key })
    if (k !== keys.node(n.id) || !c.ok) {
      throw new ShoalError(
        'state-corrupt',
        `coordinator state entry ${k} is damaged: ${c.ok ? `it holds node ${n.id}` : `its key or id does not match its certificate (${c.reason})`}. Nothing of it is used or published; restore the data dir from a backup (shoal coordinator restore FILE), or find every damaged entry with shoal coordinator check`,
      )
    }
  }

  /** What the seal file remembers: the roster last signed, and how many nodes were on it. */
  sealOf(): StateSeal {
    return { v: 1, cluster: this.clusterId, clusterKey: this.publicKey, rosterVersion: this.rosterMeta.version, members: this.nodes.size, serial: this.serial, at: this.deps.clock.now() }
  }

  /** Waits for the seal file to catch up with the last change (close, backups, tests). */
  flushSeal(): Promise<void> {
    return this.sealing
  }

  get publicKey(): string {
    return this.keyring.publicKey
  }

  get rosterVersion(): number {
    return this.rosterMeta.version
  }

  /** Runs `fn` with no other mutation in flight. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn)
    this.lock = run.catch(() => undefined)
    return run
  }

  /** Checks an admin bearer token in constant time. */
  isAdmin(token: string | undefined): boolean {
    if (!token || !this.adminHash) return false
    const a = Buffer.from(adminHash(token), 'hex')
    const b = Buffer.from(this.adminHash, 'hex')
    return a.length === b.length && timingSafeEqual(a, b)
  }

  // --- roster ----------------------------------------------------------------------------

  roster(): SignedRoster {
    if (!this.signedRoster || this.signedRoster.version !== this.rosterMeta.version) {
      const members = [...this.rosterExtras, ...[...this.nodes.values()].map((n) => ({ id: n.id, key: n.key }))]
      this.signedRoster = signRoster({ v: ENROLL_API_VERSION, cluster: this.clusterId, version: this.rosterMeta.version, issuedAt: this.rosterMeta.issuedAt, members }, this.keyring)
    }
    return this.signedRoster
  }

  /** Adds entries to every roster signed from now on (set at start, before any request). */
  setRosterExtras(entries: { id: string; key: string }[]): void {
    this.rosterExtras = entries.filter((e) => !this.nodes.has(e.id))
    this.signedRoster = undefined
  }

  /** Ops that bump the roster version; apply with `applyRosterBump` after the batch. */
  rosterBumpOps(): { ops: Op[]; next: RosterMeta } {
    const next = { version: this.rosterMeta.version + 1, issuedAt: this.deps.clock.now() }
    return { ops: [{ type: 'put', key: keys.roster, value: next }], next }
  }
  applyRosterBump(next: RosterMeta): void {
    this.rosterMeta = next
    this.signedRoster = undefined
    // Coalesced: at most one write queued behind the one in flight, and it writes the state
    // current when it runs. A seal that lags the database is safe (only one ahead of it is an error).
    if (this.sealQueued) return
    this.sealQueued = true
    this.sealing = this.sealing.then(async () => {
      this.sealQueued = false
      await this.deps.store.writeSeal(this.sealOf()).catch((err) => this.deps.log.warn({ component: 'state', err: (err as Error).message }, 'cannot write the state seal'))
    })
  }

  nextSerialOps(): { serial: number; ops: Op[] } {
    const serial = this.serial + 1
    return { serial, ops: [{ type: 'put', key: keys.serial, value: serial }] }
  }
  applySerial(serial: number): void {
    this.serial = serial
  }

  // --- tokens ----------------------------------------------------------------------------

  /**
   * Issues a join token bound to `mac`; drops the oldest unused ones of THAT MAC past
   * maxTokensPerMac. With maxTokens unused tokens live in all, a MAC with no token of its
   * own to recycle is refused ('too-many-tokens'): one MAC's requests never evict another's token.
   */
  issueToken(mac: string): Promise<{ token: string; expiresAt: number }> {
    return this.exclusive(async () => {
      const now = this.deps.clock.now()
      const max = this.limits.maxTokens
      if (max !== undefined && (this.tokensByMac.get(mac)?.length ?? 0) < this.limits.maxTokensPerMac && this.liveTokenCount(now) >= max) {
        throw new ShoalError('too-many-tokens', `${max} unused join tokens are live (maxTokens); no new one until some are used or expire (in at most ${Math.round(this.limits.joinTokenTtlMs / 1000)} s)`)
      }
      const token = hex(this.deps.random(32))
      const hash = tokenHash(token)
      const entry: TokenEntry = { mac, issuedAt: now, expiresAt: now + this.limits.joinTokenTtlMs }
      const list = (this.tokensByMac.get(mac) ?? []).filter((t) => t.expiresAt > now)
      const expired = (this.tokensByMac.get(mac) ?? []).filter((t) => t.expiresAt <= now)
      const ops: Op[] = [{ type: 'put', key: keys.token(hash), value: entry }]
      for (const t of expired) ops.push({ type: 'del', key: keys.token(t.hash) })
      list.push({ hash, expiresAt: entry.expiresAt })
      while (list.length > this.limits.maxTokensPerMac) ops.push({ type: 'del', key: keys.token(list.shift()!.hash) })
      await this.deps.store.batch(ops)
      this.tokensByMac.set(mac, list)
      return { token, expiresAt: entry.expiresAt }
    })
  }

  private liveTokenCount(now: number): number {
    let n = 0
    for (const list of this.tokensByMac.values()) for (const t of list) if (t.expiresAt > now) n++
    return n
  }

  getToken(hash: string): Promise<TokenEntry | undefined> {
    return this.deps.store.get(keys.token(hash), TokenEntry)
  }

  /** Called after a token was consumed (batch committed): it no longer counts as unused. */
  markTokenUsed(mac: string, hash: string): void {
    const list = this.tokensByMac.get(mac)
    if (list) this.tokensByMac.set(mac, list.filter((t) => t.hash !== hash))
  }

  // --- images ----------------------------------------------------------------------------

  /** The image assigned to a node or MAC, if any (node assignment wins). */
  assignedImage(nodeId: string | undefined, mac: string | undefined): string | undefined {
    if (nodeId !== undefined) {
      const a = this.nodeAssignments.get(nodeId)
      if (a) return a.image
    }
    if (mac !== undefined) return this.macAssignments.get(mac)?.image
    return undefined
  }

  /** A MAC is known when a node enrolled with it or an admin assigned it an image. */
  isKnownMac(mac: string): boolean {
    return this.macToNode.has(mac) || this.macAssignments.has(mac)
  }

  assign(target: { node?: string; mac?: string }, image: string, by: string): Promise<Assignment> {
    return this.exclusive(async () => {
      const now = this.deps.clock.now()
      const a: Assignment = { image, at: now, by }
      if (target.node !== undefined) {
        if (!this.nodes.has(target.node)) throw new ShoalError('not-found', `no enrolled node "${target.node}" (see: shoal coordinator nodes); to prepare a machine that has not enrolled, assign by --mac`)
        await this.deps.store.batch([{ type: 'put', key: keys.assignNode(target.node), value: a }, this.auditOp({ at: now, kind: 'assign', node: target.node, image, detail: { by } })])
        this.nodeAssignments.set(target.node, a)
      } else if (target.mac !== undefined) {
        await this.deps.store.batch([{ type: 'put', key: keys.assignMac(target.mac), value: a }, this.auditOp({ at: now, kind: 'assign', mac: target.mac, image, detail: { by } })])
        this.macAssignments.set(target.mac, a)
      } else {
        throw new ShoalError('usage', 'assign needs a node id or a MAC')
      }
      return a
    })
  }

  /**
   * Sets (or with `domain: null` clears) a node's failure-domain label; it is written into
   * the node's boot script as `shoal.domain=` and takes effect at its next boot.
   */
  label(node: string, domain: string | null, by: string): Promise<NodeLabels | undefined> {
    return this.exclusive(async () => {
      if (!this.nodes.has(node)) throw new ShoalError('not-found', `no enrolled node "${node}" (see: shoal coordinator nodes)`)
      const now = this.deps.clock.now()
      const audit = this.auditOp({ at: now, kind: 'label', node, detail: { domain, by } })
      if (domain === null) {
        await this.deps.store.batch([{ type: 'del', key: keys.labelNode(node) }, audit])
        this.nodeLabels.delete(node)
        return undefined
      }
      const l: NodeLabels = NodeLabels.parse({ domain, at: now, by })
      await this.deps.store.batch([{ type: 'put', key: keys.labelNode(node), value: l }, audit])
      this.nodeLabels.set(node, l)
      return l
    })
  }

  /**
   * Removes a node from the roster (its certificate stays valid offline until peers see the
   * new roster). With `retire` (a decommission), its id, parts and MACs are kept as a
   * retired entry in the same batch: a machine that comes back with them is a new machine
   * or refused, as `retire.returning` says (enrollment.ts retiredMatch).
   */
  removeNode(id: string, by: string, retire?: { returning: ReturningPolicy; wave?: string }): Promise<void> {
    return this.exclusive(async () => {
      const node = this.nodes.get(id)
      if (!node) throw new ShoalError('not-found', `no enrolled node "${id}" (see: shoal coordinator nodes)`)
      const now = this.deps.clock.now()
      const bump = this.rosterBumpOps()
      const ops: Op[] = [{ type: 'del', key: keys.node(id) }, { type: 'del', key: keys.assignNode(id) }, { type: 'del', key: keys.labelNode(id) }, ...bump.ops]
      for (const mac of node.macs) if (this.macToNode.get(mac) === id) ops.push({ type: 'del', key: keys.mac(mac) })
      const retired: RetiredEntry | undefined = retire ? { id, comps: node.comps, macs: node.macs, returning: retire.returning, at: now, by, ...(retire.wave ? { wave: retire.wave } : {}) } : undefined
      if (retired) ops.push({ type: 'put', key: keys.retired(id), value: retired })
      ops.push(this.auditOp({ at: now, kind: 'remove', node: id, detail: { by, ...(retired ? { retired: { returning: retired.returning } } : {}) } }))
      await this.deps.store.batch(ops)
      this.nodes.delete(id)
      this.nodeAssignments.delete(id)
      this.nodeLabels.delete(id)
      for (const mac of node.macs) if (this.macToNode.get(mac) === id) this.macToNode.delete(mac)
      if (retired) this.retired.set(id, retired)
      this.applyRosterBump(bump.next)
    })
  }

  /**
   * Lifts a retirement (`shoal coordinator forget-retired NODE`): the machine enrolls at its
   * next try like any machine. Audited. Not retired: not-found, listing the retired ids.
   */
  forgetRetired(id: string, by: string): Promise<RetiredEntry> {
    return this.exclusive(async () => {
      const r = this.retired.get(id)
      if (!r) throw new ShoalError('not-found', `node "${id}" is not retired (retired now: ${[...this.retired.keys()].sort().join(', ') || 'none'}; see: shoal coordinator retired)`)
      const now = this.deps.clock.now()
      await this.deps.store.batch([{ type: 'del', key: keys.retired(id) }, this.auditOp({ at: now, kind: 'forget-retired', node: id, detail: { by, returning: r.returning, retiredAt: r.at, retiredBy: r.by } })])
      this.retired.delete(id)
      this.retiredRefusals.delete(id)
      return r
    })
  }

  // --- audit (audit-log.ts) ------------------------------------------------------------

  /** An audit entry's write, for the caller's batch. */
  auditOp(entry: AuditEntry): Op {
    return this.auditLog.op(entry)
  }

  /** Appends one audit entry on its own (image downloads, boot scripts). */
  audit(entry: Omit<AuditEntry, 'at'>): Promise<void> {
    return this.auditLog.append(entry)
  }

  /** A refused request worth a trace, written at most once a minute per kind and subject (AuditLog.refusal). Never throws. */
  auditRefusal(what: string, subject: string, entry: Omit<AuditEntry, 'at' | 'kind' | 'detail'> & { detail?: Record<string, unknown> }, kind: AuditEntry['kind'] = 'refused'): void {
    this.auditLog.refusal(what, subject, entry, kind)
  }

  /** Counts (and audits, bounded) an enrollment refused because `id`'s holder is alive. */
  noteCloneRefusal(id: string, from: { mac: string; remote?: string; key: string }): void {
    const c = this.cloneRefusals.get(id)
    const now = this.deps.clock.now()
    this.cloneRefusals.set(id, { count: (c?.count ?? 0) + 1, lastAt: now, lastMac: from.mac, ...(from.remote ? { lastRemote: from.remote } : {}) })
    this.auditRefusal('id-in-use', id, { node: id, mac: from.mac, ...(from.remote ? { remote: from.remote } : {}), detail: { key: from.key } })
  }

  /** Counts (and audits, at most once a minute per id) an enrollment refused because the machine is retired id `id`. */
  noteRetiredRefusal(id: string, from: { mac: string; remote?: string; proposedId: string }): void {
    const c = this.retiredRefusals.get(id)
    this.retiredRefusals.set(id, { count: (c?.count ?? 0) + 1, lastAt: this.deps.clock.now(), lastMac: from.mac })
    this.auditRefusal('retired', id, { node: id, mac: from.mac, ...(from.remote ? { remote: from.remote } : {}), detail: { code: 'retired', proposedId: from.proposedId } })
  }

  listAudit(opts: { limit: number; sinceMs?: number; kind?: string }): Promise<AuditEntry[]> {
    return this.auditLog.list(opts)
  }

  // --- housekeeping ----------------------------------------------------------------------

  /** Deletes expired unused tokens, used ones past the retry window and stale approval requests. Returns how many. */
  sweep(): Promise<number> {
    return this.exclusive(async () => {
      const now = this.deps.clock.now()
      const ops: Op[] = []
      for (const [k, t] of await this.deps.store.scan('token!', TokenEntry)) {
        const dead = t.usedBy ? now - (t.usedAt ?? 0) > this.limits.enrollRetryWindowMs : now >= t.expiresAt
        if (dead) ops.push({ type: 'del', key: k })
      }
      // Decided requests, and waits whose token can no longer be re-sent, are done.
      const stalePending = [...this.pending.values()].filter((p) => now - (p.decidedAt ?? p.requestedAt) > this.limits.enrollRetryWindowMs)
      for (const p of stalePending) ops.push({ type: 'del', key: keys.pending(p.requestId) })
      await this.deps.store.batch(ops)
      for (const p of stalePending) this.pending.delete(p.requestId)
      for (const [mac, list] of this.tokensByMac) {
        const live = list.filter((t) => t.expiresAt > now)
        if (live.length) this.tokensByMac.set(mac, live)
        else this.tokensByMac.delete(mac)
      }
      return ops.length
    })
  }
}

function lostEntries(dir: string, seal: StateSeal, now: string): ShoalError {
  return new ShoalError(
    'state-lost',
    `the coordinator state in ${dir} lost entries: this coordinator last signed roster version ${seal.rosterVersion} with ${seal.members} node(s) (${new Date(seal.at).toISOString()}), the database now holds ${now} (a damaged LevelDB log drops every entry after the damage). Not starting as if they never existed: restore the data dir from a backup (shoal coordinator restore FILE --data-dir NEW_DIR), or, to accept the loss, delete ${dir}/state-seal.json`,
  )
}

function adminHash(token: string): string {
  return createHash('sha256').update(`shoal/admin/v1\n${token}`).digest('hex')
}
