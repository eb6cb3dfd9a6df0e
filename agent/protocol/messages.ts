/**
 * Every mesh wire message, defined once: zod schema -> inferred type -> codec.
 * A frame body is a msgpack map `{ v, t, ...fields }`. `decodeMessage` is the edge:
 * whatever a peer sends becomes either a typed message or a counted DropReason.
 *
 * Compatibility within one major version (docs/mesh.md, "Versions on the wire"): every
 * schema keeps fields it does not know (`keepUnknown`), so a message from a newer minor parses
 * and is relayed with them intact; a type (or update kind) we do not know is reported as
 * `unknown-type` with the type as the detail — counted and ignored, never held against
 * the peer. Signatures never cover a re-encoding of a parsed object: a record's covers its
 * body bytes as received; a claim's and an app broadcast's cover a fixed tuple of the
 * fields named in `claimBytes`/`appBytes` (fields a newer minor adds are carried, unsigned).
 */
import { z } from 'zod'
import { DropReason } from './errors.js'
import { quickCheck } from './message-check.js'
import { Bytes, keepUnknown, MAX_FRAME_BYTES, PROTOCOL_MAJOR, PROTOCOL_MINOR, PROTOCOL_VERSION, pack, unpack } from './frame.js'
import { NodeId, SignedRecord } from './node-record.js'


const Seq = z.number().int().nonnegative().max(2 ** 32)
/** App broadcast sequence: clock-based (ms) so a rebooted origin never reuses one. */
const AppSeq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)

/** A signed claim by `by` that `about` is suspect/dead at incarnation `inc`. */
export const Claim = keepUnknown(
  z.object({ k: z.literal('claim'), about: NodeId, inc: z.number().int().nonnegative(), status: z.enum(['suspect', 'dead']), by: NodeId, sig: Bytes }))
export type Claim = z.infer<typeof Claim>

/**
 * An application broadcast (e.g. the vote, agent/protocol/vote), signed by its origin.
 * With `to`, it is an addressed message that rides the broadcast tree because origin and
 * target share no connection (the overlay is bounded): only `to` delivers it.
 */
export const AppBroadcast = keepUnknown(
  z.object({ k: z.literal('app'), origin: NodeId, seq: AppSeq, topic: z.string().max(32), to: NodeId.optional(), body: Bytes, sig: Bytes }))
export type AppBroadcast = z.infer<typeof AppBroadcast>

export const RecordUpdate = keepUnknown(z.object({ k: z.literal('rec'), rec: SignedRecord }))
export type RecordUpdate = z.infer<typeof RecordUpdate>

/** What the broadcast tree carries. */
export const Update = z.discriminatedUnion('k', [RecordUpdate, Claim, AppBroadcast])
export type Update = z.infer<typeof Update>

const MsgId = z.string().max(160)
const base = { v: z.literal(PROTOCOL_VERSION) }

