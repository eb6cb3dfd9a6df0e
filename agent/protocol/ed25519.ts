/**
 * Production Keyring: ed25519 through node:crypto (pure computation, no IO). The 32-byte
 * seed is the same one hyperdht's keyPair(seed) uses, so one key pair serves both the
 * Noise transport and record signatures.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import type { Keyring } from './ports.js'

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new Error('ed25519 seed must be 32 bytes')
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
}

export function publicKeyHexFromSeed(seed: Uint8Array): string {
  const der = createPublicKey(privateKeyFromSeed(seed)).export({ format: 'der', type: 'spki' })
  return Buffer.from(der.subarray(der.length - 32)).toString('hex')
}

const pubCache = new Map<string, KeyObject>()
function publicKeyObject(hex: string): KeyObject | undefined {
  let k = pubCache.get(hex)
  if (!k) {
    if (!/^[0-9a-f]{64}$/.test(hex)) return undefined
    k = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' })
    if (pubCache.size > 100_000) pubCache.clear()
    pubCache.set(hex, k)
  }
  return k
}

export function ed25519Verify(publicKeyHex: string, data: Uint8Array, signature: Uint8Array): boolean {
  const key = publicKeyObject(publicKeyHex)
  if (!key || signature.length !== 64) return false
  try {
    return verify(null, data, key, signature)
  } catch {
    return false
  }
}

export function ed25519Keyring(seed: Uint8Array): Keyring {
  const priv = privateKeyFromSeed(seed)
  return {
    publicKey: publicKeyHexFromSeed(seed),
    sign: (data) => new Uint8Array(sign(null, data, priv)),
    verify: ed25519Verify,
  }
}
