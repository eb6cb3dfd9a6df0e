/**
 * The (id, inc, ver) of a signed record without verifying it: enough to name the update
 * (Plumtree ids) and to skip copies older than what we hold before paying for a signature check.
 */
import { unpackRecordBody, verifiedBody } from './node-record.js'
import type { Update } from './messages.js'

export interface RecordHead {
  id: string
  inc: number
  ver: number
}

const headCache = new WeakMap<Uint8Array, RecordHead>()

export function recordHead(u: Extract<Update, { k: 'rec' }>): RecordHead | undefined {
  const cached = headCache.get(u.rec.sig)
  if (cached) return cached
  // Most copies while a mesh forms are of records already verified: name them without unpacking.
  const known = verifiedBody(u.rec)
  const decoded = known ? { id: known.id, inc: known.inc, ver: known.ver } : decodeHead(u.rec.body)
  if (decoded) headCache.set(u.rec.sig, decoded)
  return decoded
}

function decodeHead(bytes: Uint8Array): RecordHead | undefined {
  try {
    const v = unpackRecordBody(bytes) as Record<string, unknown>
    if (typeof v?.id === 'string' && typeof v.inc === 'number' && typeof v.ver === 'number') return { id: v.id, inc: v.inc, ver: v.ver }
  } catch {
    /* not a record: the caller's full check reports it */
  }
  return undefined
}
