/**
 * The anti-entropy exchange between two neighbours (Scuttlebutt, on anti-entropy.ts's
 * bucket hashes): the digests one side sends for the buckets that differ, and the answer
 * to a digest — the deltas the peer lacks, and whether the peer holds something newer
 * that we should ask for with our own digest. Pure functions of the member table; MeshNode
 * sends what they return.
 */
import { AE_BUCKETS, LIVENESS_CODE, bucketOf, digestChunks, livenessNewer, recordNewer, type AeEntry, type DigestEntry } from './anti-entropy.js'
import type { Liveness } from './mesh-types.js'
import type { Claim, OutMessage, Update } from './messages.js'
import type { VerifiedRecord } from './node-record.js'

/** Updates per ae-delta message. */
const MAX_DELTA_UPDATES = 200
/** Entries per ae-dig message. */
const MAX_DIGEST_ENTRIES = 4000

/** What the exchange reads of a member. */
export interface AeMember {
  readonly id: string
  readonly status: Liveness
  readonly statusInc: number
  /** The signed proof of a suspect/dead status (absent while alive). */
  readonly claim: Claim | undefined
  readonly record: VerifiedRecord | undefined
}

export function aeEntry(m: AeMember): AeEntry {
  return {
    id: m.id,
    recInc: m.record?.body.inc ?? 0,
    recVer: m.record?.body.ver ?? 0,
    status: LIVENESS_CODE[m.status],
    statusInc: m.statusInc,
  }
}

/** The digests of `buckets` (whole buckets per message). */
export function digestMessages(members: Iterable<AeMember>, buckets: number[], reply: boolean): OutMessage[] {
  const wanted = new Set(buckets)
  const entries: AeEntry[] = []
  for (const m of members) if (wanted.has(bucketOf(m.id))) entries.push(aeEntry(m))
  return digestChunks(entries, buckets, MAX_DIGEST_ENTRIES).map((d) => ({ t: 'ae-dig', buckets: d.buckets, e: d.e, reply }))
}

/**
 * Answers a peer's digest: `deltas` carry every fact of the named buckets that is newer
 * here; `digestBack` (when the peer asked for a reply and holds something newer or
 * unknown here) names the buckets to send our own digest of.
 */
export function answerDigest(
  members: Iterable<AeMember>,
  get: (id: string) => AeMember | undefined,
  buckets: number[],
  entries: DigestEntry[],
  reply: boolean,
): { deltas: OutMessage[]; digestBack: number[] | undefined } {
  const theirs = new Map<string, AeEntry>()
  for (const [id, recInc, recVer, status, statusInc] of entries) theirs.set(id, { id, recInc, recVer, status, statusInc })
  const wanted = new Set(buckets.filter((b) => b < AE_BUCKETS))
  const delta: Update[] = []
  for (const m of members) {
    if (!wanted.has(bucketOf(m.id))) continue
    const mine = aeEntry(m)
    const t = theirs.get(m.id)
    if (m.record && recordNewer(mine, t)) delta.push({ k: 'rec', rec: m.record.signed })
    if (m.claim && m.status !== 'alive' && livenessNewer(mine, t)) delta.push(m.claim)
  }
  const deltas: OutMessage[] = []
  for (let i = 0; i < delta.length; i += MAX_DELTA_UPDATES) deltas.push({ t: 'ae-delta', u: delta.slice(i, i + MAX_DELTA_UPDATES) })
  if (!reply) return { deltas, digestBack: undefined }
  for (const t of theirs.values()) {
    const m = get(t.id)
    const mine = m ? aeEntry(m) : undefined
    if (!mine || recordNewer(t, mine) || livenessNewer(t, mine)) return { deltas, digestBack: [...wanted] }
  }
  return { deltas, digestBack: undefined }
}
