/**
 * The one signing helper: every kind of thing shoal signs, the tag that begins its signed
 * bytes, and sign/verify that refuse bytes without their kind's tag.
 *
 * Domain separation without a wire change. Old and new agents vote together in every
 * wave, so the bytes each kind signs cannot change: a signature an older agent made must
 * verify on a newer one and the other way round. Every kind's signed bytes already begin
 * with a fixed prefix of their own — a text tag (`shoal/certificate/v1\n`,
 * `shoal-vote1|req|`, `shoal-assign1|`, ...), the msgpack array header and leading name of
 * a claim, an app message or a wave control (`[10 items, 'ctl', 1, ...]`), or, for a node
 * record, a msgpack map header (a byte no other kind begins with). That prefix IS the
 * kind's tag: the tags are prefix-free (no tag is a prefix of another; signing.test.ts
 * checks the table and that every encoder's output begins with its own tag), so signed
 * bytes of two kinds can never be equal, and no signature over one kind verifies as
 * another — whoever signs them.
 *
 * A new kind gets an explicit tag: `taggedBytes('shoal/KIND/v1', payload)`, the layout the
 * cluster key's kinds use, and a row in SIGNED_KINDS. docs/security.md, "Signatures".
 */
import type { Keyring } from './ports.js'
import { pack } from './frame.js'

/** Who signs a kind: a node's key, the coordinator's mesh key, the cluster key or an operator's key. */
export type Signer = 'node' | 'coordinator' | 'cluster' | 'operator'

/** A tag: the bytes every signed message of the kind begins with, or (a node record) a msgpack map header. */
export type Tag = { readonly prefix: Uint8Array } | { readonly msgpackMap: true }

const text = (s: string): Tag => ({ prefix: new TextEncoder().encode(s) })

/** The header and leading items of a msgpack array of `length` items (an encoder that always packs that many). */
function msgpackArray(length: number, ...lead: unknown[]): Tag {
  if (length > 15) throw new RangeError('msgpackArray: only fixarrays')
  const parts = [Uint8Array.of(0x90 | length), ...lead.map((x) => pack(x))]
  const prefix = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    prefix.set(p, at)
    at += p.length
  }
  return { prefix }
}

/** The kinds of vote message (agent/protocol/vote/vote-messages.ts), each signed as `shoal-vote1|KIND|...`. */
export const VOTE_KINDS = ['wave', 'req', 'vote', 'nack', 'grant', 'rel', 'wd', 'force', 'retire', 'sync?', 'sync', 'query'] as const
export type VoteKind = (typeof VOTE_KINDS)[number]

const voteRows = Object.fromEntries(
  VOTE_KINDS.map((k) => [`vote:${k}`, { signer: k === 'wave' || k === 'force' || k === 'retire' ? 'coordinator' : 'node', tag: text(`shoal-vote1|${k}|`), encoder: `vote-messages.ts signingBytes (k=${k})` }]),
) as Record<`vote:${VoteKind}`, { signer: Signer; tag: Tag; encoder: string }>

/**
 * Every signed kind: its tag, who signs it and the encoder of its bytes. The vote's wave,
 * force and retire are the coordinator's (force on an operator's command); a relay of any
 * kind carries the origin's signature as it is.
 */
export const SIGNED_KINDS = Object.freeze({
  record: { signer: 'node', tag: { msgpackMap: true }, encoder: 'node-record.ts signRecord: msgpack map of NodeRecordBody' },
  claim: { signer: 'node', tag: msgpackArray(5, 'claim'), encoder: 'messages.ts claimBytes' },
  app: { signer: 'node', tag: msgpackArray(6, 'app'), encoder: 'messages.ts appBytes' },
  control: { signer: 'coordinator', tag: msgpackArray(10, 'ctl', 1), encoder: 'wave-control.ts controlBytes' },
  'control-schedule': { signer: 'coordinator', tag: msgpackArray(8, 'ctl-sched', 1), encoder: 'wave-control.ts scheduleBytes' },
  'control-verbs': { signer: 'coordinator', tag: msgpackArray(6, 'ctl-verbs', 1), encoder: 'node-verbs.ts verbsBytes' },
  assign: { signer: 'node', tag: text('shoal-assign1|'), encoder: 'assign-proof.ts assignSigningText' },
  certificate: { signer: 'cluster', tag: text('shoal/certificate/v1\n'), encoder: 'enroll/certificate.ts signingBytes' },
  roster: { signer: 'cluster', tag: text('shoal/roster/v1\n'), encoder: 'enroll/certificate.ts signingBytes' },
  manifest: { signer: 'cluster', tag: text('shoal/manifest/v1\n'), encoder: 'enroll/certificate.ts signingBytes' },
  'shell-grant': { signer: 'operator', tag: text('shoal-shell-grant-v1\n'), encoder: 'shell-grant.ts grantSigningBytes' },
  ...voteRows,
} satisfies Record<string, { signer: Signer; tag: Tag; encoder: string }>)
export type SignedKind = keyof typeof SIGNED_KINDS

/** A msgpack map header: fixmap (0x80-0x8f), map16 (0xde) or map32 (0xdf). */
function isMsgpackMap(first: number | undefined): boolean {
  return first !== undefined && ((first & 0xf0) === 0x80 || first === 0xde || first === 0xdf)
}

/** True when `bytes` begin with `kind`'s tag. */
export function hasTag(kind: SignedKind, bytes: Uint8Array): boolean {
  const tag: Tag = SIGNED_KINDS[kind].tag
  if ('msgpackMap' in tag) return isMsgpackMap(bytes[0])
  const p = tag.prefix
  if (bytes.length < p.length) return false
  for (let i = 0; i < p.length; i++) if (bytes[i] !== p[i]) return false
  return true
}

const KINDS = Object.keys(SIGNED_KINDS) as SignedKind[]

/** The kind whose tag `bytes` begin with (at most one: the tags are prefix-free), or undefined. */
export function kindOf(bytes: Uint8Array): SignedKind | undefined {
  return KINDS.find((k) => hasTag(k, bytes))
}

/** Signs `bytes` as `kind`. Bytes without the kind's tag are a bug in their encoder: it throws. */
export function signAs(kind: SignedKind, bytes: Uint8Array, keyring: Pick<Keyring, 'sign'>): Uint8Array {
  if (!hasTag(kind, bytes)) throw new TypeError(`signAs: these bytes do not begin with the ${kind} tag (agent/protocol/signing.ts)`)
  return keyring.sign(bytes)
}

/** Whether `sig` is `key`'s signature over `bytes` as `kind`; false for bytes without the kind's tag. */
export function verifyAs(kind: SignedKind, key: string, bytes: Uint8Array, sig: Uint8Array, keyring: Pick<Keyring, 'verify'>): boolean {
  return hasTag(kind, bytes) && keyring.verify(key, bytes, sig)
}

/**
 * `utf8(tag + "\n") + payload`: the layout of an explicit tag, which a new kind uses
 * (`shoal/KIND/v1`, as the cluster key's kinds do). The tag may not hold a newline.
 */
export function taggedBytes(tag: string, payload: string | Uint8Array): Uint8Array {
  if (tag.includes('\n')) throw new TypeError('taggedBytes: a tag holds no newline')
  const enc = new TextEncoder()
  const head = enc.encode(`${tag}\n`)
  const body = typeof payload === 'string' ? enc.encode(payload) : payload
  const out = new Uint8Array(head.length + body.length)
  out.set(head)
  out.set(body, head.length)
  return out
}
