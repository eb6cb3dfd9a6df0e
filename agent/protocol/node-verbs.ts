/**
 * Node verbs (`shoal node maintenance|reboot|shutdown|decommission NODE`): one node taken
 * through the very vote, gates and release a wave uses — never a side door.
 *
 * A verb is a one-node wave: the coordinator publishes a wave whose target is the node's
 * own image (so no agent that predates verbs is ever a candidate in it: its image already
 * is the target), selected to that node only (`sched.only`), and says which node and what
 * for in an additive section of its signed control message (`nv`, signed apart as `nvsig`,
 * so an older agent still verifies `sig` and `ssig` over the fields it knows and ignores
 * this one). Every agent that knows verbs, and the coordinator, then see the verb's node as
 * not on the target yet (verbImage): it becomes the one candidate, asks for a slot under
 * the wave's K and gates, and on winning runs the cycle with the verb's kind
 * (upgrade-cycle): reboot (no new image), maintenance (hold after the drain), shutdown
 * (power off), decommission (OSDs out, wait for Ceph to move its data, leave).
 *
 * `held`: the nodes in maintenance or shut down. They are unavailable (phase draining, or
 * dead) and count against K in every wave by the one availability rule; the coordinator
 * lists them here so that a node knows it stays held (a restarted agent does not undo its
 * maintenance) and no wave's halt rule takes them for nodes that did not come back.
 * Pure: no IO, no clocks.
 */
import { z } from 'zod'
import { keepUnknown, pack } from './frame.js'

export const VERB_KINDS = ['reboot', 'maintenance', 'shutdown', 'decommission'] as const
export const VerbKind = z.enum(VERB_KINDS)
export type VerbKind = z.infer<typeof VerbKind>

/** The kinds that leave a node held (unavailable) after its cycle, until the operator or its return ends it. */
export const HeldKind = z.enum(['maintenance', 'shutdown'])
export type HeldKind = z.infer<typeof HeldKind>

const Id = z.string().min(1).max(64)

export const NodeVerbs = keepUnknown(
  z.object({
    /** The verb this wave carries out (absent: a wave with no verb, which still carries `held`). */
    verb: keepUnknown(z.object({ node: Id, kind: VerbKind })).optional(),
    /** Nodes held out of service now: in maintenance, or shut down and not back yet. */
    held: z.array(keepUnknown(z.object({ node: Id, kind: HeldKind }))).max(100_000),
  }),
)
export type NodeVerbs = z.infer<typeof NodeVerbs>

/** What `nvsig` covers: the verbs bound to their control message (wave, seq). */
export function verbsBytes(m: { wave: string; seq: number }, nv: NodeVerbs): Uint8Array {
  return pack(['ctl-verbs', 1, m.wave, m.seq, nv.verb ? [nv.verb.node, nv.verb.kind] : null, nv.held.map((h) => [h.node, h.kind])])
}

/** The image a view reports for a node that is the pending subject of a verb: never equal to any target. */
export function verbImage(kind: VerbKind): string {
  return `verb:${kind}`
}

/** The node's held kind (maintenance, shutdown), if `nv` lists it. */
export function heldKind(nv: NodeVerbs | undefined, node: string): HeldKind | undefined {
  return nv?.held.find((h) => h.node === node)?.kind
}

/** The health condition a node in maintenance publishes (with who and since when in its message). */
export const MAINTENANCE_CONDITION = 'node-maintenance'

/**
 * The verb subcommands and the coordinator's route word for each. `maintenance off` is not
 * a verb through the vote: ending maintenance only makes a node more available.
 */
export function verbText(kind: VerbKind): string {
  switch (kind) {
    case 'reboot':
      return 'one safe reboot'
    case 'maintenance':
      return 'maintenance (drained and held)'
    case 'shutdown':
      return 'a safe power-off'
    case 'decommission':
      return 'decommission (drained, OSDs out, data moved, removed)'
  }
}
