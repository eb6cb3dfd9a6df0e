/**
 * Operators on the roster (`shoal coordinator operator add|remove|list`): adding or
 * removing one bumps the roster version, so every agent's roster sync picks the change up
 * within seconds (a removed key's grants are refused from then on), and is audited.
 * Also where the coordinator records the shell sessions it hears of over the mesh.
 */
import { ShoalError } from '../agent/protocol/errors.js'
import type { ShellSession } from '../agent/protocol/shell-channel.js'
import { ENROLL_API_VERSION, type SignedRoster, signRoster } from '../agent/protocol/enroll/index.js'
import type { ClusterState } from './cluster-state.js'
import { operatorKey, type OperatorRecord } from './operator-record.js'

export function addOperator(state: ClusterState, name: string, key: string, by: string): Promise<OperatorRecord> {
  return state.exclusive(async () => {
    const prev = state.operators.get(name)
    if (prev?.key === key) return prev
    const now = state.deps.clock.now()
    const rec: OperatorRecord = { name, key, addedAt: now, by }
    const bump = state.rosterBumpOps()
    await state.deps.store.batch([
      { type: 'put', key: operatorKey(name), value: rec },
      ...bump.ops,
      state.auditOp({ at: now, kind: 'operator', detail: { action: prev ? 'replace-key' : 'add', name, key, by } }),
    ])
    state.operators.set(name, rec)
    state.applyRosterBump(bump.next)
    return rec
  })
}

export function removeOperator(state: ClusterState, name: string, by: string): Promise<void> {
  return state.exclusive(async () => {
    const prev = state.operators.get(name)
    if (!prev) throw new ShoalError('not-found', `no operator "${name}" (see: shoal coordinator operator list)`)
    const now = state.deps.clock.now()
    const bump = state.rosterBumpOps()
    await state.deps.store.batch([{ type: 'del', key: operatorKey(name) }, ...bump.ops, state.auditOp({ at: now, kind: 'operator', detail: { action: 'remove', name, key: prev.key, by } })])
    state.operators.delete(name)
    state.applyRosterBump(bump.next)
  })
}

const cache = new WeakMap<ClusterState, SignedRoster>()

/** The roster with its `operators` (GET /v1/roster?operators=1), signed once per version. */
export function rosterWithOperators(state: ClusterState): SignedRoster {
  const base = state.roster()
  const hit = cache.get(state)
  if (hit && hit.version === base.version) return hit
  const { signature: _, ...body } = base
  const operators = [...state.operators.values()].sort((a, b) => a.name.localeCompare(b.name)).map((o) => ({ name: o.name, key: o.key }))
  const signed = signRoster({ ...body, v: ENROLL_API_VERSION, operators }, state.keyring)
  cache.set(state, signed)
  return signed
}

/** Keeps a shell session heard over the mesh in the audit log (once per session id). */
const recorded = new WeakMap<ClusterState, Set<string>>()
export async function recordShellSession(state: ClusterState, s: ShellSession): Promise<void> {
  let seen = recorded.get(state)
  if (!seen) recorded.set(state, (seen = new Set()))
  if (seen.has(s.id)) return
  seen.add(s.id)
  if (seen.size > 10_000) seen.delete(seen.values().next().value!)
  await state.audit({ kind: 'shell', node: s.node, remote: s.remote, detail: { ...s } })
}
