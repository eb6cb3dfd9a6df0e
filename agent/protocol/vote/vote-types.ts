/**
 * The vote's public types: what the agent (agent/upgrade) and the simulator drive a VoteNode with
 * and get back. Re-exported by vote-node.ts (the names and shapes are the API).
 */
import type { DropReason } from '../errors.js'
import type { Keyring, Logger } from '../ports.js'
import type { ClusterView } from './cluster-view.js'
import type { VoteConfig } from './vote-config.js'
import type { Unsigned, VoteMessage, WaveMsg } from './vote-messages.js'

/** A lease as its holder carries it: the fencing token is (slot, term). */
export interface Lease {
  wave: string
  slot: number
  term: number
  holder: string
}

export type VoteInput =
  | { type: 'tick' }
  /** A decoded vote message from the mesh (broadcast or direct). `from` is the mesh sender. */
  | { type: 'message'; from: string; msg: VoteMessage }
  /** Coordinator only: sign and publish a wave (roster fixed from here on). */
  | { type: 'publish-wave'; wave: Omit<Unsigned<WaveMsg>, 'k' | 'v'> }
  /**
   * Coordinator only: an operator's force-release of `slot`: every promise and grant on it
   * up to `term`. Default: up to what `node` holds or was promised there (a later holder of
   * the slot keeps its lease); without `node`, every term known.
   */
  | { type: 'force-release'; slot: number; term?: number; node?: string }
  /** Coordinator only: an operator writes `node` off for this wave. */
  | { type: 'retire'; node: string }
  /** The executor's post-reboot gate result for this node's lease; passed -> release. */
  | { type: 'gate'; lease: Lease; passed: boolean }
  /**
   * The cluster view changed (gossip, probes): re-evaluate candidacy. `changed`: the members
   * whose facts may differ since this node's previous view-changed input (a superset is
   * fine) — with it, a change that concerns nobody this node watches costs nothing
   * (view-change.ts). Absent: anything may have changed (a gate round, a control message).
   */
  | { type: 'view-changed'; changed?: ReadonlySet<string> }

export type VoteEffect =
  | { type: 'send'; to: string; msg: VoteMessage }
  | { type: 'broadcast'; msg: VoteMessage }
  /** Write `state` under `key` through the Store; done before any later effect of the step. */
  | { type: 'persist'; key: string; state: PersistedVote }
  | { type: 'lease-acquired'; lease: Lease }
  | { type: 'lease-released'; lease: Lease }
  | { type: 'lease-lost'; lease: Lease; reason: string }
  | { type: 'dropped'; from: string; reason: DropReason | 'unknown-wave' | 'quiet'; detail: string }

/** What survives a process restart (not a RAM boot). */
export interface PersistedVote {
  wave: WaveMsg | undefined
  /** False while this node is still relearning promises after losing its memory. */
  memoryWhole: boolean
  retired: string[]
  slots: {
    slot: number
    knownTerm: number
    forcedUpTo: number
    promises: { cand: string; term: number; own: boolean }[]
    grant: { term: number; holder: string } | undefined
    myVotes: readonly (readonly [number, string])[]
  }[]
  lease: Lease | undefined
  collecting: { slot: number; term: number } | undefined
}

export interface VoteNodeInit {
  id: string
  keyring: Keyring
  view: ClusterView
  config: VoteConfig
  /** The coordinator's public key: only waves, force-releases and retirements it signed count. */
  coordinatorKey: string
  role: 'node' | 'coordinator'
  /** Clock at construction (= boot time of this instance). */
  now: number
  /** State read from the Store, when this process restarted but the machine did not reboot. */
  persisted?: PersistedVote
  /**
   * True for a node that may have voted before this boot and forgotten it (RAM boot): it
   * abstains and relearns. False only for a node known to have started before any wave.
   */
  mayHaveForgotten?: boolean
  logger?: Logger
}
