import { ShoalError } from '../agent/protocol/errors.js'
import { resolveDigest } from '../agent/fingerprint/resolve-identity.js'

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
 * The coordinator's resolver: agent/fingerprint's resolveDigest over every enrolled node's
 * digest (the same algorithm the agents run, so both sides agree), then:
 * - matched: that node's id ('known');
 * - new: the id the agent proposed when no other node holds it (it may be the operator's
 *   `shoal.node_id=` for a machine without usable hardware ids), else the derived one;
 * - no usable component at all (resolveDigest throws 'no-identity'): the proposed id if
 *   free, else the proposed id with a numeric suffix.
 */
export const defaultIdentityResolver: IdentityResolver = (proposedId, comps, known) => {
  const taken = (id: string) => known.some((k) => k.id === id)
  try {
    const r = resolveDigest(comps, known)
    if (r.decision === 'matched') return { id: r.id, identity: 'known' }
    return { id: taken(proposedId) ? r.id : proposedId, identity: 'new' }
  } catch (err) {
    if (!(err instanceof ShoalError) || err.code !== 'no-identity') throw err
    if (!taken(proposedId)) return { id: proposedId, identity: 'new' }
    let n = 2
    while (taken(`${proposedId}-${n}`)) n++
    return { id: `${proposedId}-${n}`.slice(0, 64), identity: 'new' }
  }
}
