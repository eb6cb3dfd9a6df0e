/** Relearning's own state (recovery.ts): the quiet period and sync rounds after a RAM boot, the coordinator's catch-up. */

export interface Relearning {
  quietUntil: number
  /** Nonces of sync requests sent after the quiet period: only their answers count. */
  countedNonces: Set<number>
  answers: Set<string>
  coordAnswered: boolean
  nextSyncAt: number
  rounds: number
}

export interface CatchUp {
  at: number
  left: number
  nonces: Set<number>
  answers: Set<string>
}

export class RecoveryState {
  /** Set while this node abstains and relearns its promises. */
  relearning: Relearning | undefined
  /** Coordinator after a restart: asking members what it missed (recovery.ts startCatchUp). */
  catchUp: CatchUp | undefined
  /** This instance may have voted in a life it forgot (RAM boot, no Store): adopting a wave it booted into makes it relearn. */
  forgetful = false
  /** Asking a sender for a wave we missed, no more often than this. */
  wavePullAt = 0
}
