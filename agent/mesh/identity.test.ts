import { describe, expect, it } from 'vitest'
import { ed25519Keyring, isSmallOrderKey } from '../protocol/ed25519.js'
import { nodeIdentity } from './identity.js'

const seedOf = (b: number) => new Uint8Array(32).fill(b)

describe('nodeIdentity: the agent signs and verifies through libsodium', () => {
  it('makes the same signatures as node:crypto (the simulator), and each verifies the other', () => {
    const agent = nodeIdentity(seedOf(3)).keyring
    const sim = ed25519Keyring(seedOf(3))
    expect(agent.publicKey).toBe(sim.publicKey)
    for (const len of [0, 1, 64, 300, 5000]) {
      const data = new Uint8Array(len).map((_, i) => (i * 31 + len) & 0xff)
      const sig = agent.sign(data)
      expect(Buffer.from(sig).toString('hex')).toBe(Buffer.from(sim.sign(data)).toString('hex'))
      expect(sim.verify(agent.publicKey, data, sig)).toBe(true)
      expect(agent.verify(sim.publicKey, data, sim.sign(data))).toBe(true)
    }
  })

  it('refuses a changed message, a changed signature, another key and malformed input, without throwing', () => {
    const a = nodeIdentity(seedOf(4)).keyring
    const b = nodeIdentity(seedOf(5)).keyring
    const data = new TextEncoder().encode('record body')
    const sig = a.sign(data)
    expect(a.verify(a.publicKey, data, sig)).toBe(true)
    expect(a.verify(a.publicKey, new TextEncoder().encode('record bodY'), sig)).toBe(false)
    const bent = sig.slice()
    bent[10]! ^= 1
    expect(a.verify(a.publicKey, data, bent)).toBe(false)
    expect(a.verify(b.publicKey, data, sig)).toBe(false)
    expect(a.verify('zz'.repeat(32), data, sig)).toBe(false)
    expect(a.verify(a.publicKey.slice(2), data, sig)).toBe(false)
    expect(a.verify(a.publicKey.toUpperCase(), data, sig)).toBe(false)
    expect(a.verify(a.publicKey, data, sig.subarray(0, 63))).toBe(false)
    expect(a.verify(a.publicKey, data, new Uint8Array(64))).toBe(false)
  })

  it('answers as node:crypto does where libsodium is stricter (a small-order key: OpenSSL accepts, libsodium refuses)', () => {
    // The identity point as the key, R = identity, S = 0: [S]B = R + [k]A holds for any message.
    const identity = '01' + '00'.repeat(31)
    const sig = new Uint8Array(64)
    sig[0] = 1
    const data = new TextEncoder().encode('any message')
    const agent = nodeIdentity(seedOf(6)).keyring
    const sim = ed25519Keyring(seedOf(6))
    expect(agent.verify(identity, data, sig)).toBe(sim.verify(identity, data, sig))
    // Both accept it: such a key must never reach a roster (enrollment refuses it: isSmallOrderKey).
    expect(sim.verify(identity, data, sig)).toBe(true)
    expect(isSmallOrderKey(identity)).toBe(true)
    expect(isSmallOrderKey(agent.publicKey)).toBe(false)
  })
})
