import { describe, expect, it } from 'vitest'
import { checkToken, requestDigest, tokenHash } from './join-token.js'

const entry = { mac: '52:54:00:00:00:01', issuedAt: 1000, expiresAt: 2000 }
const req = { mac: '52:54:00:00:00:01', publicKey: 'a'.repeat(64), digest: 'd1' }
const window = 10_000

describe('checkToken', () => {
  it('fresh until the expiry instant', () => {
    expect(checkToken(entry, req, 1999, window).kind).toBe('fresh')
    expect(checkToken(entry, req, 2000, window)).toMatchObject({ kind: 'refused', code: 'token-expired' })
  })
  it('unknown and wrong MAC are refused with their reasons', () => {
    expect(checkToken(undefined, req, 1000, window)).toMatchObject({ code: 'token-unknown' })
    expect(checkToken(entry, { ...req, mac: '52:54:00:00:00:02' }, 1000, window)).toMatchObject({ code: 'token-mac-mismatch' })
  })
  it('a used token: the same request may retry within the window; anything else is token-used', () => {
    const used = { ...entry, usedAt: 1500, usedBy: { publicKey: req.publicKey, digest: 'd1' } }
    expect(checkToken(used, req, 5000, window).kind).toBe('retry')
    expect(checkToken(used, req, 1500 + window + 1, window)).toMatchObject({ code: 'token-expired' })
    expect(checkToken(used, { ...req, digest: 'd2' }, 1600, window)).toMatchObject({ code: 'token-used' })
    expect(checkToken(used, { ...req, publicKey: 'b'.repeat(64) }, 1600, window)).toMatchObject({ code: 'token-used' })
  })
  it('digests ignore component order and duplicates; hashes are domain-separated', () => {
    expect(requestDigest('k', ['a', 'b', 'a'])).toBe(requestDigest('k', ['b', 'a']))
    expect(requestDigest('k', ['a'])).not.toBe(requestDigest('k2', ['a']))
    expect(tokenHash('ab')).toMatch(/^[0-9a-f]{64}$/)
    expect(tokenHash('ab')).not.toBe(tokenHash('ac'))
  })
})
