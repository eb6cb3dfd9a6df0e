/**
 * VoteCore: one node's vote state and the plumbing every part of the protocol shares
 * (signing, effects, counters, persistence). The protocol itself is split by role over it:
 * voter.ts (judging requests), candidate.ts (asking and counting), recovery.ts (relearning
 * after a RAM boot), resolution.ts (grants, releases, withdraws, force-releases), inbox.ts
 * (checking and dispatching messages); vote-node.ts is the face. Internal: not exported
 * from the package index.
 */
import { DropReason } from '../errors.js'
import type { Keyring, Logger } from '../ports.js'
import type { ClusterView } from './cluster-view.js'
import type { VoteConfig } from './vote-config.js'
import { signingBytes, type RequestMsg, type Resolution, type RetireMsg, type Unsigned, type VoteMessage, type WaveMsg } from './vote-messages.js'
import type { Lease, PersistedVote, VoteEffect } from './vote-types.js'
import type { ViewScan } from './view-scan.js'

export interface Promise_ {
  term: number
  /** Our own vote (vs learned from another member after losing memory). */
  own: boolean
  /** When this node next asks the candidate whether the promise is resolved. */
  queryAt: number
  queryEveryMs: number
}

export interface SlotState {
  knownTerm: number
  forcedUpTo: number
  /** Candidates this node is promised to on this slot (one own; more only when learned). */
  promises: Map<string, Promise_>
  grant: { term: number; holder: string; queryAt: number; queryEveryMs: number } | undefined
  /** term -> candidate: our one vote per (slot, term). */
  myVotes: Map<number, string>
  /** Latest resolution seen per candidate, to forward as proof. */
  resolutions: Map<string, Resolution>
  /** The leader named by the last withdraws: backed next term. */
  leader: { term: number; cand: string } | undefined
}

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

export interface Recovery {
  quietUntil: number
  /** Nonces of sync requests sent after the quiet period: only their answers count. */
  countedNonces: Set<number>
  answers: Set<string>
  coordAnswered: boolean
  nextSyncAt: number
  rounds: number
}

export const STALE_QUERY_CAP = 16
export const RECHECK_KINDS = new Set<string>(['wave', 'grant', 'rel', 'wd', 'force', 'retire', 'sync', 'nack'])
export const COORD_MARK = '\u0000coordinator'
export const MAX_RESOLUTIONS_PER_SLOT = 64

export class VoteCore {
  readonly counters: Record<string, number> = {}
  wave: WaveMsg | undefined
  rosterKeys = new Map<string, string>()
  rosterIds: string[] = []
  retired = new Set<string>()
  retireMsgs: RetireMsg[] = []
  slots: SlotState[] = []
  lease: Lease | undefined
  collecting: Collection | undefined
  recovery: Recovery | undefined
  /** Coordinator after a restart: asking members what it missed (recovery.ts startCatchUp). */
  catchUp: { at: number; left: number; nonces: Set<number>; answers: Set<string> } | undefined
  retryAt = 0
  /** Coordinator: operator decisions re-broadcast with backoff (a lost retire would stall budgets). */
  announcements: { msg: VoteMessage; at: number; gapMs: number; left: number }[] = []
  wavePullAt = 0
  /** Roster-wide facts derived from the view, kept while its version holds (view-scan.ts). */
  scan: ViewScan | undefined
  /** "slot:term" -> members whose sync answer holds their own promise to us. */
  reclaimVotes = new Map<string, Set<string>>()
  nonce = 0
  /** This instance may have voted in a life it forgot (RAM boot, no Store): adopting a wave it booted into makes it relearn. */
  forgetful = false
  wakeCache = -1
  effects: VoteEffect[] = []
  now = 0
  dirty = false
  recheck = true

  constructor(
    readonly id: string,
    readonly role: 'node' | 'coordinator',
    readonly keyring: Keyring,
    readonly viewPort: ClusterView,
    readonly cfg: VoteConfig,
    readonly coordKey: string,
    readonly log: Logger,
    /** Clock at construction (= boot time of this instance). */
    readonly bootAt: number,
  ) {
    this.now = bootAt
  }

  /**
   * Is `sig` over `data` by `signer`? Its key on the wave roster, or — a member that booted
   * again since the wave started (new key, RAM only) — its key on the current roster, as
   * the view gives it. The coordinator's key never changes.
   */
  verifySigner(signer: string, rosterKey: string, data: Uint8Array, sig: Uint8Array): boolean {
    if (this.keyring.verify(rosterKey, data, sig)) return true
    if (this.wave && signer === this.wave.coord.id) return false
    const current = this.viewPort.currentKey?.(signer)
    return current !== undefined && current !== rosterKey && this.keyring.verify(current, data, sig)
  }

  /** The durable part of the state, as written through the Store. */
  snapshot(): PersistedVote {
    return {
      wave: this.wave,
      memoryWhole: !this.recovery,
      retired: [...this.retired],
      slots: this.slots.map((s, slot) => ({
        slot,
        knownTerm: s.knownTerm,
        forcedUpTo: s.forcedUpTo,
        promises: [...s.promises].map(([cand, p]) => ({ cand, term: p.term, own: p.own })),
        grant: s.grant ? { term: s.grant.term, holder: s.grant.holder } : undefined,
        myVotes: [...s.myVotes],
      })),
      lease: this.lease ? { ...this.lease } : undefined,
      collecting: this.collecting ? { slot: this.collecting.slot, term: this.collecting.term } : undefined,
    }
  }

  flushPersist(): void {
    if (!this.dirty || !this.wave) return
    this.dirty = false
    // Persist goes before every effect already queued in this step that sends something.
    const firstSend = this.effects.findIndex((e) => e.type === 'send' || e.type === 'broadcast' || e.type === 'lease-acquired')
    const eff: VoteEffect = { type: 'persist', key: `vote/${this.wave.id}`, state: this.snapshot() }
    if (firstSend < 0) this.effects.push(eff)
    else this.effects.splice(firstSend, 0, eff)
  }

  sign<M extends VoteMessage>(m: Unsigned<M>): M {
    return { ...m, sig: this.keyring.sign(signingBytes(m as Unsigned<VoteMessage>)) } as unknown as M
  }

  send(to: string, msg: VoteMessage): void {
    this.effects.push({ type: 'send', to, msg })
  }

  broadcast(msg: VoteMessage): void {
    this.effects.push({ type: 'broadcast', msg })
  }

  count(name: string): void {
    this.counters[name] = (this.counters[name] ?? 0) + 1
  }

  drop(from: string, reason: DropReason | 'unknown-wave' | 'quiet', detail: string): void {
    this.count(`dropped.${reason}`)
    this.effects.push({ type: 'dropped', from, reason, detail })
  }
}

export function newSlot(): SlotState {
  return { knownTerm: 0, forcedUpTo: 0, promises: new Map(), grant: undefined, myVotes: new Map(), resolutions: new Map(), leader: undefined }
}

/** Our votes at terms below every open promise and the last force can never be asked again. */
export function pruneVotes(s: SlotState): void {
  if (s.myVotes.size < 32) return
  const keep = [...s.myVotes.keys()].sort((a, b) => b - a).slice(0, 16)
  for (const t of [...s.myVotes.keys()]) if (!keep.includes(t)) s.myVotes.delete(t)
}
