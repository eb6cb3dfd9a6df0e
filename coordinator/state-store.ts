/**
 * The coordinator's durable state in one level database (LevelDB), keys prefixed by kind:
 *
 *   meta!cluster          the cluster id and its ed25519 seed (the cluster key)
 *   meta!roster           roster version and issue time
 *   meta!serial           last certificate serial
 *   meta!admin            sha256 of the admin token
 *   node!<id>             an enrolled node: current key, fingerprint, MACs, certificate
 *   mac!<mac>             MAC -> node id
 *   token!<sha256(token)> a join token: MAC, expiry, and who used it
 *   assign!node!<id>      image version assigned to a node
 *   assign!mac!<mac>      image version assigned to a MAC before its node enrolled
 *   pending!<requestId>   an enrollment waiting for approval
 *   retired!<id>          a decommissioned node's id and parts: new or refused if it comes back
 *   audit!<ms>!<seq>      audit log: who enrolled, what was served, what an admin did
 *   hash!<version>/<file> cached sha256 of an image file, keyed by size and mtime
 *
 *   meta!integrity        set once every entry is authenticated (see StateStore)
 *
 * Everything a request changes is written in ONE batch, so a crash leaves either the old
 * or the new state. Values are JSON, authenticated by an HMAC per entry and validated
 * with zod when read: a damaged database yields a clear error naming the key, never a
 * half-read state. Beside it, `state-seal.json` remembers the last signed roster version.
 */
