/**
 * Every mesh wire message, defined once: zod schema -> inferred type -> codec.
 * A frame body is a msgpack map `{ v, t, ...fields }`. `decodeMessage` is the edge:
 * whatever a peer sends becomes either a typed message or a counted DropReason.
 */
import { z } from 'zod'
import { DropReason } from './errors.js'
import { Bytes, MAX_FRAME_BYTES, PROTOCOL_VERSION, pack, unpack } from './frame.js'
import { NodeId, SignedRecord } from './node-record.js'


const Seq = z.number().int().nonnegative().max(2 ** 32)
/** App broadcast sequence: clock-based (ms) so a rebooted origin never reuses one. */
const AppSeq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)

/** A signed claim by `by` that `about` is suspect/dead at incarnation `inc`. */
export const Claim = z
  .object({ k: z.literal('claim'), about: NodeId, inc: z.number().int().nonnegative(), status: z.enum(['suspect', 'dead']), by: NodeId, sig: Bytes })
  .strict()
export type Claim = z.infer<typeof Claim>

/**
 * An application broadcast (e.g. the vote, agent/protocol/vote), signed by its origin.
 * With `to`, it is an addressed message that rides the broadcast tree because origin and
 * target share no connection (the overlay is bounded): only `to` delivers it.
 */
export const AppBroadcast = z
  .object({ k: z.literal('app'), origin: NodeId, seq: AppSeq, topic: z.string().max(32), to: NodeId.optional(), body: Bytes, sig: Bytes })
  .strict()
export type AppBroadcast = z.infer<typeof AppBroadcast>

export const RecordUpdate = z.object({ k: z.literal('rec'), rec: SignedRecord }).strict()
export type RecordUpdate = z.infer<typeof RecordUpdate>

/** What the broadcast tree carries. */
export const Update = z.discriminatedUnion('k', [RecordUpdate, Claim, AppBroadcast])
export type Update = z.infer<typeof Update>

const MsgId = z.string().max(160)
const base = { v: z.literal(PROTOCOL_VERSION) }

export const Ping = z.object({ ...base, t: z.literal('ping'), seq: Seq }).strict()
export const Ack = z.object({ ...base, t: z.literal('ack'), seq: Seq }).strict()
/** Ask the receiver to probe `target` for us (SWIM indirect probe). */
export const PingReq = z.object({ ...base, t: z.literal('ping-req'), seq: Seq, target: NodeId }).strict()
/** Lifeguard: the helper got no answer from the target either (so *we* are not the slow one). */
export const Nack = z.object({ ...base, t: z.literal('nack'), seq: Seq }).strict()
/** Plumtree eager push. `h` counts hops, for figures and to spot loops. */
export const Gossip = z.object({ ...base, t: z.literal('gossip'), h: z.number().int().nonnegative().max(255), u: Update }).strict()
/** Plumtree lazy push: ids of updates the sender has. */
export const IHave = z.object({ ...base, t: z.literal('ihave'), ids: z.array(MsgId).max(512) }).strict()
/** Plumtree: "I missed these, send them and make our link eager". */
export const Graft = z.object({ ...base, t: z.literal('graft'), ids: z.array(MsgId).max(512) }).strict()
/** Plumtree: "you are a duplicate path, go lazy". */
export const Prune = z.object({ ...base, t: z.literal('prune') }).strict()
/** "I am closing this link on purpose (overlay trimming)": do not treat it as a failure. */
export const Bye = z.object({ ...base, t: z.literal('bye') }).strict()
/** Anti-entropy round 1: one 32-bit hash per bucket of (id -> record version, liveness). */
export const AeSummary = z.object({ ...base, t: z.literal('ae-sum'), b: Bytes }).strict()
/** Anti-entropy round 2: the sender's entries in the buckets that differed. */
export const AeDigest = z
  .object({
    ...base,
    t: z.literal('ae-dig'),
    buckets: z.array(z.number().int().nonnegative()).max(4096),
    // [id, record inc, record ver, liveness code, liveness inc]
    e: z.array(z.tuple([NodeId, z.number(), z.number(), z.number(), z.number()])).max(20000),
    reply: z.boolean(),
  })
  .strict()
/** Anti-entropy round 3: the updates the receiver lacks. */
export const AeDelta = z.object({ ...base, t: z.literal('ae-delta'), u: z.array(Update).max(4096) }).strict()
/** Direct application message (e.g. a vote sent to a candidate). */
export const AppDirect = z.object({ ...base, t: z.literal('app'), topic: z.string().max(32), body: Bytes }).strict()

export const MeshMessage = z.discriminatedUnion('t', [Ping, Ack, PingReq, Nack, Gossip, IHave, Graft, Prune, Bye, AeSummary, AeDigest, AeDelta, AppDirect])
export type MeshMessage = z.infer<typeof MeshMessage>
/** A message as written by code: the version field is added by the codec. */
export type OutMessage = MeshMessage extends infer M ? (M extends { v: unknown } ? Omit<M, 'v'> : never) : never

const knownTypes = new Set<string>(MeshMessage.options.map((o) => o.shape.t.value))

export function encodeMessage(msg: OutMessage): Uint8Array {
  return pack({ v: PROTOCOL_VERSION, ...msg })
}

export type Decoded = { ok: true; msg: MeshMessage } | { ok: false; reason: DropReason; detail: string }

/** The edge: bytes from a peer -> a typed message, or why not. Never throws. */
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
  if (typeof r.t !== 'string' || !knownTypes.has(r.t)) return { ok: false, reason: DropReason.unknownType, detail: `type ${String(r.t)}` }
  const parsed = MeshMessage.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return { ok: false, reason: DropReason.schema, detail: `${r.t}: ${issue?.path.join('.')} ${issue?.message}` }
  }
  return { ok: true, msg: parsed.data }
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
