/**
 * New node ids. The id is also the hostname, the Kubernetes node name and the Ceph CRUSH
 * host, so it is a valid DNS label (lower-case letters, digits, '-', at most 63) as well as
 * a NodeId. A new id is derived from the component digest alone — never from the fleet,
 * the clock or randomness — so the same hardware always derives the same id, even after a
 * cold start of the whole cluster.
 */
import { createHash } from 'node:crypto'

/** UUID-shaped (version 8, "custom"): 36 characters of lower-case hex and dashes. */
export function deriveNodeId(digest: readonly string[], attempt = 0): string {
  const h = createHash('sha256')
  h.update('shoal-node-id-v1\n')
  h.update([...new Set(digest)].sort().join('\n'))
  if (attempt > 0) h.update(`\n#${attempt}`)
  const b = h.digest()
  b[6] = (b[6]! & 0x0f) | 0x80 // version 8
  b[8] = (b[8]! & 0x3f) | 0x80 // RFC 4122 variant
  const hex = b.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}

/** A DNS label (RFC 1123) that is also a NodeId: what a hostname, node name and CRUSH host accept. */
export const NODE_ID_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

export function isValidNodeId(id: string): boolean {
  return NODE_ID_PATTERN.test(id)
}
