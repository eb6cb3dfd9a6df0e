/**
 * "Unavailable", defined once. The wave's invariant — never more than K nodes unavailable —
 * counts every node that is rebooting, draining, not Ready, dead or missing, whatever the
 * cause. Everything that counts against K asks this one function: the agent's cluster view
 * (agent/upgrade/mesh-cluster-view.ts), the coordinator's (coordinator/waves/coordinator-view.ts),
 * the halt rule (wave-control.ts), the dry run, and the simulator (which maps its model
 * state into the same inputs). Pure.
 */
import type { Liveness } from './mesh-types.js'
import type { Phase } from './node-record.js'

/** What one member's view says about a node, as far as availability goes. */
export interface AvailabilityInput {
  /** Mesh liveness of the member; undefined when the member is missing from the view. */
  liveness: Liveness | undefined
  /** Phase from its record; undefined when no record has arrived yet. */
  phase: Phase | undefined
  /** Overall health status from its record. */
  health: 'ok' | 'warning' | 'critical' | 'unknown' | undefined
  /**
   * Cordoned (Kubernetes unschedulable) when the source knows it; undefined when it does not
   * (gossiped records carry the phase, and a cycle's cordon shows as phase `draining` or
   * `verifying`).
   */
  cordoned?: boolean | undefined
}

/** Why a node is unavailable, first cause first; undefined when it is available. */
export type UnavailableWhy = 'missing' | 'suspect' | 'dead' | 'no-record' | Exclude<Phase, 'ready'> | 'critical' | 'cordoned'

/**
 * Available means: alive in the mesh, phase `ready`, health not critical, not cordoned.
 * Anything else — including "we do not know" — is unavailable (fails closed: an unknown
 * node counts against K).
 */
export function unavailableWhy(m: AvailabilityInput): UnavailableWhy | undefined {
  if (m.liveness === undefined) return 'missing'
  if (m.liveness !== 'alive') return m.liveness
  if (m.phase === undefined) return 'no-record'
  if (m.phase !== 'ready') return m.phase
  if (m.health === 'critical') return 'critical'
  if (m.cordoned === true) return 'cordoned'
  return undefined
}

export function isAvailable(m: AvailabilityInput): boolean {
  return unavailableWhy(m) === undefined
}

/** The availability inputs of a member as a mesh view shows it (undefined: missing). */
export function memberAvailability(m: { status: Liveness; record?: { phase: Phase; health: { status: AvailabilityInput['health'] } } | undefined } | undefined): AvailabilityInput {
  return { liveness: m?.status, phase: m?.record?.phase, health: m?.record?.health.status }
}

/** Whose OSDs may be down now (for the joint set): dead, suspect, missing, or rebooting. */
export function mayBeDown(m: AvailabilityInput): boolean {
  return m.liveness !== 'alive' || m.phase === 'rebooting'
}

/**
 * Past the reboot of an upgrade cycle, by its own record (alive, phase verifying): back up,
 * but its post-reboot gate (every PG active+clean again) has not passed yet. Such a holder
 * asks no joint question any more, so every other holder counts it as stopped
 * (joint-safety.ts).
 */
export function pastReboot(m: AvailabilityInput): boolean {
  return m.liveness === 'alive' && m.phase === 'verifying'
}

/**
 * Carrying out an upgrade cycle before its reboot, by its own record (alive, phase
 * draining): a slot holder, whatever any vote's books say (joint-safety.ts orders holders).
 */
export function inCycle(m: AvailabilityInput): boolean {
  return m.liveness === 'alive' && m.phase === 'draining'
}
