import { generateKeyPairSync, sign } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ed25519Keyring, ed25519Verify, isSmallOrderKey } from './ed25519.js'

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

describe('isSmallOrderKey', () => {
  it('knows the small-order points with either sign bit, and nothing else', () => {
    const small = ['01' + '00'.repeat(31), 'ec' + 'ff'.repeat(30) + '7f', '00'.repeat(32), 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', 'ed' + 'ff'.repeat(30) + '7f', 'ee' + 'ff'.repeat(30) + '7f']
    for (const k of small) {
      expect(isSmallOrderKey(k)).toBe(true)
      const signed = k.slice(0, 62) + (parseInt(k.slice(62), 16) | 0x80).toString(16)
      expect(isSmallOrderKey(signed)).toBe(true)
    }
    for (let i = 1; i <= 50; i++) expect(isSmallOrderKey(ed25519Keyring(new Uint8Array(32).fill(i)).publicKey)).toBe(false)
    expect(isSmallOrderKey('02' + '00'.repeat(31))).toBe(false)
    expect(isSmallOrderKey('01')).toBe(false)
  })
})
