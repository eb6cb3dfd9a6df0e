/**
 * Shell grants: a short-lived permission to open one shell session on one node, signed by
 * an operator key that the signed roster lists (`operators`). The target agent checks a
 * grant offline — no coordinator needed — so a shell works while the coordinator is down.
 *
 * Wire form (HTTP header `Authorization: ShoalGrant <token>`):
 *   token = base64url(json bytes) "." base64url(ed25519 signature)
 *   signed bytes = utf8("shoal-shell-grant-v1\n") + json bytes (exactly as sent: no
 *   canonical re-encoding, the agent verifies the bytes it received).
 *
 * Pure: the checker takes `now`, the operator list and a nonce memory as arguments.
 */
import { z } from 'zod'
import { NodeId, PublicKeyHex } from './node-record.js'
import type { Keyring } from './ports.js'
import { signAs, taggedBytes, verifyAs } from './signing.js'

export const SHELL_GRANT_DOMAIN = 'shoal-shell-grant-v1'
/** A grant may live at most this long (grants are meant to expire in minutes, not to be kept). */
export const MAX_GRANT_LIFETIME_MS = 10 * 60_000
/** How far a grant's issuedAt may lie in the agent's future (operator laptop clock skew). */
export const GRANT_CLOCK_SKEW_MS = 60_000

export const OperatorName = z.string().min(1).max(64).regex(/^[A-Za-z0-9._@-]+$/, 'operator name: letters, digits, . _ @ - only')
/** One operator in the roster: who, and the ed25519 key that signs their grants. */
export const OperatorEntry = z.object({ name: OperatorName, key: PublicKeyHex }).strict()
export type OperatorEntry = z.infer<typeof OperatorEntry>

export const ShellGrant = z
  .object({
    v: z.literal(1),
    /** The one node this grant opens a shell on. */
    node: NodeId,
    operator: OperatorName,
    /** The operator's public key (hex): must be the roster's key for `operator`. */
    key: PublicKeyHex,
    /** null: an interactive login shell; otherwise exactly this argv and nothing else. */
    command: z.array(z.string().max(4096)).min(1).max(256).nullable(),
    issuedAt: z.number().int().nonnegative(),
    expiresAt: z.number().int().nonnegative(),
    /** 16 random bytes (hex): a grant opens one session only. */
    nonce: z.string().regex(/^[0-9a-f]{32}$/),
  })
  .strict()
export type ShellGrant = z.infer<typeof ShellGrant>

/** Why a grant was refused; each is a counter (`shell.refused`) and the code of the 403 answer. */
export const GrantRefusal = z.enum(['unsigned', 'malformed', 'bad-signature', 'unknown-operator', 'expired', 'not-yet-valid', 'too-long', 'wrong-node', 'replayed'])
export type GrantRefusal = z.infer<typeof GrantRefusal>

const enc = new TextEncoder()

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url')
}

export function grantSigningBytes(json: Uint8Array): Uint8Array {
  return taggedBytes(SHELL_GRANT_DOMAIN, json)
}

/** Encodes and signs a grant with the operator's keyring. */
export function signGrant(grant: ShellGrant, keyring: Pick<Keyring, 'sign'>): string {
  const json = enc.encode(JSON.stringify(ShellGrant.parse(grant)))
  return `${b64url(json)}.${b64url(signAs('shell-grant', grantSigningBytes(json), keyring))}`
}

/** Remembers nonces until their grant expires, bounded: past `max` the grant is refused as replayed (fail closed). */
export class NonceMemory {
  private readonly seen = new Map<string, number>()
  constructor(private readonly max = 10_000) {}
  /** True if new (and now remembered until `expiresAt`); false if seen or the memory is full. */
  claim(nonce: string, expiresAt: number, now: number): boolean {
    for (const [n, exp] of this.seen) if (exp <= now) this.seen.delete(n)
    if (this.seen.has(nonce) || this.seen.size >= this.max) return false
    this.seen.set(nonce, expiresAt)
    return true
  }
  get size(): number {
    return this.seen.size
  }
}

export type GrantCheck = { ok: true; grant: ShellGrant } | { ok: false; reason: GrantRefusal; message: string }

export interface GrantContext {
  selfId: string
  now: number
  operators: readonly OperatorEntry[]
  verify: Keyring['verify']
  nonces: NonceMemory
}

const refuse = (reason: GrantRefusal, message: string): GrantCheck => ({ ok: false, reason, message })

/**
 * Checks a token (the header value after "ShoalGrant "). Order matters: the signature is
 * checked before anything the grant says is believed, and the nonce is claimed last, so a
 * refused grant does not burn its nonce.
 */
export function checkGrant(token: string | undefined, ctx: GrantContext): GrantCheck {
  if (!token) return refuse('unsigned', 'no shell grant: sign one with your operator key (shoal shell does it; see docs/shell.md)')
  const m = /^([A-Za-z0-9_-]{1,8192})\.([A-Za-z0-9_-]{86})$/.exec(token)
  if (!m) return refuse('malformed', 'the shell grant is not "<base64url json>.<base64url signature>"')
  const json = Buffer.from(m[1]!, 'base64url')
  const sig = Buffer.from(m[2]!, 'base64url')
  let raw: unknown
  try {
    raw = JSON.parse(json.toString('utf8'))
  } catch {
    return refuse('malformed', 'the shell grant body is not JSON')
  }
  const parsed = ShellGrant.safeParse(raw)
  if (!parsed.success) {
    const i = parsed.error.issues[0]
    return refuse('malformed', `the shell grant is invalid: ${i?.path.join('.')}: ${i?.message}`)
  }
  const g = parsed.data
  if (!verifyAs('shell-grant', g.key, grantSigningBytes(json), sig, ctx)) return refuse('bad-signature', `the shell grant's signature does not match key ${g.key.slice(0, 16)}…`)
  const op = ctx.operators.find((o) => o.name === g.operator)
  if (!op || op.key !== g.key) {
    return refuse('unknown-operator', `operator "${g.operator}" with key ${g.key.slice(0, 16)}… is not on this node's roster (never added, or removed): shoal coordinator operator add ${g.operator} --key FILE.pub`)
  }
  if (g.node !== ctx.selfId) return refuse('wrong-node', `the grant is for node "${g.node}", this is "${ctx.selfId}"`)
  if (g.expiresAt - g.issuedAt > MAX_GRANT_LIFETIME_MS) return refuse('too-long', `the grant lives ${Math.round((g.expiresAt - g.issuedAt) / 1000)} s; at most ${MAX_GRANT_LIFETIME_MS / 1000} s is accepted`)
  if (g.expiresAt <= ctx.now) return refuse('expired', `the grant expired ${Math.round((ctx.now - g.expiresAt) / 1000)} s ago (check the clocks; grants last minutes)`)
  if (g.issuedAt > ctx.now + GRANT_CLOCK_SKEW_MS) return refuse('not-yet-valid', `the grant was issued ${Math.round((g.issuedAt - ctx.now) / 1000)} s in this node's future (check the clocks)`)
  if (!ctx.nonces.claim(g.nonce, g.expiresAt, ctx.now)) return refuse('replayed', 'this grant was used already (a grant opens one session): sign a new one')
  return { ok: true, grant: g }
}
