/**
 * The upgrade cycle's vocabulary: its state, the inputs a driver feeds it, and the effects
 * (data) it asks the driver to carry out. See cycle-step.ts for the machine itself.
 */
import type { Phase } from '../node-record.js'
import type { Lease } from '../vote/index.js'
import type { CyclePolicy } from './cycle-policy.js'
import type { VerbKind } from '../node-verbs.js'

/** A gate's answer: pass, or why not (what an operator reads). */
export interface GateVerdict {
  pass: boolean
  reasons: string[]
}

/** What a drain left behind at its deadline. */
export interface DrainResult {
  ok: boolean
  blocking: string[]
}

/** One node-local action. The driver performs it and answers with a `done` input. */
export type CycleAction =
  /** The pre-reboot gate, joint with every node down, holding a slot or rebooting (before noout). */
  | { step: 'pre-gate' }
  | { step: 'set-noout' }
  /** Cordon, marked with this cycle (a boot that finds the mark without a lease finishes it). */
  | { step: 'cordon'; lease: Lease }
  | { step: 'drain'; deadlineMs: number; force: boolean }
  /** Ask the coordinator, with the lease as proof, to boot this node on `target` next. */
  | { step: 'assign'; lease: Lease; target: string }
  /** The joint ok-to-stop question again, right before the reboot (after the drain). */
  | { step: 'joint-check' }
  /** `powerOff`: a node verb's shutdown — the machine stays off until someone powers it on. */
  | { step: 'reboot'; reason: string; powerOff?: boolean }
  /** Decommission: mark this host's OSDs out (Ceph starts moving their data elsewhere). */
  | { step: 'osd-out' }
  /** Decommission undone (its lease lost before it left): mark this host's OSDs in again. */
  | { step: 'osd-in' }
  /** Decommission: has Ceph moved the data (every PG active+clean, none left on this host's OSDs)? A gate, polled. */
  | { step: 'data-moved' }
  | { step: 'post-gate' }
  | { step: 'uncordon' }
  | { step: 'clear-noout' }

export type CycleStepName = CycleAction['step']

/** `held`: a maintenance verb drained the node and released its slot; it stays unavailable. `decommissioned`: its data moved off, it left. */
export type CycleOutcome = 'rebooting' | 'released' | 'finished' | 'failed' | 'fenced' | 'held' | 'decommissioned'

export type CycleInput =
  /**
   * A lease to carry out. `fence`: is the lease still ours at (slot, term), read now.
   * `resume`: this cycle was already under way (an agent restart with the lease read back
   * from its Store): skip the pre-gate, set noout, cordon and drain again (idempotent).
   */
  | { type: 'lease'; lease: Lease; target: string | undefined; image: string; fence: boolean; policy: CyclePolicy; resume?: boolean; verb?: VerbKind }
  /** This node booted cordoned for cycle `mark`, whose lease is gone: finish it (no release). */
  | { type: 'leftover'; mark: string; policy: CyclePolicy }
  /**
   * The action in flight finished. `error`: it threw (its message). `verdict`: a gate's
   * answer. `drain`: the drain's. `fence` read right after it finished.
   */
  | { type: 'done'; step: CycleStepName; fence: boolean; error?: string; verdict?: GateVerdict; drain?: DrainResult }
  /** A `wake` came due (early ticks are harmless: a waiting step is tried again). */
  | { type: 'tick'; fence: boolean }
  /**
   * What a waiting step waits on may have changed (a record, health, a release): a waiting
   * pre-gate, joint check or post gate is tried again now, or `pokeMinGapMs` after its last
   * try if that was too recent (a `wake` for then). Harmless at any other time.
   */
  | { type: 'poke'; fence: boolean }

export type CycleEffect =
  | { type: 'do'; action: CycleAction }
  /** Publish this phase (and why) in the node's record. */
  | { type: 'phase'; phase: Phase; reason?: string }
  /** Deliver a `tick` at `at` (or earlier). */
  | { type: 'wake'; at: number }
  /** The post-reboot gate passed under a valid lease: tell the vote (it releases the slot). */
  | { type: 'release'; lease: Lease }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; msg: string; data?: Record<string, unknown> }
  /** The run is over. */
  | { type: 'end'; outcome: CycleOutcome }

export interface CycleRun {
  kind: 'lease' | 'leftover'
  /** The node verb this lease carries out (node-verbs.ts); undefined: an upgrade. */
  verb?: VerbKind
  lease: Lease | undefined
  target: string | undefined
  /** The leftover cycle's mark. */
  mark: string | undefined
  policy: CyclePolicy
  /** The step in flight, or the one a tick will try again. */
  step: CycleStepName
  inFlight: boolean
  /** What has been set that a fence loss before the reboot must undo (each implies those before it: osd-out > cordon > noout). */
  touched: 'none' | 'noout' | 'cordon' | 'osd-out'
  /** The drain was forced past its blockers (the force policy). */
  forced: boolean
  /** Undoing noout/cordon after a fence loss before the reboot. */
  undoing: boolean
  /** Past the reboot (post gate onwards). */
  afterBoot: boolean
  verifyDeadline: number
  /** The last waiting reason published (published again only when it changes). */
  waitingWhy: string | undefined
  /** When the waiting step was last tried (a poke waits pokeMinGapMs after it). */
  triedAt: number
  /** The next try already asked for (a wake at this time), so a poke asks only for an earlier one. */
  retryAt: number
}

export interface CycleState {
  run: CycleRun | undefined
  /** How the last run ended. */
  outcome: CycleOutcome | undefined
  /** The last step and its outcome, for the API. */
  last: { step: string; at: number; note?: string } | undefined
}

export const idleCycle: CycleState = Object.freeze({ run: undefined, outcome: undefined, last: undefined }) as CycleState
