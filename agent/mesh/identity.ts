/**
 * One 32-byte seed, one key pair: hyperdht's keyPair(seed) (Noise transport) and
 * ed25519Keyring(seed) (record signatures) derive the very same ed25519 key, so a peer
 * that proved its key in the Noise handshake is the one that signs its records.
 */
import DHT, { type KeyPair } from 'hyperdht'
import { ed25519Keyring } from '../protocol/ed25519.js'
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
  const keyring = ed25519Keyring(seed)
  const publicKey = keyPair.publicKey.toString('hex')
  if (publicKey !== keyring.publicKey) throw new ShoalError('internal', 'hyperdht and node:crypto derived different keys from one seed')
  return { publicKey, keyPair, keyring }
}
