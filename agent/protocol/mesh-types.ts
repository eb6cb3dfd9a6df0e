/**
 * The contract between the pure mesh node (mesh-node.ts) and whoever drives it: the
 * production runtime (agent/mesh) or the simulator (sim/engine).
 *
 * Driving rules:
 * - Call `node.step(input, now)` for every input, in arrival order, never re-entrantly.
 * - Carry out the returned effects in order.
 * - After every step, read `node.nextWakeAt()` and deliver `{ type: 'tick' }` at (or after)
 *   that time. Early ticks are harmless.
 * - Decode peer bytes at the edge with `decodeMessage`; deliver failures as `bad-frame`.
 * - `send` travels only over an existing connection to `to`; with none, the transport
 *   drops it (and may count it). The node only addresses connected peers, except replies.
 * - Answer every `connect` effect with `connected` or, on failure, `disconnected`.
 * - A peer's connection closing (RST, timeout, firewall refusal) is `disconnected`.
 */
import type { DropReason } from './errors.js'
import type { MeshMessage, OutMessage } from './messages.js'
import type { HealthSummary, InventorySummary, NodeRecordBody, Phase } from './node-record.js'

export type Liveness = 'alive' | 'suspect' | 'dead'

export type SelfPatch = Partial<Pick<NodeRecordBody, 'image' | 'phase' | 'domain' | 'api' | 'mesh' | 'inv' | 'health' | 'comps' | 'work'>>

export type MeshInput =
  | { type: 'tick' }
  | { type: 'message'; from: string; msg: MeshMessage; bytes?: number }
  | { type: 'bad-frame'; from: string; reason: DropReason; detail: string }
  /** A transport connection to `peer` is up (either direction). */
  | { type: 'connected'; peer: string }
  /** The transport lost (or failed to make) its connection to `peer`. */
  | { type: 'disconnected'; peer: string }
  /** This node's own record changes (phase, health, ...). Published at once. */
  | { type: 'update-self'; patch: SelfPatch }
  /** Disseminate an application payload to every node (signed by this node). */
  | { type: 'broadcast'; topic: string; body: Uint8Array }
  /**
   * Send an application payload to one node: directly when connected, otherwise as an
   * addressed message along the broadcast tree (signed; only `to` delivers it).
   */
  | { type: 'send-app'; to: string; topic: string; body: Uint8Array }

export type MeshEffect =
  | { type: 'send'; to: string; msg: OutMessage }
  /**
   * Open a connection to `peer`. `grow`: the overlay only wants one more neighbour toward its
   * target degree (not a check whether `peer` lives), so the transport may let the dial go
   * when links that others dialled reached the target meanwhile; it then reports the peer
   * `disconnected`, as for a dial that failed.
   */
  | { type: 'connect'; peer: string; grow?: true }
  | { type: 'disconnect'; peer: string; reason: string }
  | { type: 'event'; event: MeshEvent }

export type MeshEvent =
  | { type: 'member'; id: string; status: Liveness; previous: Liveness | undefined; inc: number }
  | { type: 'record'; id: string; record: NodeRecordBody; previous: NodeRecordBody | undefined }
  | { type: 'app'; from: string; topic: string; body: Uint8Array; direct: boolean }
  | { type: 'dropped'; from: string; reason: DropReason | string; detail: string }

/** One member as this node sees it. */
export interface MemberView {
  id: string
  status: Liveness
  /** Incarnation of the liveness fact. */
  inc: number
  /** Local receipt time of the newest record (ms). */
  updatedAt: number
  /** Local time the liveness status last changed (ms). */
  statusSince: number
  record: NodeRecordBody | undefined
}

export type { HealthSummary, InventorySummary, NodeRecordBody, Phase }
