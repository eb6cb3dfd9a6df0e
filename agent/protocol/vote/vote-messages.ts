/**
 * Every vote message, defined once: zod schema -> inferred type, plus the exact bytes each
 * one is signed over. The vote rides on the mesh: `wave`, `req`, `grant`, `rel`, `wd`,
 * `force`, `retire` and `sync?` travel as mesh broadcasts (topic VOTE_TOPIC); `vote`,
 * `nack`, `sync`, `query` and `proof` travel as direct app messages.
 *
 * Signing bytes are a `|`-joined text (ids cannot contain `|`: NodeId allows
 * [A-Za-z0-9._-] only), domain-separated by a kind prefix, so a signature over one kind
 * can never be replayed as another.
 */
import { z } from 'zod'
import { Bytes, keepUnknown } from '../frame.js'
import { NodeId, PublicKeyHex } from '../node-record.js'
import { ImageVersion } from '../image-version.js'
import { MaxUnavailableRange } from '../max-unavailable.js'

export const VOTE_TOPIC = 'vote'
export const VOTE_VERSION = 1

const WaveId = z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/)
const Slot = z.number().int().nonnegative().max(1024)
const Term = z.number().int().positive().max(2 ** 48)
const Sig = Bytes

/** How failure domains shape the wave. */
export const DomainPolicy = z.enum([
  /** Domains only order the ranking (finish one before starting the next). */
  'rank',
  /** Additionally, slots are never held in two domains at once. */
  'one-at-a-time',
])
export type DomainPolicy = z.infer<typeof DomainPolicy>

/** The wave as the coordinator signs it. The roster is fixed here for the wave's life. */
export const WaveMsg = keepUnknown(
  z.object({
    k: z.literal('wave'),
    v: z.literal(VOTE_VERSION),
    id: WaveId,
    target: ImageVersion,
    /** The wave's K (maxUnavailable; named slots on the wire since v1). */
    slots: MaxUnavailableRange,
    policy: DomainPolicy,
    roster: z.array(keepUnknown(z.object({ id: NodeId, key: PublicKeyHex }))).min(1).max(100_000),
    coord: keepUnknown(z.object({ id: NodeId, key: PublicKeyHex })),
    /** Coordinator clock (ms) when the wave started: a node booted before it cannot have voted in it. */
    startedAt: z.number().int().nonnegative(),
    sig: Sig,
  }),
)
export type WaveMsg = z.infer<typeof WaveMsg>

const head = { wave: WaveId, slot: Slot, term: Term }

/** A candidate asks for (slot, term). */
export const RequestMsg = keepUnknown(z.object({ k: z.literal('req'), ...head, cand: NodeId, sig: Sig }))
/** A yes vote, sent to the candidate only. Counted toward a quorum. */
export const VoteMsg = keepUnknown(z.object({ k: z.literal('vote'), ...head, voter: NodeId, cand: NodeId, sig: Sig }))
/** A refusal with the reason and, when the voter is promised elsewhere, to whom. Never counted. */
export const NackMsg = keepUnknown(
  z.object({
    k: z.literal('nack'),
    ...head,
    voter: NodeId,
    cand: NodeId,
    reason: z.enum(['promised', 'voted', 'stale', 'budget', 'rank', 'gate', 'ineligible', 'quiet', 'leader']),
    /** Who the voter is promised to / voted for, and at which term. */
    other: keepUnknown(z.object({ term: Term, cand: NodeId })).optional(),
    sig: Sig,
  }),
)
/** The winner tells everyone (so their free-slot count is right). Not evidence: each voter keeps its own promise. */
export const GrantMsg = keepUnknown(z.object({ k: z.literal('grant'), ...head, holder: NodeId, votes: z.number().int().nonnegative(), sig: Sig }))
/** The holder frees its slot, after its post-reboot gate passed. Resolves promises to it up to `term`. */
export const ReleaseMsg = keepUnknown(z.object({ k: z.literal('rel'), ...head, holder: NodeId, sig: Sig }))
/** A candidate gives (slot, term) up for good; `leader` is whom it saw ahead (voters back it next term). */
export const WithdrawMsg = keepUnknown(z.object({ k: z.literal('wd'), ...head, cand: NodeId, leader: NodeId.optional(), sig: Sig }))
/** An operator's force-release through the coordinator: every promise on `slot` up to `term` is void. */
export const ForceMsg = keepUnknown(z.object({ k: z.literal('force'), ...head, by: NodeId, sig: Sig }))
/** An operator writes a node off for this wave: no longer a candidate, no longer counted unavailable. */
export const RetireMsg = keepUnknown(z.object({ k: z.literal('retire'), wave: WaveId, node: NodeId, by: NodeId, sig: Sig }))
/** A node that lost its memory asks everyone for their promises. */
export const SyncReqMsg = keepUnknown(
  z.object({ k: z.literal('sync?'), wave: z.union([WaveId, z.literal('*')]), from: NodeId, nonce: z.number().int().nonnegative(), sig: Sig }))

