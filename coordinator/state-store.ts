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
 *   audit!<ms>!<seq>      audit log: who enrolled, what was served, what an admin did
 *   hash!<version>/<file> cached sha256 of an image file, keyed by size and mtime
 *
 * Everything a request changes is written in ONE batch, so a crash leaves either the old
 * or the new state. Values are JSON and are validated with zod when read: a damaged
 * database yields a clear error naming the key, never a half-read state.
 */
import { Level } from 'level'
import { z } from 'zod'
import { ShoalError } from '../agent/protocol/errors.js'
import { InventorySummary, NodeId, PublicKeyHex } from '../agent/protocol/node-record.js'
import { Certificate, ClusterId, ImageVersion, Mac } from './enroll-api.js'

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

export const AuditEntry = z
  .object({
    at: z.number(),
    kind: z.enum(['enroll', 'pending', 'boot-script', 'image', 'approve', 'reject', 'assign', 'remove', 'cluster-created', 'wave', 'lease', 'boot-assign', 'refused']),
    node: z.string().optional(),
    mac: z.string().optional(),
    remote: z.string().optional(),
    image: z.string().optional(),
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
export type AuditEntry = z.infer<typeof AuditEntry>

export const HashEntry = z.object({ size: z.number(), mtimeMs: z.number(), sha256: z.string() }).strict()
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
  pending: (rid: string) => `pending!${rid}`,
  audit: (at: number, seq: number) => `audit!${String(Math.max(0, Math.floor(at))).padStart(15, '0')}!${String(seq).padStart(9, '0')}`,
  hash: (version: string, file: string) => `hash!${version}/${file}`,
}

/** A thin typed layer over level: validated reads, atomic batches, prefix scans. */
export class StateStore {
  private constructor(private readonly db: Level<string, unknown>) {}

  static async open(dir: string): Promise<StateStore> {
    const db = new Level<string, unknown>(dir, { valueEncoding: 'json' })
    try {
      await db.open()
    } catch (err) {
      throw new ShoalError(
        'state-unavailable',
        `cannot open the coordinator state in ${dir}: ${(err as Error).message} (is another coordinator running on this data dir?)`,
        { cause: err },
      )
    }
    return new StateStore(db)
  }

  async get<T>(key: string, schema: z.ZodType<T>): Promise<T | undefined> {
    const raw = await this.db.get(key)
    if (raw === undefined) return undefined
    const r = schema.safeParse(raw)
    if (!r.success) throw new ShoalError('state-corrupt', `coordinator state entry ${key} is damaged (${r.error.issues[0]?.message}); restore the data dir from a backup or delete that entry`)
    return r.data
  }

  async batch(ops: Op[]): Promise<void> {
    if (ops.length === 0) return
    await this.db.batch(ops.map((o) => (o.type === 'put' ? { type: 'put' as const, key: o.key, value: o.value } : { type: 'del' as const, key: o.key })))
  }

  async put(key: string, value: unknown): Promise<void> {
    await this.db.put(key, value)
  }

  /** Entries whose key starts with `prefix`, in key order (or reversed), validated. */
  async scan<T>(prefix: string, schema: z.ZodType<T>, opts: { limit?: number; reverse?: boolean; gte?: string } = {}): Promise<[string, T][]> {
    const out: [string, T][] = []
    for await (const [k, v] of this.db.iterator({ gte: opts.gte ?? prefix, lt: `${prefix}\xff`, reverse: opts.reverse, limit: opts.limit ?? -1 })) {
      const r = schema.safeParse(v)
      if (!r.success) throw new ShoalError('state-corrupt', `coordinator state entry ${k} is damaged (${r.error.issues[0]?.message})`)
      out.push([k, r.data])
    }
    return out
  }

  /** Keys only, for pruning. */
  async keysWithPrefix(prefix: string, limit = -1): Promise<string[]> {
    const out: string[] = []
    for await (const k of this.db.keys({ gte: prefix, lt: `${prefix}\xff`, limit })) out.push(k)
    return out
  }

  /** Every entry, raw: for tests that assert "nothing stored changed" and for backups. */
  async dump(): Promise<[string, unknown][]> {
    const out: [string, unknown][] = []
    for await (const [k, v] of this.db.iterator()) out.push([k, v])
    return out
  }

  async close(): Promise<void> {
    await this.db.close()
  }
}
