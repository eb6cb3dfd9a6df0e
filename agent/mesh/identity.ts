/**
 * One 32-byte seed, one key pair: hyperdht's keyPair(seed) (Noise transport) and
 * ed25519Keyring(seed) (record signatures) derive the very same ed25519 key, so a peer
 * that proved its key in the Noise handshake is the one that signs its records.
 *
 * The agent signs through libsodium (sodium-native, which hyperdht runs on) and checks
 * signatures there first: a member's key is used as its 32 bytes, with nothing to import.
 * node:crypto imports each member's key first (a KeyObject) and verifies in ~84 µs here
 * against libsodium's ~48 µs; a join verifies every member's record.
 *
 * The answer is always node:crypto's (OpenSSL's), as every earlier agent and the simulator
 * give it: libsodium is stricter (it refuses small-order keys and R points, and non-canonical
 * encodings, which OpenSSL accepts: the identity key with an all-zero S verifies any message
 * there), so what libsodium refuses is asked of node:crypto again. Had the agents of one
 * version refused what the other's accept, an insider could sign claims the old ones relay
 * and the new ones drop as bad, holding it against the honest relay until they cut it off.
 * Every signature libsodium accepts, OpenSSL accepts: the fast path answers only for those.
 */
import DHT, { type KeyPair } from 'hyperdht'
import sodium from 'sodium-native'
import { ed25519Keyring, ed25519Verify } from '../protocol/ed25519.js'
import { ShoalError } from '../protocol/errors.js'
import type { Keyring } from '../protocol/ports.js'

export interface NodeIdentity {
  /** Hex public key; the roster entry for this node must carry it. */
  readonly publicKey: string
  readonly keyPair: KeyPair
  readonly keyring: Keyring
}

export function nodeIdentity(seed: Uint8Array): NodeIdentity {
  if (seed.length !== 32) throw new ShoalError('config', `the node seed must be 32 bytes, got ${seed.length}; regenerate it (64 hex characters)`)
  const keyPair = DHT.keyPair(Buffer.from(seed))
  const publicKey = keyPair.publicKey.toString('hex')
  if (publicKey !== ed25519Keyring(seed).publicKey) throw new ShoalError('internal', 'hyperdht and node:crypto derived different keys from one seed')
  return { publicKey, keyPair, keyring: sodiumKeyring(publicKey, keyPair.secretKey) }
}

/** Member keys as bytes, parsed once each. Bounded: the oldest goes first. */
const keyBytes = new Map<string, Uint8Array>()
const KEY_CACHE_MAX = 16_384
const HEX_KEY = /^[0-9a-f]{64}$/

function publicKeyBytes(hex: string): Uint8Array | undefined {
  let k = keyBytes.get(hex)
  if (!k) {
    if (!HEX_KEY.test(hex)) return undefined
    k = Buffer.from(hex, 'hex')
    if (keyBytes.size >= KEY_CACHE_MAX) keyBytes.delete(keyBytes.keys().next().value!)
    keyBytes.set(hex, k)
  }
  return k
}

/** ed25519 signatures made by libsodium, checked by it where it agrees with node:crypto; `secretKey` is libsodium's 64 bytes (seed + public key), as hyperdht's keyPair holds it. */
export function sodiumKeyring(publicKey: string, secretKey: Uint8Array): Keyring {
  return {
    publicKey,
    sign: (data) => {
      const sig = new Uint8Array(64)
      sodium.crypto_sign_detached(sig, data, secretKey)
      return sig
    },
    verify: (publicKeyHex, data, signature) => {
      const key = publicKeyBytes(publicKeyHex)
      if (!key || signature.length !== 64) return false
      try {
        if (sodium.crypto_sign_verify_detached(signature, data, key)) return true
      } catch {
        // node:crypto decides
      }
      return ed25519Verify(publicKeyHex, data, signature)
    },
  }
}
