/**
 * Production Keyring: ed25519 through node:crypto (pure computation, no IO). The 32-byte
 * seed is the same one hyperdht's keyPair(seed) uses, so one key pair serves both the
 * Noise transport and record signatures.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import type { Keyring } from './ports.js'

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new Error('ed25519 seed must be 32 bytes')
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
}

export function publicKeyHexFromSeed(seed: Uint8Array): string {
  return publicKeyHexOf(privateKeyFromSeed(seed))
}

function publicKeyHexOf(priv: KeyObject): string {
  const der = createPublicKey(priv).export({ format: 'der', type: 'spki' })
  return Buffer.from(der.subarray(der.length - 32)).toString('hex')
}

/**
 * Member keys, imported once each. The import goes through JWK, not SPKI DER: the same
 * KeyObject, about ten times cheaper here (OpenSSL 3's DER decoder search dominated a join's
 * verify cost, one import per member). Bounded: the oldest key goes first.
 */
const pubCache = new Map<string, KeyObject>()
const PUB_CACHE_MAX = 16_384
function publicKeyObject(hex: string): KeyObject | undefined {
  let k = pubCache.get(hex)
  if (!k) {
    if (!/^[0-9a-f]{64}$/.test(hex)) return undefined
    try {
      k = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(hex, 'hex').toString('base64url') }, format: 'jwk' })
    } catch {
      return undefined
    }
    if (pubCache.size >= PUB_CACHE_MAX) pubCache.delete(pubCache.keys().next().value!)
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
    publicKey: publicKeyHexOf(priv), // the key imported once, not twice (an agent's start imports it here)
    sign: (data) => new Uint8Array(sign(null, data, priv)),
    verify: ed25519Verify,
  }
}

/**
 * The ed25519 points of small order (orders 1, 2, 4 and 8), as libsodium lists them, with
 * the sign bit (the top bit of the last byte) cleared; the non-canonical encodings of y = 0
 * and y = 1 are among them. OpenSSL accepts such a key, and under it a signature made by
 * no one: with the identity point as the key, R = identity and S = 0 verify for any message.
 */
const SMALL_ORDER = new Set([
  '01' + '00'.repeat(31),
  'ec' + 'ff'.repeat(30) + '7f',
  '00'.repeat(32),
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'ed' + 'ff'.repeat(30) + '7f',
  'ee' + 'ff'.repeat(30) + '7f',
])

/** Is this 64-hex-character key a point of small order (anyone could sign as it)? */
export function isSmallOrderKey(hex: string): boolean {
  if (hex.length !== 64) return false
  const last = (parseInt(hex.slice(62), 16) & 0x7f).toString(16).padStart(2, '0')
  return SMALL_ORDER.has(hex.slice(0, 62).toLowerCase() + last)
}
