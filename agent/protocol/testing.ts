/**
 * Test doubles for the pure core, shared by unit tests here and by the simulator:
 * a seeded Rng and a fast stand-in Keyring. The stand-in "signature" is an 8-byte keyed
 * digest of (public key, data): it accepts exactly what it signed and rejects anything
 * altered or signed under another key, which is all the protocol relies on. It is not
 * cryptography — production uses ed25519 (ed25519.ts).
 */
import { fnv1a } from './hash.js'
import type { Keyring, Rng } from './ports.js'

/** splitmix32: tiny, fast, good enough for schedules and shuffles. */
export function seededRng(seed: number): Rng {
  let s = seed >>> 0
  const next = () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296
  }
  return { next, int: (n) => Math.floor(next() * n) }
}

/** A deterministic 64-hex public key for a name. */
export function fakePublicKey(name: string): string {
  let out = ''
  for (let i = 0; out.length < 64; i++) out += fnv1a(`${name}#${i}`).toString(16).padStart(8, '0')
  return out.slice(0, 64)
}

/** The key's two seeds, hashed once per key (a 64-char key hashed twice per signature was a sixth of a simulated wave). */
const keySeeds = new Map<string, [number, number]>()

function tag(publicKey: string, data: Uint8Array): Uint8Array {
  let seeds = keySeeds.get(publicKey)
  if (!seeds) {
    seeds = [fnv1a(publicKey), fnv1a(publicKey, 0x01000193)]
    if (keySeeds.size > 10_000) keySeeds.clear()
    keySeeds.set(publicKey, seeds)
  }
  let h1 = seeds[0]
  let h2 = seeds[1]
  for (let i = 0; i < data.length; i++) {
    h1 = Math.imul(h1 ^ data[i]!, 0x01000193) >>> 0
    h2 = Math.imul(h2 ^ data[i]!, 0x5bd1e995) >>> 0
  }
  // Big-endian, byte by byte (a DataView per signature showed in the simulator's profile).
  const out = new Uint8Array(8)
  out[0] = h1 >>> 24
  out[1] = h1 >>> 16
  out[2] = h1 >>> 8
  out[3] = h1
  out[4] = h2 >>> 24
  out[5] = h2 >>> 16
  out[6] = h2 >>> 8
  out[7] = h2
  return out
}

export function fakeKeyring(name: string): Keyring {
  const publicKey = fakePublicKey(name)
  return {
    publicKey,
    sign: (data) => tag(publicKey, data),
    verify: (pk, data, sig) => {
      if (sig.length !== 8) return false
      const want = tag(pk, data)
      for (let i = 0; i < 8; i++) if (want[i] !== sig[i]) return false
      return true
    },
  }
}
