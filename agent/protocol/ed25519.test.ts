import { generateKeyPairSync, sign } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ed25519Keyring, ed25519Verify } from './ed25519.js'

describe('ed25519Verify', () => {
  const data = new TextEncoder().encode('record bytes')

  it('accepts a signature by the key it names, refuses other keys, other bytes and forged signatures', () => {
    const a = ed25519Keyring(new Uint8Array(32).fill(1))
    const b = ed25519Keyring(new Uint8Array(32).fill(2))
    const sig = a.sign(data)
    for (let i = 0; i < 3; i++) expect(ed25519Verify(a.publicKey, data, sig)).toBe(true) // imported once, then reused
    expect(ed25519Verify(b.publicKey, data, sig)).toBe(false)
    expect(ed25519Verify(a.publicKey, new TextEncoder().encode('record bytez'), sig)).toBe(false)
    const forged = new Uint8Array(sig)
    forged[10]! ^= 1
    expect(ed25519Verify(a.publicKey, data, forged)).toBe(false)
  })

  it('checks signatures made by any ed25519 implementation (an OpenSSL-generated key pair)', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519')
    const hex = Buffer.from(publicKey.export({ format: 'der', type: 'spki' })).subarray(12).toString('hex')
    expect(ed25519Verify(hex, data, new Uint8Array(sign(null, data, privateKey)))).toBe(true)
  })

  it('a malformed key or signature is a refusal, never a throw', () => {
    const a = ed25519Keyring(new Uint8Array(32).fill(3))
    const sig = a.sign(data)
    for (const key of ['', 'zz'.repeat(32), a.publicKey.toUpperCase(), a.publicKey.slice(2), a.publicKey + '00']) expect(ed25519Verify(key, data, sig)).toBe(false)
    expect(ed25519Verify(a.publicKey, data, sig.subarray(1))).toBe(false)
  })
})
