/**
 * Which node id an enrolling machine gets: the id of a node enrolled before when its
 * component set is similar enough, else a new one. The coordinator's known fingerprints
 * are every enrolled node's component digest.
 */

export interface KnownFingerprint {
  id: string
  comps: readonly string[]
}

export interface IdentityResolution {
  id: string
  identity: 'known' | 'new'
}

/** Pure; must be deterministic for the same inputs. */
export type IdentityResolver = (proposedId: string, comps: readonly string[], known: readonly KnownFingerprint[]) => IdentityResolution

/**
 * Weight of a component by its kind (the part before ':'): disks weigh most because the
 * node's Ceph OSDs live on them; board/system identity next; NICs and DIMMs get swapped.
 * TODO(issue 3): replace with agent/fingerprint's resolveIdentity once it lands, so agent
 * and coordinator share one algorithm.
 */
const KIND_WEIGHT: Record<string, number> = {
  disk: 4,
  wwn: 4,
  uuid: 2,
  sys: 2,
  board: 2,
  ppin: 1,
  chassis: 1,
  nic: 1,
  dimm: 0.5,
  cpu: 0.25,
}
function weight(comp: string): number {
  const kind = comp.slice(0, Math.max(0, comp.indexOf(':'))).toLowerCase()
  return KIND_WEIGHT[kind] ?? 1
}

/** Share of the weighted union two component sets have in common that makes them one machine. */
export const SAME_MACHINE_THRESHOLD = 0.5

export function similarity(a: readonly string[], b: readonly string[]): number {
  const sa = new Set(a)
  const sb = new Set(b)
  let shared = 0
  let union = 0
  for (const c of sa) {
    union += weight(c)
    if (sb.has(c)) shared += weight(c)
  }
  for (const c of sb) if (!sa.has(c)) union += weight(c)
  return union === 0 ? 0 : shared / union
}

export const defaultIdentityResolver: IdentityResolver = (proposedId, comps, known) => {
  let best: KnownFingerprint | undefined
  let bestScore = 0
  for (const k of known) {
    const s = similarity(comps, k.comps)
    if (s > bestScore || (s === bestScore && best && k.id < best.id)) {
      best = k
      bestScore = s
    }
  }
  if (best && bestScore >= SAME_MACHINE_THRESHOLD) return { id: best.id, identity: 'known' }
  // A new machine whose self-computed id is taken by a different machine: keep it unique.
  if (known.some((k) => k.id === proposedId)) {
    let n = 2
    while (known.some((k) => k.id === `${proposedId}-${n}`)) n++
    return { id: `${proposedId}-${n}`.slice(0, 64), identity: 'new' }
  }
  return { id: proposedId, identity: 'new' }
}
