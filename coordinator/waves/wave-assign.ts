/**
 * Who may have a boot assignment — a roster node, signing as itself, holding its slot at
 * that term — and the grant: its boot script moves to the wave's target.
 */
import { HttpError } from '../../agent/http/index.js'
import { verifyAssign } from '../../agent/protocol/assign-proof.js'
import type { ErrorCode } from '../../agent/protocol/error-codes.js'
import type { Keyring } from '../../agent/protocol/ports.js'
import type { PersistedVote } from '../../agent/protocol/vote/vote-node.js'
import type { ClusterState } from '../cluster-state.js'
import { assignSigningText, type AssignLeaseRequest, type StoredWave } from './wave-api.js'
import type { WaveCore } from './wave-core.js'
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

/** The wave `r` may be granted from, or a 403 naming why not (audited once a minute per node and reason, logged). */
export function checkAssignment(c: WaveCore, r: AssignLeaseRequest, remote: string | undefined): StoredWave {
  const refuse = (code: ErrorCode, message: string): never => {
    // Unauthenticated until the signature checks out: counted, one entry per node and reason a minute (cluster-state.ts auditRefusal).
    c.state.auditRefusal('boot-assign', `${code}|${r.node}`, { node: r.node, ...(remote ? { remote } : {}), detail: { refused: code, wave: r.wave, slot: r.slot, term: r.term } }, 'boot-assign')
    c.log.warn({ component: 'waves', node: r.node, wave: r.wave, slot: r.slot, term: r.term, code }, 'boot assignment refused')
    throw new HttpError(403, code, message)
  }
  const w = c.wave(r.wave)
  if (!w) return refuse('unknown-wave', `no wave ${r.wave} on this coordinator`)
  const why = assignRefusal(w, r, { state: c.state, keyring: c.keyring, snap: c.vote.snapshot() })
  if (why) return refuse(why.code, why.message)
  return w
}

/** Moves `r.node`'s boot script to `w`'s target (inside the service's lock), audited and noted on the node's progress. */
export async function grantAssignment(c: WaveCore, w: StoredWave, r: AssignLeaseRequest, remote: string | undefined): Promise<{ node: string; image: string; wave: string; slot: number; term: number }> {
  const by = `lease ${w.id}/${r.slot}/${r.term}`
  if (c.state.nodeAssignments.get(r.node)?.image !== w.target) await c.state.assign({ node: r.node }, w.target, by)
  await c.state.audit({ kind: 'boot-assign', node: r.node, image: w.target, remote, detail: { wave: w.id, slot: r.slot, term: r.term } })
  const n = w.nodes[r.node]
  if (n) n.assignedAt = c.clock.now()
  await c.save(w)
  c.log.info({ component: 'waves', node: r.node, wave: w.id, image: w.target }, 'boot assignment granted')
  return { node: r.node, image: w.target, wave: w.id, slot: r.slot, term: r.term }
}