/** `own`: the sender's own vote (counts toward the candidate's quorum), else relearned. */
const Promise_ = keepUnknown(z.object({ slot: Slot, term: Term, cand: NodeId, own: z.boolean() }))
/** The answer: the sender's open promises, the grants it knows, and whether its own memory is whole. */
export const SyncMsg = keepUnknown(
  z.object({
    k: z.literal('sync'),
    wave: WaveId,
    from: NodeId,
    to: NodeId,
    nonce: z.number().int().nonnegative(),
    complete: z.boolean(),
    /** The wave itself, so a node that forgot it learns it (it checks the coordinator's signature). */
    waveMsg: WaveMsg.optional(),
    promises: z.array(Promise_).max(1024),
    grants: z.array(keepUnknown(z.object({ slot: Slot, term: Term, holder: NodeId }))).max(1024),
    /** The coordinator's signed retirements, forwarded as they are (checked on arrival). */
    retires: z.array(RetireMsg).max(100_000),
    /**
     * Per slot, the highest term the sender has seen (requests, votes, resolutions, forces):
     * a node that lost its memory never asks again at a term it may have used before.
     */
    terms: z.array(keepUnknown(z.object({ slot: Slot, term: Term }))).max(1024).optional(),
    sig: Sig,
  }),
)
/** "You hold my promise on (slot, term): is it resolved?" The answer is a `proof`. */
export const QueryMsg = keepUnknown(z.object({ k: z.literal('query'), ...head, from: NodeId, sig: Sig }))

export type RequestMsg = z.infer<typeof RequestMsg>
export type VoteMsg = z.infer<typeof VoteMsg>
export type NackMsg = z.infer<typeof NackMsg>
export type GrantMsg = z.infer<typeof GrantMsg>
export type ReleaseMsg = z.infer<typeof ReleaseMsg>
export type WithdrawMsg = z.infer<typeof WithdrawMsg>
export type ForceMsg = z.infer<typeof ForceMsg>
export type RetireMsg = z.infer<typeof RetireMsg>
export type SyncReqMsg = z.infer<typeof SyncReqMsg>
export type SyncMsg = z.infer<typeof SyncMsg>
export type QueryMsg = z.infer<typeof QueryMsg>
export type NackReason = NackMsg['reason']

/** A resolution: a signed statement that frees promises. Forwarded as-is as proof. */
export type Resolution = ReleaseMsg | WithdrawMsg | ForceMsg

export const VoteMessage = z.discriminatedUnion('k', [
  WaveMsg,
  RequestMsg,
  VoteMsg,
  NackMsg,
  GrantMsg,
  ReleaseMsg,
  WithdrawMsg,
  ForceMsg,
  RetireMsg,
  SyncReqMsg,
  SyncMsg,
  QueryMsg,
])
export type VoteMessage = z.infer<typeof VoteMessage>
/** A message before signing. */
export type Unsigned<M> = M extends unknown ? Omit<M, 'sig'> : never

