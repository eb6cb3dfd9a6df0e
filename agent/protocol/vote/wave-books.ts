/**
 * WaveBooks: what one node knows of the wave it takes part in — the signed wave (roster,
 * slots, coordinator), who was retired, and per slot the promises, grants, votes and
 * resolutions every role reads. The voter writes its promises and votes here, resolution.ts
 * the grants and resolutions; the roles' private state lives with them
 * (candidate-state.ts, recovery-state.ts, announcements.ts).
 */
import type { Resolution, RetireMsg, WaveMsg } from './vote-messages.js'

export interface Promise_ {
  term: number
  /** Our own vote (vs learned from another member after losing memory). */
  own: boolean
  /** When this node next asks the candidate whether the promise is resolved. */
  queryAt: number
  queryEveryMs: number
  /** The candidate looks done in our view: ask it at this time (resolution.ts doneHolderTick). */
  doneAskAt?: number
  doneAskEveryMs?: number
  /** doneHolderTick has judged this candidate since the promise was made (view-change.ts: a view change that does not name it changes nothing here). */
  doneChecked?: boolean
}

export interface SlotState {
  knownTerm: number
  forcedUpTo: number
  /** Candidates this node is promised to on this slot (one own; more only when learned). */
  promises: Map<string, Promise_>
  grant: { term: number; holder: string; queryAt: number; queryEveryMs: number; doneAskAt?: number; doneAskEveryMs?: number; doneChecked?: boolean } | undefined
  /** term -> candidate: our one vote per (slot, term). Written only through `recordVote` and `pruneVotes`. */
  myVotes: Map<number, string>
  /**
   * `myVotes` as the snapshot persists it, kept until the next vote or prune (undefined:
   * build it again). Up to 31 votes per slot were copied into a fresh array on every
   * persist — a twentieth of an N=200 wave's CPU — though they change only when we vote.
   * Never mutated once built: snapshots share it.
   */
  myVotesList: readonly (readonly [number, string])[] | undefined
  /** Latest resolution seen per candidate, to forward as proof. */
  resolutions: Map<string, Resolution>
  /** The leader named by the last withdraws: backed next term. */
  leader: { term: number; cand: string } | undefined
}

export class WaveBooks {
  wave: WaveMsg | undefined
  rosterKeys = new Map<string, string>()
  rosterIds: string[] = []
  retired = new Set<string>()
  retireMsgs: RetireMsg[] = []
  slots: SlotState[] = []

  /** A new wave: its roster, empty slots, nobody retired. */
  adopt(m: WaveMsg): void {
    this.wave = m
    this.rosterKeys = new Map(m.roster.map((r) => [r.id, r.key]))
    this.rosterIds = m.roster.map((r) => r.id)
    this.retired = new Set()
    this.retireMsgs = []
    this.slots = Array.from({ length: m.slots }, () => newSlot())
  }
}

export function newSlot(): SlotState {
  return { knownTerm: 0, forcedUpTo: 0, promises: new Map(), grant: undefined, myVotes: new Map(), myVotesList: undefined, resolutions: new Map(), leader: undefined }
}

/** Our one vote at (slot, term). */
export function recordVote(s: SlotState, term: number, cand: string): void {
  s.myVotes.set(term, cand)
  s.myVotesList = undefined
}

/** Our votes at terms below every open promise and the last force can never be asked again. */
export function pruneVotes(s: SlotState): void {
  if (s.myVotes.size < 32) return
  const keep = [...s.myVotes.keys()].sort((a, b) => b - a).slice(0, 16)
  for (const t of [...s.myVotes.keys()]) if (!keep.includes(t)) s.myVotes.delete(t)
  s.myVotesList = undefined
}

/** `myVotes` as persisted (shared between snapshots until it changes). */
export function votesList(s: SlotState): readonly (readonly [number, string])[] {
  return (s.myVotesList ??= [...s.myVotes])
}
