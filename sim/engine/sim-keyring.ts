/**
 * A STAND-IN for ed25519, for the simulator only. Signing is a keyed 64-bit FNV/murmur
 * style digest expanded to 64 bytes (ed25519's signature size, so byte counts stay
 * realistic); verifying recomputes it with the signer's secret, which the verifier finds
 * in the `SimKeyAuthority` that issued every key of the run.
 *
 * What it preserves: a signature made with another key, or over other bytes, or of the
 * wrong length is rejected, and a key the authority never issued verifies nothing — so
 * the protocol's accept/reject paths behave as in production. What it does NOT give:
 * any security (anyone holding the authority can forge). It costs ~1 µs per KB instead
 * of ~50 µs per ed25519 verify, which is what keeps 1000 simulated nodes fast.
 * Production uses agent/protocol/ed25519.ts.
 */
import type { Keyring } from '../../agent/protocol/ports.js'
import { fmix32 } from '../../agent/protocol/hash.js'
import type { SimRng } from './rng.js'

const SIG_BYTES = 64

interface Secret {
  k0: number
  k1: number
  k2: number
  k3: number
}

export class SimKeyAuthority {
  private readonly secrets = new Map<string, Secret>()

  constructor(private readonly rng: SimRng) {}

  /** Issues a fresh key pair. Keep the keyring to give a restarted node the same key. */
  issue(): Keyring {
    const bytes = new Uint8Array(32)
    const view = new DataView(bytes.buffer)
    let publicKey: string
    do {
      for (let i = 0; i < 8; i++) view.setUint32(i * 4, this.rng.u32())
      publicKey = Buffer.from(bytes).toString('hex')
    } while (this.secrets.has(publicKey))
    const secret: Secret = { k0: this.rng.u32(), k1: this.rng.u32(), k2: this.rng.u32(), k3: this.rng.u32() }
    this.secrets.set(publicKey, secret)
    return {
      publicKey,
      sign: (data) => digest(secret, data),
      verify: (publicKeyHex, data, signature) => this.verify(publicKeyHex, data, signature),
    }
  }

  verify(publicKeyHex: string, data: Uint8Array, signature: Uint8Array): boolean {
    const secret = this.secrets.get(publicKeyHex)
    if (!secret || signature.length !== SIG_BYTES) return false
    const expected = digest(secret, data)
    for (let i = 0; i < SIG_BYTES; i++) if (expected[i] !== signature[i]) return false
    return true
  }
}

function digest(s: Secret, data: Uint8Array): Uint8Array {
  let h1 = s.k0 ^ data.length
  let h2 = s.k1
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!
    h1 = Math.imul(h1 ^ b, 0x01000193)
    h2 = Math.imul(h2 ^ b, 0x5bd1e995) ^ (h2 >>> 15)
  }
  h1 = fmix32(h1 ^ s.k2)
  h2 = fmix32(h2 ^ s.k3 ^ h1)
  const out = new Uint8Array(SIG_BYTES)
  const view = new DataView(out.buffer)
  for (let i = 0; i < SIG_BYTES / 4; i++) view.setUint32(i * 4, fmix32(h1 + Math.imul(i + 1, 0x9e3779b9)) ^ fmix32(h2 ^ i))
  return out
}