export const Ping = keepUnknown(z.object({ ...base, t: z.literal('ping'), seq: Seq }))
export const Ack = keepUnknown(z.object({ ...base, t: z.literal('ack'), seq: Seq }))
/** Ask the receiver to probe `target` for us (SWIM indirect probe). */
export const PingReq = keepUnknown(z.object({ ...base, t: z.literal('ping-req'), seq: Seq, target: NodeId }))
/** Lifeguard: the helper got no answer from the target either (so *we* are not the slow one). */
export const Nack = keepUnknown(z.object({ ...base, t: z.literal('nack'), seq: Seq }))
/** Plumtree eager push. `h` counts hops, for figures and to spot loops. */
export const Gossip = keepUnknown(z.object({ ...base, t: z.literal('gossip'), h: z.number().int().nonnegative().max(255), u: Update }))
/** Plumtree lazy push: ids of updates the sender has. */
export const IHave = keepUnknown(z.object({ ...base, t: z.literal('ihave'), ids: z.array(MsgId).max(512) }))
/** Plumtree: "I missed these, send them and make our link eager". */
export const Graft = keepUnknown(z.object({ ...base, t: z.literal('graft'), ids: z.array(MsgId).max(512) }))
/** Plumtree: "you are a duplicate path, go lazy". */
export const Prune = keepUnknown(z.object({ ...base, t: z.literal('prune') }))
/** "I am closing this link on purpose (overlay trimming)": do not treat it as a failure. */
export const Bye = keepUnknown(z.object({ ...base, t: z.literal('bye') }))
/** Anti-entropy round 1: one 32-bit hash per bucket of (id -> record version, liveness). */
export const AeSummary = keepUnknown(z.object({ ...base, t: z.literal('ae-sum'), b: Bytes }))
/** Anti-entropy round 2: the sender's entries in the buckets that differed. */
export const AeDigest = keepUnknown(
  z.object({
    ...base,
    t: z.literal('ae-dig'),
    buckets: z.array(z.number().int().nonnegative()).max(4096),
    // [id, record inc, record ver, liveness code, liveness inc]
    // Items a newer minor appends to an entry are accepted and ignored (typed as the known five).
    e: z.array(z.tuple([NodeId, z.number(), z.number(), z.number(), z.number()], z.unknown()) as unknown as z.ZodTuple<[typeof NodeId, z.ZodNumber, z.ZodNumber, z.ZodNumber, z.ZodNumber], null>).max(20000),
    reply: z.boolean(),
  }),
)
/** Anti-entropy round 3: the updates the receiver lacks. */
export const AeDelta = keepUnknown(z.object({ ...base, t: z.literal('ae-delta'), u: z.array(Update).max(4096) }))
/** Direct application message (e.g. a vote sent to a candidate). */
export const AppDirect = keepUnknown(z.object({ ...base, t: z.literal('app'), topic: z.string().max(32), body: Bytes }))

export const MeshMessage = z.discriminatedUnion('t', [Ping, Ack, PingReq, Nack, Gossip, IHave, Graft, Prune, Bye, AeSummary, AeDigest, AeDelta, AppDirect])
export type MeshMessage = z.infer<typeof MeshMessage>
/** A message as written by code: the version field is added by the codec. */
export type OutMessage = MeshMessage extends infer M ? (M extends { v: unknown } ? Omit<M, 'v'> : never) : never

/**
 * Each message type's own schema, by its `t`: the decoder looks the frame's tag up and parses
 * with that one schema (the same issues the union would report, without the union's dispatch).
 */
const schemaByType = new Map<string, z.ZodType<MeshMessage>>(MeshMessage.options.map((o) => [o.shape.t.value, o as z.ZodType<MeshMessage>]))
const knownUpdateKinds = new Set<string>(Update.options.map((o) => o.shape.k.value))

/**
 * The first message on every link, in both directions: the sender's protocol version.
 * Its shape is frozen across major versions (a map with `v` = major, `t` = 'hello',
 * `minor`), so that any two builds can tell each other which versions they speak.
 */
export const Hello = keepUnknown(z.object({ v: z.number().int().nonnegative().max(65535), t: z.literal('hello'), minor: z.number().int().nonnegative().max(65535) }))
export type Hello = z.infer<typeof Hello>

export function encodeHello(minor: number = PROTOCOL_MINOR, major: number = PROTOCOL_MAJOR): Uint8Array {
  return pack({ v: major, t: 'hello', minor })
}

export type DecodedHello = { ok: true; major: number; minor: number } | { ok: false; detail: string }

/** The link's first frame: a hello of any major version, or why it is not one. Never throws. */
export function decodeHello(bytes: Uint8Array): DecodedHello {
  if (bytes.length > MAX_FRAME_BYTES) return { ok: false, detail: `${bytes.length} bytes` }
  let raw: unknown
  try {
    raw = unpack(bytes)
  } catch {
    return { ok: false, detail: 'not msgpack' }
  }
  const parsed = Hello.safeParse(raw)
  if (parsed.success) return { ok: true, major: parsed.data.v, minor: parsed.data.minor }
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>
  return { ok: false, detail: `a ${typeLabel(r.t)} message (version ${typeof r.v === 'number' ? r.v : '?'}) instead of hello` }
}

/** "major.minor", as logs and counters name a version. */
export function versionText(major: number, minor: number): string {
  return `${major}.${minor}`
}

