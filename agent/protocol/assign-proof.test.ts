import { describe, expect, it } from 'vitest'
import { ed25519Keyring } from './ed25519.js'
import { assignSigningText, signAssign, verifyAssign } from './assign-proof.js'

const seed = (n: number) => new Uint8Array(32).fill(n)

describe('assign proof', () => {
  const node = ed25519Keyring(seed(1))
  const other = ed25519Keyring(seed(2))
  const claim = { node: 'w1', wave: 'w3', slot: 0, term: 7 }

  it('signs the fixed text; the node key verifies it, another key or another claim does not', () => {
    expect(assignSigningText(claim)).toBe('shoal-assign1|w3|0|7|w1')
    const signed = signAssign(claim, node)
    expect(signed.sig).toMatch(/^[0-9a-f]{128}$/)
    expect(verifyAssign(signed, node.publicKey, node)).toBe(true)
    expect(verifyAssign(signed, other.publicKey, node)).toBe(false)
    expect(verifyAssign({ ...signed, term: 8 }, node.publicKey, node)).toBe(false)
    expect(verifyAssign({ ...signed, slot: 1 }, node.publicKey, node)).toBe(false)
  })

  it('a malformed signature is refused, not thrown', () => {
    const signed = signAssign(claim, node)
    expect(verifyAssign({ ...signed, sig: 'zz' }, node.publicKey, node)).toBe(false)
    expect(verifyAssign({ ...signed, sig: signed.sig.slice(1) }, node.publicKey, node)).toBe(false)
    expect(verifyAssign({ ...signed, sig: '' }, node.publicKey, node)).toBe(false)
  })
})
