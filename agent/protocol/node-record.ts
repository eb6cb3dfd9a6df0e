/**
 * NodeRecord: the one piece of state each node owns about itself, signed by its own key
 * and disseminated to every agent. Ordering between two records of one origin is
 * (incarnation, version); version is a hybrid counter: max(previous + 1, clock ms), so
 * a node that rebooted (RAM only, nothing remembered) still publishes newer records.
 */
import { z } from 'zod'
import { Bytes, keepUnknown, pack, unpack } from './frame.js'
import type { Keyring } from './ports.js'
import { StopFacts } from './stop-facts.js'
import { RecordImage } from './image-version.js'
import { quickRecordCheck } from './record-check.js'
import { signAs, verifyAs } from './signing.js'

/** Lifecycle of a worker as the operator sees it. */
export const Phase = z.enum(['booting', 'joining', 'ready', 'draining', 'rebooting', 'verifying', 'failed', 'leaving'])
export type Phase = z.infer<typeof Phase>

export const NodeId = z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'node id: letters, digits, . _ - only')
export const PublicKeyHex = z.string().regex(/^[0-9a-f]{64}$/, 'public key: 64 hex characters')

/** What travels about hardware; the full Inventory is fetched on demand (agent/inventory). */
export const InventorySummary = keepUnknown(
  z.object({
    vendor: z.string().max(128).optional(),
    product: z.string().max(128).optional(),
    cpuModel: z.string().max(128).optional(),
    cpuCores: z.number().int().nonnegative().optional(),
    memoryBytes: z.number().nonnegative().optional(),
    disks: z.number().int().nonnegative().optional(),
    diskBytes: z.number().nonnegative().optional(),
    nics: z.number().int().nonnegative().optional(),
    gpus: z.number().int().nonnegative().optional(),
  }),
)
export type InventorySummary = z.infer<typeof InventorySummary>

export const Severity = z.enum(['info', 'warning', 'critical'])
export const HealthCondition = keepUnknown(
  z.object({
    id: z.string().max(64),
    severity: Severity,
    since: z.number(),
    message: z.string().max(256),
    source: z.string().max(32),
  }),
)
export type HealthCondition = z.infer<typeof HealthCondition>

/** Health as gossiped: overall status plus at most 16 named conditions (agent/health fills it). */
export const HealthSummary = keepUnknown(
  z.object({
    status: z.enum(['ok', 'warning', 'critical', 'unknown']),
    kubeletReady: z.boolean().optional(),
    osdsUp: z.number().int().nonnegative().optional(),
    osdsTotal: z.number().int().nonnegative().optional(),
    conditions: z.array(HealthCondition).max(16),
    /**
     * The node's own verdicts of the reboot gates (agent/health), as of `at`: `pre` — it
     * could go down now (Ceph ok-to-stop for its OSDs with what is down now, drain
     * possible); `post` — it is fully back. Voters rank and judge candidates by these.
     * `preWith` (additive): the hosts `pre` counted as stopped together with this one — every
     * node it saw down, holding a slot or rebooting (agent/protocol/joint-safety.ts). Absent:
     * an agent that asks for itself alone; voters then accept it only when nothing else is down.
     */
    gates: keepUnknown(
      z.object({
        pre: z.boolean(),
        post: z.boolean(),
        at: z.number(),
        preWith: z.array(NodeId).max(1024).optional(),
        /** Why `pre` fails, in the gate's words (first few): what status shows for a waiting node. */
        why: z.array(z.string().max(200)).max(6).optional(),
      }),
    ).optional(),
    /** The facts that decide whether this node could ever go down on its own (agent/protocol/stop-facts.ts). */
    stop: StopFacts.optional(),
  }),
)
export type HealthSummary = z.infer<typeof HealthSummary>

/**
 * What taking this node down would disturb: the reboot ranking's inputs ("least
 * turbulence", docs/vote.md). `pods` and `load` since the first minor; `blocked`, `pgs` and
 * `primaries` are additive (an older agent omits them and is read as 0; an older reader
 * keeps and ignores them).
 */
