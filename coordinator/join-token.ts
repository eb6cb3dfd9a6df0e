/**
 * One-time join tokens, decided as pure functions of the stored entry, the request and
 * the time. The coordinator stores only sha256(token), so a copy of its database hands
 * out no tokens.
 *
 * A token is accepted when it was issued to the requesting MAC, is unexpired and unused.
 * Once used it is bound to the (public key, fingerprint digest) of that request: the SAME
 * request may be re-sent within `retryWindowMs` (a lost response, a coordinator restart,
 * an approval wait) and gets the same outcome; any other request with it is refused.
 */
import { createHash } from 'node:crypto'
import { canonicalJson, type TokenRefusal } from '../agent/protocol/enroll/index.js'
import type { TokenEntry } from './state-store.js'

export function tokenHash(token: string): string {
  return createHash('sha256').update(`shoal/join-token/v1\n${token}`).digest('hex')
}

/** Digest of what a token becomes bound to: the key and the component set (order-free). */
export function requestDigest(publicKey: string, comps: readonly string[]): string {
  return createHash('sha256')
    .update(canonicalJson({ publicKey, comps: [...new Set(comps)].sort() }))
    .digest('hex')
}

export type TokenVerdict =
  | { kind: 'fresh' }
  | { kind: 'retry'; entry: TokenEntry }
  | { kind: 'refused'; code: TokenRefusal; message: string }

export function checkToken(
  entry: TokenEntry | undefined,
  req: { mac: string; publicKey: string; digest: string },
  now: number,
  retryWindowMs: number,
): TokenVerdict {
  if (!entry) {
    return { kind: 'refused', code: 'token-unknown', message: 'join token was not issued by this coordinator; reboot the node (or GET /v1/join-token?mac=…) to get a fresh one' }
  }
  if (entry.mac !== req.mac) {
    return { kind: 'refused', code: 'token-mac-mismatch', message: `join token was issued to another MAC than ${req.mac}; use the token from this machine's own boot script` }
  }
  if (entry.usedBy) {
    const same = entry.usedBy.publicKey === req.publicKey && entry.usedBy.digest === req.digest
    if (same && now - (entry.usedAt ?? 0) <= retryWindowMs) return { kind: 'retry', entry }
    if (same) return { kind: 'refused', code: 'token-expired', message: 'join token was used too long ago to retry; reboot the node to get a fresh one' }
    return { kind: 'refused', code: 'token-used', message: 'join token was already used by another key or machine; each token works once — reboot the node to get a fresh one' }
  }
  if (now >= entry.expiresAt) {
    return { kind: 'refused', code: 'token-expired', message: `join token expired ${Math.round((now - entry.expiresAt) / 1000)} s ago; reboot the node (or GET /v1/join-token?mac=…) to get a fresh one` }
  }
  return { kind: 'fresh' }
}