const enc = new TextEncoder()

// Messages are immutable once built: the bytes are remembered per message object, so a
// broadcast checked by every receiver (in the simulator: one shared object) encodes once.
const memo = new WeakMap<object, Uint8Array>()

/** Remembers `bytes` as what `m` signs: a message just signed over them need not be encoded again. */
export function rememberSigningBytes(m: object, bytes: Uint8Array): void {
  memo.set(m, bytes)
}

/** The exact bytes a message's signature covers, encoded afresh (not remembered: for a message about to be signed, whose signed copy remembers them). */
export function encodeSigningBytes(m: Unsigned<VoteMessage>): Uint8Array {
  return enc.encode(signingText(m))
}

/** The exact bytes a message's signature covers. */
export function signingBytes(m: Unsigned<VoteMessage>): Uint8Array {
  let b = memo.get(m)
  if (b === undefined) {
    b = enc.encode(signingText(m))
    memo.set(m, b)
  }
  return b
}

function signingText(m: Unsigned<VoteMessage>): string {
  switch (m.k) {
    case 'wave':
      return `shoal-vote1|wave|${m.id}|${m.target}|${m.slots}|${m.policy}|${m.coord.id}:${m.coord.key}|${m.startedAt}|${m.roster.map((r) => `${r.id}:${r.key}`).join(',')}`
    case 'req':
      return `shoal-vote1|req|${m.wave}|${m.slot}|${m.term}|${m.cand}`
    case 'vote':
      return `shoal-vote1|vote|${m.wave}|${m.slot}|${m.term}|${m.voter}|${m.cand}`
    case 'nack':
      return `shoal-vote1|nack|${m.wave}|${m.slot}|${m.term}|${m.voter}|${m.cand}|${m.reason}|${m.other ? `${m.other.term}:${m.other.cand}` : ''}`
    case 'grant':
      return `shoal-vote1|grant|${m.wave}|${m.slot}|${m.term}|${m.holder}|${m.votes}`
    case 'rel':
      return `shoal-vote1|rel|${m.wave}|${m.slot}|${m.term}|${m.holder}`
    case 'wd':
      return `shoal-vote1|wd|${m.wave}|${m.slot}|${m.term}|${m.cand}|${m.leader ?? ''}`
    case 'force':
      return `shoal-vote1|force|${m.wave}|${m.slot}|${m.term}|${m.by}`
    case 'retire':
      return `shoal-vote1|retire|${m.wave}|${m.node}|${m.by}`
    case 'sync?':
      return `shoal-vote1|sync?|${m.wave}|${m.from}|${m.nonce}`
    case 'sync':
      return `shoal-vote1|sync|${m.wave}|${m.from}|${m.to}|${m.nonce}|${m.complete}|${m.promises.map((p) => `${p.slot}:${p.term}:${p.cand}:${p.own ? 1 : 0}`).join(',')}|${m.grants.map((g) => `${g.slot}:${g.term}:${g.holder}`).join(',')}${m.terms ? `|terms:${m.terms.map((t) => `${t.slot}:${t.term}`).join(',')}` : ''}`
    case 'query':
      return `shoal-vote1|query|${m.wave}|${m.slot}|${m.term}|${m.from}`
  }
}

/** Who signed a message (by node id), given the wave for coordinator-signed kinds. */
export function signerOf(m: VoteMessage): string {
  switch (m.k) {
    case 'wave':
      return m.coord.id
    case 'req':
    case 'wd':
      return m.cand
    case 'vote':
    case 'nack':
      return m.voter
    case 'grant':
    case 'rel':
      return m.holder
    case 'force':
    case 'retire':
      return m.by
    case 'sync?':
    case 'sync':
    case 'query':
      return m.from
  }
}
