/**
 * VoteCore: one node's vote, the plumbing every role shares — identity, ports, signing,
 * the effects of the step under way, counters, persistence — and the state, each part
 * owned by one role: the wave's books (wave-books.ts: roster, slots, promises, grants),
 * the candidate's (candidate-state.ts), relearning's (recovery-state.ts) and the
 * coordinator's (operator-state.ts).
 *
 * The roles never call each other: a message a role addresses to this very node (our own
 * vote, withdraw, release, force-release) goes back through the inbox (`toSelf`), and the
 * inbox dispatches it like any other. vote-node.ts, the face, wires the inbox in. Internal:
 * not exported from the package index.
 */
import { DropReason } from '../errors.js'
import type { Keyring, Logger } from '../ports.js'
import { signAs, verifyAs, VOTE_KINDS, type VoteKind } from '../signing.js'
import { CandidateState } from './candidate-state.js'
import type { ClusterView } from './cluster-view.js'
import { OperatorState } from './operator-state.js'
import { RecoveryState } from './recovery-state.js'
import type { VoteConfig } from './vote-config.js'
import { encodeSigningBytes, rememberSigningBytes, type Unsigned, type VoteMessage } from './vote-messages.js'
import type { PersistedVote, VoteEffect } from './vote-types.js'
import type { ViewScan } from './view-scan.js'
import { votesList, WaveBooks } from './wave-books.js'

export const STALE_QUERY_CAP = 16
export const RECHECK_KINDS = new Set<string>(['wave', 'grant', 'rel', 'wd', 'force', 'retire', 'sync', 'nack'])
export const COORD_MARK = '\u0000coordinator'
export const MAX_RESOLUTIONS_PER_SLOT = 64

/** Each kind's signing kind (`vote:<k>`), built once: every message signed or checked names one. */
const SIGNED_AS = Object.fromEntries(VOTE_KINDS.map((k) => [k, `vote:${k}`])) as { [K in VoteKind]: `vote:${K}` }

/** How the roles reach the inbox without importing it (vote-node.ts sets both). */
export interface InboxPort {
  /** A message from the mesh (or carried inside a sync answer): checked, then dispatched. */
  fromPeer(from: string, m: VoteMessage): void
  /** A message this node signed for itself just now: dispatched without the checks. */
  toSelf(m: VoteMessage): void
}

export class VoteCore {
  readonly counters: Record<string, number> = {}
  readonly books = new WaveBooks()
  readonly cand = new CandidateState()
  readonly rec = new RecoveryState()
  /** Coordinator only: operator decisions re-broadcast with backoff, a wave held back at a cold start. */
  readonly operator = new OperatorState()
  /** Roster-wide facts derived from the view, kept while its version holds (view-scan.ts). */
  scan: ViewScan | undefined
  nonce = 0
  /** View changes that concerned nothing this node watches (view-change.ts); VoteNode.counters files it as `view.quiet`. */
  quietViews = 0
  wakeCache = -1
  effects: VoteEffect[] = []
  now = 0
  dirty = false
  recheck = true
  inbox: InboxPort = { fromPeer: () => {}, toSelf: () => {} }

  constructor(
    readonly id: string,
    readonly role: 'node' | 'coordinator',
    readonly keyring: Keyring,
    readonly viewPort: ClusterView,
    readonly cfg: VoteConfig,
    readonly coordKey: string,
    readonly log: Logger,
    /** When this instance's memory begins (= boot time of this instance). */
    readonly bootAt: number,
  ) {
    this.now = bootAt
  }

  get wave() {
    return this.books.wave
  }

  private rosterOf: unknown = undefined
  private rosterMember = false

  /** Is this node on the wave's roster? (asked on every request and view change: kept per wave) */
  get onRoster(): boolean {
    if (this.rosterOf !== this.books.wave) {
      this.rosterOf = this.books.wave
      this.rosterMember = this.books.rosterKeys.has(this.id)
    }
    return this.rosterMember
  }

  /** Hands a message we signed for ourselves back to the inbox. */
  toSelf(m: VoteMessage): void {
    this.inbox.toSelf(m)
  }

  /**
   * Is `sig` over `data` by `signer`? Its key on the wave roster, or — a member that booted
   * again since the wave started (new key, RAM only) — its key on the current roster, as
   * the view gives it. The coordinator's key never changes. `kind`: the message's k (its
   * signing tag, agent/protocol/signing.ts).
   */
  verifySigner(kind: VoteKind, signer: string, rosterKey: string, data: Uint8Array, sig: Uint8Array): boolean {
    const as = SIGNED_AS[kind]
    if (verifyAs(as, rosterKey, data, sig, this.keyring)) return true
    if (this.wave && signer === this.wave.coord.id) return false
    const current = this.viewPort.currentKey?.(signer)
    return current !== undefined && current !== rosterKey && verifyAs(as, current, data, sig, this.keyring)
  }

  /** The durable part of the state, as written through the Store. */
  snapshot(): PersistedVote {
    const b = this.books
    const c = this.cand
    return {
      wave: b.wave,
      memoryWhole: !this.rec.relearning,
      retired: [...b.retired],
      slots: b.slots.map((s, slot) => ({
        slot,
        knownTerm: s.knownTerm,
        forcedUpTo: s.forcedUpTo,
        promises: [...s.promises].map(([cand, p]) => ({ cand, term: p.term, own: p.own })),
        grant: s.grant ? { term: s.grant.term, holder: s.grant.holder } : undefined,
        myVotes: votesList(s),
      })),
      lease: c.lease ? { ...c.lease } : undefined,
      collecting: c.collecting ? { slot: c.collecting.slot, term: c.collecting.term } : undefined,
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
    // Not signingBytes: the unsigned object is thrown away, only the signed one is remembered.
    const bytes = encodeSigningBytes(m as Unsigned<VoteMessage>)
    const signed = { ...m, sig: signAs(SIGNED_AS[(m as Unsigned<VoteMessage>).k], bytes, this.keyring) }
    rememberSigningBytes(signed, bytes)
    return signed as unknown as M
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
