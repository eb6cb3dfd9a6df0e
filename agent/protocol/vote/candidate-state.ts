/** The candidate's own state (candidate.ts): its lease, the collection under way, its retry time. */
import type { RequestMsg } from './vote-messages.js'
import type { Lease } from './vote-types.js'

export interface Collection {
  slot: number
  term: number
  req: RequestMsg
  votes: Set<string>
  coordVote: boolean
  /** Voters that voted for someone else at this very (slot, term): final. */
  against: Map<string, string>
  coordAgainst: boolean
  answered: Set<string>
  startedAt: number
  deadline: number
  resendAt: number
  /** Reclaiming a lease this node may have held before losing its memory. */
  reclaim: boolean
}

export class CandidateState {
  lease: Lease | undefined
  collecting: Collection | undefined
  /** No new request before this (after a withdraw, so the term's leader goes first). */
  retryAt = 0
  /** "slot:term" -> members whose sync answer holds their own promise to us (recovery.ts fills it). */
  reclaimVotes = new Map<string, Set<string>>()
}
