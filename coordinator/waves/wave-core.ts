/**
 * What an operator verb (wave-verbs.ts) or the boot assignment (wave-assign.ts) may use of
 * the WaveService: its collaborators and the few steps that keep the service's state
 * consistent. The service hands a WaveCore to each verb inside its lock (one verb at a
 * time), so a verb never takes the lock itself.
 */
import type { Clock, Keyring, Logger } from '../../agent/protocol/ports.js'
import type { Hold } from '../../agent/protocol/wave-control.js'
import type { VoteNode, VoteInput } from '../../agent/protocol/vote/vote-node.js'
import type { VoteRuntime } from '../../agent/upgrade/vote-runtime.js'
import type { ClusterState } from '../cluster-state.js'
import type { ImageStore } from '../image-store.js'
import type { CoordinatorView } from './coordinator-view.js'
import type { StoredWave, WaveCreate, WaveStatus } from './wave-api.js'

export interface WaveCore {
  readonly state: ClusterState
  readonly images: ImageStore
  readonly clock: Clock
  readonly log: Logger
  /** The coordinator's mesh/vote keyring (checks the nodes' signatures). */
  readonly keyring: Keyring
  /** The mesh as the coordinator's vote sees it (refresh before reading). */
  readonly view: CoordinatorView
  readonly vote: Pick<VoteNode, 'snapshot' | 'currentWave'>
  readonly voteRuntime: Pick<VoteRuntime, 'idle'>
  /** The wave `id` names ('current': the newest); 404 not-found otherwise. */
  find(id: string): StoredWave
  /** Wave `id` exactly, if there is one. */
  wave(id: string): StoredWave | undefined
  /** Writes `w` to level (its per-node progress included). */
  save(w: StoredWave): Promise<void>
  /** Updates `w`'s per-node states from the views; true when something changed. */
  refresh(w: StoredWave): boolean
  /** `w`, unless it is running and finished: then it is marked done now and undefined returned. */
  settled(w: StoredWave | undefined): Promise<StoredWave | undefined>
  /** The wave that is running or paused, if any. */
  active(): StoredWave | undefined
  /** Writes `w`'s new state, audits it and publishes the control it means. */
  setState(w: StoredWave, state: StoredWave['state'], reason: string, by: string): Promise<void>
  /** One vote input, carried out (persist included) before this resolves. */
  runVote(input: VoteInput): Promise<void>
  /** Whether new slots are held back now (the coordinator's own judgement). */
  hold(): Hold
  /** Signs and sends the control `w` now means. */
  publishControl(w: StoredWave): void
  /** Starts the stall clock again (the operator changed what held the wave). */
  restartStallClock(): void
  /** Stores, publishes and pins a new wave over `roster`. */
  startWave(b: WaveCreate, roster: { id: string; key: string }[], previous: string | undefined, by: string, rollbackOf?: string, selected?: string[]): Promise<StoredWave>
  status(w: StoredWave): WaveStatus
}
