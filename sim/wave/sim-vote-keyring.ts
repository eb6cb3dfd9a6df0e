/**
 * The vote's keyring in the wave simulator: the fast stand-in signature of
 * agent/protocol/testing.ts, with keyrings built once per node and verifications
 * remembered per signature object — from the moment it is made, since a signature is valid
 * under its signer's key over the bytes it was made from. A broadcast is one shared message
 * object checked by every receiver, so it is verified once at most, not N times; a
 * different key or different bytes against the same signature object are checked afresh.
 * Accept/reject behaviour is exactly the stand-in's.
 */
import type { Keyring } from '../../agent/protocol/ports.js'
import { fakeKeyring } from '../../agent/protocol/testing.js'

const rings = new Map<string, Keyring>()
const verified = new WeakMap<Uint8Array, { key: string; data: Uint8Array; ok: boolean }>()

export function simVoteKeyring(id: string): Keyring {
  let r = rings.get(id)
  if (r) return r
  const base = fakeKeyring(id)
  r = {
    publicKey: base.publicKey,
    // What we sign verifies under our key: remembered, so the receivers of a message
    // (one shared signature object) skip the stand-in's hash.
    sign: (data) => {
      const sig = base.sign(data)
      verified.set(sig, { key: base.publicKey, data, ok: true })
      return sig
    },
    verify: (key, data, sig) => {
      const hit = verified.get(sig)
      if (hit && hit.key === key && hit.data === data) return hit.ok
      const ok = base.verify(key, data, sig)
      verified.set(sig, { key, data, ok })
      return ok
    },
  }
  rings.set(id, r)
  return r
}

export function simPublicKey(id: string): string {
  return simVoteKeyring(id).publicKey
}
