/**
 * The component digest: what a node publishes about its hardware in its NodeRecord
 * (`comps`), so any peer — or the coordinator — can tell a rebooted machine its old id
 * without ever seeing a serial number. Each entry is "kind:hash", the hash being 96 bits
 * of SHA-256 over the normalised value, base64url (16 characters).
 */
import { hash } from 'node:crypto'
import { COMPONENT_KINDS, isComponentKind, normalizeValue, type ComponentKind } from './component.js'

/** NodeRecord.comps allows 64 entries of at most 80 characters. */
export const MAX_DIGEST_ENTRIES = 64

/**
 * At most this many entries per kind, in this priority, so a 90-disk JBOD or a 48-DIMM
 * board never crowds the NICs out. Within a kind the entries with the smallest hashes win,
 * so the choice is deterministic. DIMMs get whatever room is left.
 */
export const DIGEST_CAP: Readonly<Record<ComponentKind, number>> = Object.freeze({
  uuid: 1,
  sys: 1,
  board: 1,
  chassis: 1,
  wwn: 32,
  disk: 32,
  nic: 8,
  ppin: 4,
  cpu: 1,
  dimm: MAX_DIGEST_ENTRIES,
})

/** "kind:hash" of one component (value normalised first). */
export function hashComponent(kind: ComponentKind, value: string): string {
  const h = hash('sha256', `shoal-comp-v1\0${kind}\0${normalizeValue(kind, value)}`, 'base64url')
  return `${kind}:${h.slice(0, 16)}`
}

/** The kind of a digest entry, or undefined for an entry of a kind this version does not know. */
export function digestKind(entry: string): ComponentKind | undefined {
  const i = entry.indexOf(':')
  if (i <= 0) return undefined
  const k = entry.slice(0, i)
  return isComponentKind(k) ? k : undefined
}

/**
 * Orders and caps hashed entries into the published digest (deterministic for a set).
 * Returns the digest and the entries that did not fit.
 */
export function capDigest(entries: readonly string[]): { digest: string[]; overflow: string[] } {
  const byKind = new Map<ComponentKind, string[]>()
  for (const e of new Set(entries)) {
    const k = digestKind(e)
    if (!k) continue
    ;(byKind.get(k) ?? byKind.set(k, []).get(k)!).push(e)
  }
  const digest: string[] = []
  const overflow: string[] = []
  for (const kind of COMPONENT_KINDS) {
    const list = (byKind.get(kind) ?? []).sort()
    const room = Math.min(DIGEST_CAP[kind], MAX_DIGEST_ENTRIES - digest.length)
    digest.push(...list.slice(0, Math.max(0, room)))
    overflow.push(...list.slice(Math.max(0, room)))
  }
  return { digest, overflow }
}
