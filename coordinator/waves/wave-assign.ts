/** Who may have a boot assignment: a roster node, signing as itself, holding its slot at that term. */
import { verifyAssign } from '../../agent/protocol/assign-proof.js'
import type { ErrorCode } from '../../agent/protocol/error-codes.js'
import type { Keyring } from '../../agent/protocol/ports.js'
import type { PersistedVote } from '../../agent/protocol/vote/vote-node.js'
import type { ClusterState } from '../cluster-state.js'
import { assignSigningText, type AssignLeaseRequest, type StoredWave } from './wave-api.js'
import { ACTIVE } from './wave-store.js'

export interface AssignInputs {
  state: ClusterState
  keyring: Pick<Keyring, 'verify'>
  /** The coordinator vote's snapshot. */
  snap: PersistedVote
}

/** Why `r` gets no boot assignment from wave `w` (undefined: it gets one). The caller refuses an unknown wave. */
export function assignRefusal(w: StoredWave, r: AssignLeaseRequest, i: AssignInputs): { code: ErrorCode; message: string } | undefined {
  if (!ACTIVE.has(w.state)) return { code: 'wave-not-running', message: `wave ${w.id} is ${w.state}; no new boot assignments` }
  const entry = w.roster.find((e) => e.id === r.node)
  if (!entry) return { code: 'not-in-wave', message: `node ${r.node} is not on wave ${w.id}'s roster` }
  const keys = [entry.key, i.state.nodes.get(r.node)?.key].filter((k): k is string => !!k)
  if (!keys.some((k) => verifyAssign(r, k, i.keyring))) return { code: 'bad-signature', message: `the signature is not ${r.node}'s over ${assignSigningText(r)}` }
  const s = i.snap.wave?.id === w.id ? i.snap.slots[r.slot] : undefined
  if (!s || s.grant?.holder !== r.node || s.grant.term !== r.term || s.forcedUpTo >= r.term) {
    const sees = s?.grant ? `slot ${r.slot} held by ${s.grant.holder} at term ${s.grant.term}` : `no grant on slot ${r.slot}`
    return { code: 'no-lease', message: `the coordinator does not see ${r.node} holding slot ${r.slot} at term ${r.term} of wave ${w.id} (it sees ${sees}${s && s.forcedUpTo >= r.term ? `, force-released up to term ${s.forcedUpTo}` : ''}); retry once the grant has reached it` }
  }
  return undefined
}
