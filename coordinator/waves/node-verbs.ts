/**
 * Node verbs on the coordinator (agent/protocol/node-verbs.ts is the shared part): the API
 * contract, the held list, and the pure rule that says when a verb's one-node wave is
 * through. WaveService carries them out (nodeVerb, maintenanceOff, watchVerb).
 *
 * | method | path                                   | body -> answer                                       |
 * |--------|----------------------------------------|------------------------------------------------------|
 * | POST   | /v1/nodes/{id}/maintenance             | { on, maxUnavailable? } -> 201 NodeVerbAnswer (on) / 200 (off) |
 * | POST   | /v1/nodes/{id}/reboot|shutdown         | { maxUnavailable? } -> 201 NodeVerbAnswer            |
 * | POST   | /v1/nodes/{id}/decommission            | { maxUnavailable?, returning? } -> 201 NodeVerbAnswer |
 * | GET    | /v1/nodes/held                         | -> { held: HeldNode[] }                              |
 *
 * Errors: 404 unknown-node (not enrolled), 409 conflict (a wave or another verb is active,
 * the node is already held, it has no record in the mesh view), 400 bad-request.
 */
import { z } from 'zod'
import { HeldKind, MAINTENANCE_CONDITION, VerbKind } from '../../agent/protocol/node-verbs.js'
import { isAvailable, memberAvailability } from '../../agent/protocol/availability.js'
import type { MemberView } from '../../agent/protocol/mesh-types.js'
import { MaxUnavailable } from '../../agent/protocol/max-unavailable.js'
import { ReturningPolicy, type StateStore } from '../state-store.js'

export const nodeVerbRoutes = { nodes: '/v1/nodes', held: '/v1/nodes/held' } as const

export const NodeVerbRequest = z.object({ maxUnavailable: MaxUnavailable.optional() }).strict()
export type NodeVerbRequest = z.infer<typeof NodeVerbRequest>
/**
 * Decommission's body: `returning` says what happens when the machine boots again —
 * `refuse` (the default: a decommissioned machine that powers on by mistake, a BMC's
 * scheduled boot or a forgotten Wake-on-LAN, must not quietly rejoin and take work or
 * data; letting it back is one command) or `new` (it enrolls as a new machine).
 */
export const DecommissionRequest = NodeVerbRequest.extend({ returning: ReturningPolicy.optional() }).strict()
export type DecommissionRequest = z.infer<typeof DecommissionRequest>
export const DEFAULT_RETURNING: ReturningPolicy = 'refuse'
export const MaintenanceRequest = z.object({ on: z.boolean(), maxUnavailable: MaxUnavailable.optional() }).strict()
export type MaintenanceRequest = z.infer<typeof MaintenanceRequest>

export const HeldNode = z.object({ node: z.string(), kind: HeldKind, since: z.number(), by: z.string(), wave: z.string() }).strict()
export type HeldNode = z.infer<typeof HeldNode>

export const NodeVerbAnswer = z
  .object({
    node: z.string(),
    kind: z.union([VerbKind, z.literal('maintenance-off')]),
    /** The one-node wave that carries the verb out (absent for maintenance off). */
    wave: z.string().optional(),
    state: z.string(),
    message: z.string(),
  })
  .strict()
export type NodeVerbAnswer = z.infer<typeof NodeVerbAnswer>

/** The verb a stored wave carries out; `granted` once the coordinator saw its node win the slot. */
export const StoredVerb = z
  .object({
    node: z.string(),
    kind: VerbKind,
    granted: z.boolean().optional(),
    inc: z.number().optional(),
    /** Decommission: new or refused if the machine comes back. Absent in a verb stored before the choice existed: `new` (what that operator was promised). */
    returning: ReturningPolicy.optional(),
  })
  .strict()
export type StoredVerb = z.infer<typeof StoredVerb>

const HELD_KEY = 'verbs!held'

export async function loadHeld(store: StateStore): Promise<HeldNode[]> {
  return (await store.get(HELD_KEY, z.array(HeldNode))) ?? []
}

export function saveHeld(store: StateStore, held: readonly HeldNode[]): Promise<void> {
  return store.put(HELD_KEY, held)
}

/**
 * Whether a verb's wave is through, judged from the node's record and the vote: `inSlot`
 * (the node holds or is promised a slot now); `granted` when the coordinator saw the grant
 * (a grant and its release may both come between two looks, so the record's own evidence
 * counts too — evidence only the verb's cycle leaves):
 * - reboot: back available and out of its slot, after a grant or in a new life (its record's
 *   incarnation moved past the one it had when the verb started);
 * - maintenance: drained and held (phase draining with its maintenance condition), out of its slot;
 * - shutdown: going down (phase rebooting), or gone from the mesh after a grant;
 * - decommission: phase leaving, out of its slot.
 * Pure.
 */
export function verbThrough(v: StoredVerb, m: MemberView | undefined, inSlot: boolean): boolean {
  const r = m?.record
  switch (v.kind) {
    case 'reboot':
      return (!!v.granted || (r !== undefined && v.inc !== undefined && r.inc > v.inc)) && !inSlot && isAvailable(memberAvailability(m))
    case 'maintenance':
      return !inSlot && m?.status === 'alive' && r?.phase === 'draining' && r.health.conditions.some((c) => c.id === MAINTENANCE_CONDITION)
    case 'shutdown':
      return (m?.status === 'alive' && r?.phase === 'rebooting') || (!!v.granted && (m === undefined || m.status !== 'alive'))
    case 'decommission':
      return !inSlot && m?.status === 'alive' && r?.phase === 'leaving'
  }
}