/** A peer-chosen type name made safe for a counter key and a log line. */
export function typeLabel(t: unknown): string {
  if (typeof t !== 'string') return '?'
  return /^[A-Za-z0-9._-]{1,32}$/.test(t) ? t : '?'
}

export function encodeMessage(msg: OutMessage): Uint8Array {
  return pack({ v: PROTOCOL_VERSION, ...msg })
}

/**
 * `ignored`: update kinds inside an `ae-delta` that this version does not know (taken out,
 * the rest delivered); the driver reports each like an unknown type.
 */
export type Decoded = { ok: true; msg: MeshMessage; ignored?: string[] } | { ok: false; reason: DropReason; detail: string }

/**
 * The edge: bytes from a peer -> a typed message, or why not. Never throws. An unknown
 * type has reason `unknown-type` and the type (`gossip.KIND` for an unknown update kind)
 * as its detail: the receiver counts it by type and ignores it.
 */
export function decodeMessage(bytes: Uint8Array): Decoded {
  if (bytes.length > MAX_FRAME_BYTES) return { ok: false, reason: DropReason.frameTooLarge, detail: `${bytes.length} bytes` }
  let raw: unknown
  try {
    raw = unpack(bytes)
  } catch {
    return { ok: false, reason: DropReason.malformed, detail: 'not msgpack' }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: DropReason.malformed, detail: 'not a map' }
  const r = raw as Record<string, unknown>
  if (r.v !== PROTOCOL_VERSION) return { ok: false, reason: DropReason.badVersion, detail: `version ${String(r.v)}` }
  const schema = typeof r.t === 'string' ? schemaByType.get(r.t) : undefined
  if (!schema) return { ok: false, reason: DropReason.unknownType, detail: typeLabel(r.t) }
  let ignored: string[] | undefined
  if (r.t === 'gossip') {
    const k = (r.u as Record<string, unknown> | undefined)?.k
    if (typeof k === 'string' && !knownUpdateKinds.has(k)) return { ok: false, reason: DropReason.unknownType, detail: `gossip.${typeLabel(k)}` }
  } else if (r.t === 'ae-delta' && Array.isArray(r.u)) {
    const known = r.u.filter((u) => {
      const k = (u as Record<string, unknown> | undefined)?.k
      if (typeof k !== 'string' || knownUpdateKinds.has(k)) return true
      ;(ignored ??= []).push(`ae-delta.${typeLabel(k)}`)
      return false
    })
    if (ignored) raw = { ...r, u: known }
  }
  // Most frames are well formed: a hand-written check says so without zod; any doubt goes to zod.
  if (quickCheck(r.t as string, raw as Record<string, unknown>)) return ignored ? { ok: true, msg: raw as MeshMessage, ignored } : { ok: true, msg: raw as MeshMessage }
  const parsed = schema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return { ok: false, reason: DropReason.schema, detail: `${r.t}: ${issue?.path.join('.')} ${issue?.message}` }
  }
  return ignored ? { ok: true, msg: parsed.data, ignored } : { ok: true, msg: parsed.data }
}

/** Bytes signed for a claim; shared by signer and verifier. */
export function claimBytes(c: Omit<Claim, 'sig' | 'k'>): Uint8Array {
  return pack(['claim', c.about, c.inc, c.status, c.by])
}

export function appBytes(a: Omit<AppBroadcast, 'sig' | 'k'>): Uint8Array {
  return pack(['app', a.origin, a.seq, a.topic, a.to ?? '', a.body])
}

/** Plumtree message id of an update. */
export function updateId(u: Update, recordHead?: { id: string; inc: number; ver: number }): string {
  switch (u.k) {
    case 'rec':
      return recordHead ? `r:${recordHead.id}:${recordHead.inc}:${recordHead.ver}` : `r:?`
    case 'claim':
      // Suspicions from distinct accusers travel separately: they are Lifeguard confirmations.
      return u.status === 'dead' ? `c:${u.about}:${u.inc}:dead` : `c:${u.about}:${u.inc}:suspect:${u.by}`
    case 'app':
      return `a:${u.origin}:${u.seq}`
  }
}