import { DOMAIN_RE } from '../agent/protocol/kernel-params/domain-param.js'
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { chmod, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { z } from 'zod'
import { ShoalError } from '../agent/protocol/errors.js'
import { LayerChunks } from '../agent/protocol/layer-chunks.js'
import { InventorySummary, NodeId, PublicKeyHex } from '../agent/protocol/node-record.js'
import { Certificate, ClusterId, Mac } from '../agent/protocol/enroll/index.js'
import { ImageVersion } from '../agent/protocol/image-version.js'

export const ClusterMeta = z.object({ id: ClusterId, seedHex: z.string().regex(/^[0-9a-f]{64}$/), createdAt: z.number() }).strict()
export type ClusterMeta = z.infer<typeof ClusterMeta>
export const RosterMeta = z.object({ version: z.number().int().nonnegative(), issuedAt: z.number() }).strict()
export type RosterMeta = z.infer<typeof RosterMeta>

export const NodeEntry = z
  .object({
    id: NodeId,
    key: PublicKeyHex,
    comps: z.array(z.string()),
    /** The id the agent proposed itself at its last enrollment. */
    proposedId: z.string(),
    macs: z.array(Mac),
    inventory: InventorySummary,
    inventoryDetail: z.unknown().optional(),
    certificate: Certificate,
    firstEnrolledAt: z.number(),
    lastEnrolledAt: z.number(),
    enrollments: z.number().int().positive(),
  })
  .strict()
export type NodeEntry = z.infer<typeof NodeEntry>

export const TokenEntry = z
  .object({
    mac: Mac,
    issuedAt: z.number(),
    expiresAt: z.number(),
    /** Set when consumed: the request it is bound to from then on. */
    usedAt: z.number().optional(),
    usedBy: z.object({ publicKey: PublicKeyHex, digest: z.string() }).strict().optional(),
    /** The node it enrolled, or the approval request it waits in. */
    nodeId: z.string().optional(),
    pendingId: z.string().optional(),
  })
  .strict()
export type TokenEntry = z.infer<typeof TokenEntry>

export const Assignment = z.object({ image: ImageVersion, at: z.number(), by: z.string() }).strict()
export type Assignment = z.infer<typeof Assignment>

/** Per-node labels the operator set (`shoal coordinator label`): written into the node's boot script. */
export const NodeLabels = z.object({ domain: z.string().regex(DOMAIN_RE, 'domain: letters, digits, . _ -').optional(), at: z.number(), by: z.string() }).strict()
export type NodeLabels = z.infer<typeof NodeLabels>

/** A known id claimed from another MAC (`mac`) or with other parts (component digests added/removed). */
export const HardwareChanges = z
  .object({ mac: z.object({ was: z.array(z.string()), now: z.string() }).strict().optional(), added: z.array(z.string()), removed: z.array(z.string()) })
  .strict()
export type HardwareChanges = z.infer<typeof HardwareChanges>

export const PendingEntry = z
  .object({
    requestId: z.string(),
    tokenHash: z.string(),
    mac: Mac,
    publicKey: PublicKeyHex,
    digest: z.string(),
    comps: z.array(z.string()),
    proposedId: z.string(),
    inventory: InventorySummary,
    inventoryDetail: z.unknown().optional(),
    requestedAt: z.number(),
    state: z.enum(['waiting', 'approved', 'rejected']),
    decidedAt: z.number().optional(),
    decidedBy: z.string().optional(),
    /** Approval mode: the known node this machine claims to be, and what differs from its last enrollment. */
    knownId: z.string().optional(),
    changes: HardwareChanges.optional(),
  })
  .strict()
export type PendingEntry = z.infer<typeof PendingEntry>

/**
 * What happens when a decommissioned machine boots again (`shoal node decommission
 * --returning`): `refuse` — its enrollment is refused (403 retired) until an operator lifts
 * it (`shoal coordinator forget-retired NODE`); `new` — it enrolls as a new machine (in
 * approval mode it waits for approval like any stranger).
 */
export const ReturningPolicy = z.enum(['new', 'refuse'])
export type ReturningPolicy = z.infer<typeof ReturningPolicy>

/** A retired id: the node a decommission removed, the parts and MACs it had, and what to do if it comes back. */
export const RetiredEntry = z
  .object({
    id: NodeId,
    comps: z.array(z.string()),
    macs: z.array(Mac),
    returning: ReturningPolicy,
    at: z.number(),
    by: z.string(),
    /** The verb's wave that removed it. */
    wave: z.string().optional(),
  })
  .strict()
export type RetiredEntry = z.infer<typeof RetiredEntry>

export const AuditEntry = z
  .object({
    at: z.number(),
    kind: z.enum(['enroll', 'pending', 'boot-script', 'image', 'approve', 'reject', 'assign', 'remove', 'cluster-created', 'wave', 'lease', 'boot-assign', 'refused', 'operator', 'shell', 'label', 'forget-retired']),
    node: z.string().optional(),
    mac: z.string().optional(),
    remote: z.string().optional(),
    image: z.string().optional(),
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
export type AuditEntry = z.infer<typeof AuditEntry>

export const HashEntry = z.object({ size: z.number(), mtimeMs: z.number(), sha256: z.string(), chunks: LayerChunks.optional() }).strict()
export type HashEntry = z.infer<typeof HashEntry>

export type Op = { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string }

export const keys = {
  cluster: 'meta!cluster',
  roster: 'meta!roster',
  serial: 'meta!serial',
  admin: 'meta!admin',
  node: (id: string) => `node!${id}`,
  mac: (mac: string) => `mac!${mac}`,
  token: (hash: string) => `token!${hash}`,
  assignNode: (id: string) => `assign!node!${id}`,
  assignMac: (mac: string) => `assign!mac!${mac}`,
  labelNode: (id: string) => `label!node!${id}`,
  pending: (rid: string) => `pending!${rid}`,
  retired: (id: string) => `retired!${id}`,
  audit: (at: number, seq: number) => `audit!${String(Math.max(0, Math.floor(at))).padStart(15, '0')}!${String(seq).padStart(9, '0')}`,
  hash: (version: string, file: string) => `hash!${version}/${file}`,
}

/** Where the last signed roster is remembered outside LevelDB (see StateSeal). */
export const SEAL_FILE = 'state-seal.json'

/**
 * What the coordinator last signed, kept in a small file beside the database: LevelDB
 * drops whatever follows a damaged record in its log without an error, so a database that
 * opens with an older roster, fewer nodes, or no cluster at all is noticed, not taken as
 * "those entries never existed".
 */
export const StateSeal = z
  .object({ v: z.literal(1), cluster: z.string(), clusterKey: z.string(), rosterVersion: z.number().int().nonnegative(), members: z.number().int().nonnegative(), serial: z.number().int().nonnegative(), at: z.number() })
  .strict()
export type StateSeal = z.infer<typeof StateSeal>

const SEALED = 'S1:'
const MARKER = 'meta!integrity'

/** The integrity key: HMAC-SHA256 keyed by the cluster seed, so a database copy without the seed cannot forge entries and a flipped byte never verifies. */
export function integrityKey(seedHex: string): Buffer {
  return createHmac('sha256', Buffer.from(seedHex, 'hex')).update('shoal/state-integrity/v1').digest()
}

function entryMac(key: Buffer, k: string, json: string): string {
  return createHmac('sha256', key).update(k).update('\n').update(json).digest('hex')
}

export interface StateStoreOptions {
  /** Authenticate every entry (default). Off only for the benchmark that measures its cost. */
  integrity?: boolean
}

/**
 * A thin typed layer over level: validated reads, atomic batches, prefix scans, and
 * integrity. Every value is stored as `S1:<hmac>:<json>`, the HMAC over key and JSON with
 * a key derived from the cluster seed (`integrityKey`); a value that does not verify is an
 * error naming its key, never returned. Until the cluster exists (no seed yet) the store
 * is unkeyed and writes plain JSON; `unlock` seals whatever was written before (and the
 * entries of a data dir from before integrity) and from then on accepts nothing unsealed.
 */
export class StateStore {
  private key: Buffer | undefined
  private constructor(
    private readonly db: Level<string, string>,
    readonly dir: string,
    readonly integrity: boolean,
  ) {}

  static async open(dir: string, opts: StateStoreOptions = {}): Promise<StateStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await chmod(dir, 0o700).catch(() => undefined)
    const db = new Level<string, string>(dir, { valueEncoding: 'utf8' })
    try {
      await db.open()
    } catch (err) {
      throw openError(dir, err)
    }
    await privateFiles(dir)
    return new StateStore(db, dir, opts.integrity ?? true)
  }

  /** True once the store authenticates entries (the cluster seed is known). */
  get keyed(): boolean {
    return this.key !== undefined
  }

  /**
   * The cluster entry, read before any key is known: it is authenticated by the key
   * derived from the seed it holds (a flipped byte in the seed or its MAC never verifies).
   */
  async readCluster<T>(schema: z.ZodType<T & { seedHex: string }>): Promise<T | undefined> {
    const text = await this.db.get(keys.cluster)
    if (text === undefined) return undefined
    const { json, mac } = split(text)
    const value = parseEntry(keys.cluster, json, schema)
    if (this.integrity && mac !== undefined && mac !== entryMac(integrityKey(value.seedHex), keys.cluster, json)) throw damaged(keys.cluster, 'it fails authentication: changed on disk')
    return value
  }

  /**
   * Keys the store with the cluster seed. A data dir written before integrity (no marker)
   * has its entries sealed now, in one batch; one with the marker must have every entry sealed.
   */
  async unlock(seedHex: string): Promise<{ sealed: number }> {
    if (!this.integrity) return { sealed: 0 }
    this.key = integrityKey(seedHex)
    if ((await this.db.get(MARKER)) !== undefined) {
      await this.get(MARKER, z.object({ since: z.number() }).strict())
      return { sealed: 0 }
    }
    const ops: { type: 'put'; key: string; value: string }[] = []
    for await (const [k, text] of this.db.iterator()) {
      const { json, mac } = split(text)
      if (mac !== undefined) continue
      ops.push({ type: 'put', key: k, value: this.seal(k, json) })
    }
    ops.push({ type: 'put', key: MARKER, value: this.seal(MARKER, JSON.stringify({ since: Date.now() })) })
    await this.db.batch(ops)
    return { sealed: ops.length - 1 }
  }

  /** Keys the store without writing anything (offline checks: `shoal coordinator check`). */
  useKey(seedHex: string): void {
    if (this.integrity) this.key = integrityKey(seedHex)
  }

  private seal(k: string, json: string): string {
    return this.key ? `${SEALED}${entryMac(this.key, k, json)}:${json}` : json
  }

  private encode(k: string, value: unknown): string {
    const json = JSON.stringify(value)
    if (json === undefined) throw new ShoalError('state', `cannot store ${k}: value is not JSON`)
    return this.seal(k, json)
  }

  /** The JSON of a stored value, authenticated when the store is keyed. */
  private open(k: string, text: string): string {
    const { json, mac } = split(text)
    if (this.integrity && this.key) {
      if (mac === undefined) throw damaged(k, 'it is not authenticated (written by hand or by a tool other than the coordinator)')
      if (mac.length !== 64 || !timingSafeEqual(Buffer.from(mac, 'latin1'), Buffer.from(entryMac(this.key, k, json), 'latin1'))) throw damaged(k, 'it fails authentication: changed on disk')
    }
    return json
  }

  async get<T>(key: string, schema: z.ZodType<T>): Promise<T | undefined> {
    const raw = await this.db.get(key)
    if (raw === undefined) return undefined
    return parseEntry(key, this.open(key, raw), schema)
  }

  async batch(ops: Op[]): Promise<void> {
    if (ops.length === 0) return
    await this.db.batch(ops.map((o) => (o.type === 'put' ? { type: 'put' as const, key: o.key, value: this.encode(o.key, o.value) } : { type: 'del' as const, key: o.key })))
  }

  async put(key: string, value: unknown): Promise<void> {
    await this.db.put(key, this.encode(key, value))
  }

  /** Entries whose key starts with `prefix`, in key order (or reversed), authenticated and validated. */
  async scan<T>(prefix: string, schema: z.ZodType<T>, opts: { limit?: number; reverse?: boolean; gte?: string } = {}): Promise<[string, T][]> {
    const out: [string, T][] = []
    for await (const [k, v] of this.db.iterator({ gte: opts.gte ?? prefix, lt: `${prefix}\xff`, reverse: opts.reverse, limit: opts.limit ?? -1 })) {
      out.push([k, parseEntry(k, this.open(k, v), schema)])
    }
    return out
  }

  /** Keys only, for pruning. */
  async keysWithPrefix(prefix: string, limit = -1): Promise<string[]> {
    const out: string[] = []
    for await (const k of this.db.keys({ gte: prefix, lt: `${prefix}\xff`, limit })) out.push(k)
    return out
  }

  /** Every entry, authenticated and parsed: for tests that assert "nothing stored changed". */
  async dump(): Promise<[string, unknown][]> {
    const out: [string, unknown][] = []
    for await (const [k, v] of this.db.iterator()) out.push([k, JSON.parse(this.open(k, v))])
    return out
  }

  /** Every entry as stored (sealed text), from one snapshot: what a backup holds. */
  async *raw(): AsyncGenerator<[string, string]> {
    for await (const [k, v] of this.db.iterator()) yield [k, v]
  }

  /** Checks one stored value as the store would read it; the problem in words, or undefined. */
  verifyRaw(k: string, text: string): { json?: string; problem?: string } {
    try {
      return { json: this.open(k, text) }
    } catch (err) {
      return { problem: (err as Error).message }
    }
  }

  /** Writes raw (sealed) entries as they are: restore. */
  async putRaw(entries: [string, string][]): Promise<void> {
    await this.db.batch(entries.map(([key, value]) => ({ type: 'put' as const, key, value })))
  }

  async readSeal(): Promise<StateSeal | undefined> {
    const text = await readFile(join(this.dir, SEAL_FILE), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined
      throw err
    })
    if (text === undefined) return undefined
    try {
      const { seal, sha256 } = z.object({ seal: StateSeal, sha256: z.string() }).strict().parse(JSON.parse(text))
      if (createHash('sha256').update(JSON.stringify(seal)).digest('hex') !== sha256) throw new Error('checksum mismatch')
      return seal
    } catch (err) {
      throw new ShoalError('state-corrupt', `${join(this.dir, SEAL_FILE)} is damaged (${(err as Error).message}); restore the data dir from a backup (shoal coordinator restore FILE)`)
    }
  }

  /** Replaces the seal file atomically (0600). */
  async writeSeal(seal: StateSeal): Promise<void> {
    const file = join(this.dir, SEAL_FILE)
    const tmp = `${file}.tmp`
    await writeFile(tmp, JSON.stringify({ seal, sha256: createHash('sha256').update(JSON.stringify(seal)).digest('hex') }) + '\n', { mode: 0o600 })
    await rename(tmp, file)
  }

  async close(): Promise<void> {
    await this.db.close()
    await privateFiles(this.dir)
  }
}

function split(text: string): { json: string; mac?: string } {
  if (!text.startsWith(SEALED)) return { json: text }
  const end = text.indexOf(':', SEALED.length)
  if (end < 0) return { json: text.slice(SEALED.length), mac: '' }
  return { mac: text.slice(SEALED.length, end), json: text.slice(end + 1) }
}

function damaged(k: string, why: string): ShoalError {
  return new ShoalError('state-corrupt', `coordinator state entry ${k} is damaged: ${why}. Nothing of it is used or published; restore the data dir from a backup (shoal coordinator restore FILE), or find every damaged entry with shoal coordinator check`)
}

function parseEntry<T>(k: string, json: string, schema: z.ZodType<T>): T {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch {
    throw damaged(k, 'it is not valid JSON')
  }
  const r = schema.safeParse(raw)
  if (!r.success) throw damaged(k, `${r.error.issues[0]?.path.join('.') || 'value'}: ${r.error.issues[0]?.message}`)
  return r.data
}

/** LevelDB's open errors, told apart: a lock held by another process, or damage. */
function openError(dir: string, err: unknown): ShoalError {
  const text = `${(err as Error).message} ${((err as { cause?: Error }).cause?.message ?? '')}`
  if (/lock/i.test(text) && /(unavailable|already held|temporarily)/i.test(text)) {
    return new ShoalError('state-unavailable', `cannot open the coordinator state in ${dir}: another coordinator (or shoal coordinator check) is using this data dir; stop it first`, { cause: err })
  }
  if (/corrupt|manifest|checksum|bad magic|truncated/i.test(text)) {
    return new ShoalError('state-corrupt', `the coordinator state in ${dir} is damaged (${text.trim()}); restore it from a backup onto a fresh data dir: shoal coordinator restore FILE --data-dir DIR`, { cause: err })
  }
  return new ShoalError('state-unavailable', `cannot open the coordinator state in ${dir}: ${text.trim()}`, { cause: err })
}

/** The data dir holds the cluster seed: owner-only files (LevelDB creates its own with the umask). */
async function privateFiles(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isFile()) await chmod(join(dir, e.name), 0o600).catch(() => undefined)
  }
}