export const Workload = keepUnknown(
  z.object({
    /** Pods a drain would evict (kubectl drain --ignore-daemonsets: no DaemonSet or mirror pods). */
    pods: z.number().int().nonnegative(),
    /** 1-minute load average per CPU core (agent/health/workload.ts). */
    load: z.number().nonnegative(),
    /** Of `pods`, those a PodDisruptionBudget (or a missing controller) refuses to evict now. */
    blocked: z.number().int().nonnegative().optional(),
    /** Placement groups with a replica on this node's OSDs (`ceph pg dump pgs_brief`: acting sets). */
    pgs: z.number().int().nonnegative().optional(),
    /** Of `pgs`, those whose acting primary is one of this node's OSDs: each re-peers when it stops. */
    primaries: z.number().int().nonnegative().optional(),
  }),
)
export type Workload = z.infer<typeof Workload>

/** The ranking's inputs as the vote reads them (NodeFacts), from a record's `work`: what is not published is 0. */
export function workFacts(w: Workload | undefined): { pods: number; load: number; blocked: number; pgs: number; primaries: number } {
  return { pods: w?.pods ?? 0, load: w?.load ?? 0, blocked: w?.blocked ?? 0, pgs: w?.pgs ?? 0, primaries: w?.primaries ?? 0 }
}

export const NodeRecordBody = keepUnknown(
  z.object({
    id: NodeId,
    key: PublicKeyHex,
    inc: z.number().int().nonnegative(),
    ver: z.number().int().nonnegative(),
    image: RecordImage,
    phase: Phase,
    domain: z.string().max(64),
    /** host:port of this agent's HTTP API, so any agent can point a client at it. */
    api: z.string().max(128).optional(),
    /**
     * host:port of this agent's mesh socket (its DHT node, reachable there): peers that want
     * a link dial it straight, with no DHT lookup first. Absent from agents without a bound
     * address, and from older builds (their peers look them up as before).
     */
    mesh: z.string().max(128).optional(),
    inv: InventorySummary,
    health: HealthSummary,
    /** Component digest (agent/fingerprint): "kind:hash" strings, so peers can resolve ids. */
    comps: z.array(z.string().max(80)).max(64),
    work: Workload.optional(),
  }),
)
export type NodeRecordBody = z.infer<typeof NodeRecordBody>

/** A record as it travels: the exact signed bytes, so no canonical re-encoding is needed. */
export const SignedRecord = keepUnknown(z.object({ body: Bytes, sig: Bytes }))
export type SignedRecord = z.infer<typeof SignedRecord>

export interface VerifiedRecord {
  readonly body: NodeRecordBody
  readonly signed: SignedRecord
}

export function signRecord(body: NodeRecordBody, keyring: Keyring): VerifiedRecord {
  const bytes = pack(NodeRecordBody.parse(body))
  return { body, signed: { body: bytes, sig: signAs('record', bytes, keyring) } }
}

export type RecordCheck = { ok: true; record: VerifiedRecord } | { ok: false; reason: 'schema' | 'bad-signature' | 'malformed' }

/**
 * Verified records by signature: checking the same bytes again gives the same answer
 * whoever checks, so one process (the simulator: N nodes) verifies each record once.
 * A hit still compares the body bytes. Bounded twice: the newest VERIFIED_PER_MEMBER
 * versions of each member (an older version only comes back as a stale copy, and a miss
 * costs one verification, never a wrong answer), and VERIFIED_MAX in all. With the total
 * alone an agent kept every version it ever saw up to 50,000 (~75 MB after enough boots
 * and waves); now it keeps about two per member.
 */
const verified = new Map<string, VerifiedRecord>()
const VERIFIED_MAX = 50_000
const VERIFIED_PER_MEMBER = 2
/** Per member id, the signature keys of its versions in `verified`, oldest first. */
const verifiedOf = new Map<string, string[]>()

function remember(key: string, record: VerifiedRecord): void {
  if (verified.size >= VERIFIED_MAX) forget(verified.keys().next().value!)
  verified.set(key, record)
  const id = record.body.id
  let keys = verifiedOf.get(id)
  if (!keys) verifiedOf.set(id, (keys = []))
  keys.push(key)
  if (keys.length > VERIFIED_PER_MEMBER) verified.delete(keys.shift()!)
}

