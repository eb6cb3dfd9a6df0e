/**
 * RecordSnapshot: signed node records checked once (schema, signature, roster), ready for
 * a fresh node's member table to take whole (MeshNode.adopt) — as if one sync with a
 * trusted peer had delivered them before any link came up.
 *
 * Why: the simulator's warm start hands every one of N nodes the records of all the
 * others. Through the receive path that is N^2 record applications (each a step, an
 * ae-delta, a head decode, an entry hash, two events): 10^8 at N=10,000, which never
 * finished. A snapshot does the per-record work (check, entry hash, bucket) once, and
 * each table then takes N entries at the cost of filling its columns. The records'
 * meaning is unchanged: the same checks as Membership.applyRecord, the same table
 * contents, the same anti-entropy hashes.
 */
import { aeEntry } from './anti-entropy-exchange.js'
import { bucketOf, entryHash } from './anti-entropy.js'
import { memberNumber } from './member-table.js'
import { newerThan, openRecord, type SignedRecord, type VerifiedRecord } from './node-record.js'
import type { Keyring } from './ports.js'
import type { Roster } from './roster.js'

export interface SnapshotEntry {
  readonly id: string
  /** The id's process-wide member number (member-table.ts). */
  readonly g: number
  readonly record: VerifiedRecord
  /** The anti-entropy entry hash (`entryHash(..) | 0`) of this member held alive at the record's incarnation, and its bucket. */
  readonly hash: number
  readonly bucket: number
}

export interface RecordSnapshot {
  /** In the order given; one per id (the newest, if an id came twice). */
  readonly entries: readonly SnapshotEntry[]
  /** Records left out: a bad signature or schema, or an id/key pair the roster does not hold. */
  readonly rejected: number
}

/** Checks `records` once (any keyring verifies: the key is the record's own, held by the roster). */
export function recordSnapshot(records: Iterable<SignedRecord>, roster: Roster, keyring: Keyring): RecordSnapshot {
  const byId = new Map<string, SnapshotEntry>()
  let rejected = 0
  for (const signed of records) {
    const check = openRecord(signed, keyring)
    if (!check.ok || !roster.admits(check.record.body.id, check.record.body.key)) {
      rejected++
      continue
    }
    const body = check.record.body
    const held = byId.get(body.id)
    if (held && !newerThan(body, held.record.body)) continue
    const e = aeEntry({ id: body.id, status: 'alive', statusInc: body.inc, claim: undefined, record: check.record })
    byId.set(body.id, { id: body.id, g: memberNumber(body.id), record: check.record, hash: entryHash(e) | 0, bucket: bucketOf(body.id) })
  }
  return { entries: [...byId.values()], rejected }
}