function forget(key: string): void {
  const record = verified.get(key)
  verified.delete(key)
  if (!record) return
  const keys = verifiedOf.get(record.body.id)
  if (!keys) return
  const left = keys.filter((k) => k !== key)
  if (left.length === 0) verifiedOf.delete(record.body.id)
  else verifiedOf.set(record.body.id, left)
}

/** How many verified records this process keeps, and for how many members (tests). */
export function verifiedCacheSize(): { records: number; members: number } {
  return { records: verified.size, members: verifiedOf.size }
}
/** The same, by the signed object itself: the simulator hands one object to all its holders, and a lookup by identity skips the key. */
const bySigned = new WeakMap<SignedRecord, VerifiedRecord>()

function sigKey(sig: Uint8Array): string {
  return Buffer.from(sig.buffer, sig.byteOffset, sig.byteLength).toString('base64')
}

/** Native compare (a byte loop in JS ran interpreted under the agent's --no-opt). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

/** Decodes and checks a record's signature against the key the record names. */
export function openRecord(signed: SignedRecord, keyring: Keyring): RecordCheck {
  const same = bySigned.get(signed)
  if (same) return { ok: true, record: same }
  const key = sigKey(signed.sig)
  const hit = verified.get(key)
  // The same signed object (the simulator shares one per record): the same VerifiedRecord,
  // so N holders of a record hold one object, not N.
  if (hit && hit.signed === signed) {
    bySigned.set(signed, hit)
    return { ok: true, record: hit }
  }
  if (hit && sameBytes(hit.signed.body, signed.body)) return { ok: true, record: { body: hit.body, signed } }
  const check = openRecordUncached(signed, keyring)
  if (check.ok) {
    remember(key, check.record)
    bySigned.set(signed, check.record)
  }
  return check
}

/**
 * The body of a record already verified with these very bytes, or undefined: a copy of a
 * record we checked before needs no decoding to be named (record-head.ts). Compares the
 * bytes, so a forged body under a known signature is not mistaken for the verified one.
 */
export function verifiedBody(signed: SignedRecord): NodeRecordBody | undefined {
  const same = bySigned.get(signed)
  if (same) return same.body
  const hit = verified.get(sigKey(signed.sig))
  return hit && sameBytes(hit.signed.body, signed.body) ? hit.body : undefined
}

/**
 * The receive path reads a new record's head (record-head.ts) just before it opens the
 * record: the head's decode is kept here, one slot, so the body is unpacked once. Taken
 * (cleared) by the open that follows; any other bytes decode afresh.
 */
let lastDecoded: { bytes: Uint8Array; value: unknown } | undefined

/** Unpacks a record body and keeps it for the open that follows (throws like `unpack`). */
export function unpackRecordBody(bytes: Uint8Array): unknown {
  const value = unpack(bytes)
  lastDecoded = { bytes, value }
  return value
}

function takeDecoded(bytes: Uint8Array): unknown {
  const last = lastDecoded
  lastDecoded = undefined
  return last?.bytes === bytes ? last.value : unpack(bytes)
}

function openRecordUncached(signed: SignedRecord, keyring: Keyring): RecordCheck {
  let raw: unknown
  try {
    raw = takeDecoded(signed.body)
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  // Well-formed bodies skip zod (record-check.ts); anything else gets zod's verdict.
  let body: NodeRecordBody
  if (quickRecordCheck(raw)) body = raw as NodeRecordBody
  else {
    const parsed = NodeRecordBody.safeParse(raw)
    if (!parsed.success) return { ok: false, reason: 'schema' }
    body = parsed.data
  }
  if (!verifyAs('record', body.key, signed.body, signed.sig, keyring)) return { ok: false, reason: 'bad-signature' }
  return { ok: true, record: { body, signed } }
}

/** True when a is newer than b (same origin). */
export function newerThan(a: { inc: number; ver: number }, b: { inc: number; ver: number }): boolean {
  return a.inc > b.inc || (a.inc === b.inc && a.ver > b.ver)
}
