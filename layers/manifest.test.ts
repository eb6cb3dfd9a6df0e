import { describe, expect, it } from 'vitest'
import { ed25519Keyring, ed25519Verify } from '../agent/protocol/ed25519.js'
import { openManifest, signManifest, stackOf, type Manifest } from './manifest.js'

const cluster = ed25519Keyring(new Uint8Array(32).fill(7))
const other = ed25519Keyring(new Uint8Array(32).fill(9))
const sha = (c: string) => c.repeat(64)
const manifest: Manifest = {
  v: 1,
  version: 'v1',
  createdAt: '2026-11-23T00:00:00.000Z',
  layers: [
    { name: 'base', file: 'base.squashfs', sha256: sha('a'), sizeBytes: 10 },
    { name: 'worker', file: 'worker.squashfs', sha256: sha('b'), sizeBytes: 20 },
  ],
  stacks: { worker: ['base', 'worker'] },
}

describe('signed manifest', () => {
  it('opens what the cluster key signed, and gives the role stack lowest first', () => {
    const s = signManifest(manifest, cluster)
    const m = openManifest(s.json, s.sig, cluster.publicKey, ed25519Verify)
    expect(m).toEqual(manifest)
    expect(stackOf(m, 'worker').map((l) => l.sha256)).toEqual([sha('a'), sha('b')])
    expect(() => stackOf(m, 'controller')).toThrow(/no controller stack/)
  })

  it('refuses a manifest whose bytes changed after signing (a swapped layer hash)', () => {
    const s = signManifest(manifest, cluster)
    const tampered = new TextEncoder().encode(new TextDecoder().decode(s.json).replace(sha('b'), sha('c')))
    expect(() => openManifest(tampered, s.sig, cluster.publicKey, ed25519Verify)).toThrow(/not signed by cluster key/)
  })

  it('refuses a manifest signed by another key, and a signature file that is not hex', () => {
    const s = signManifest(manifest, other)
    expect(() => openManifest(s.json, s.sig, cluster.publicKey, ed25519Verify)).toThrow(/altered or built with another key/)
    expect(() => openManifest(s.json, 'zz', cluster.publicKey, ed25519Verify)).toThrow(/128-hex-character/)
  })

  it('refuses signed bytes that are not a valid manifest, with the reason', () => {
    const json = new TextEncoder().encode(JSON.stringify({ ...manifest, stacks: { worker: ['base', 'ghost'] } }))
    const sig = Buffer.from(cluster.sign(json)).toString('hex')
    expect(() => openManifest(json, sig, cluster.publicKey, ed25519Verify)).toThrow(/unknown layer "ghost"/)
    const notJson = new TextEncoder().encode('{"v":1,')
    expect(() => openManifest(notJson, Buffer.from(cluster.sign(notJson)).toString('hex'), cluster.publicKey, ed25519Verify)).toThrow(/not valid JSON/)
  })

  it('will not sign a manifest with a path in a file name', () => {
    const bad = { ...manifest, layers: [{ ...manifest.layers[0]!, file: '../etc/passwd' }, manifest.layers[1]!] }
    expect(() => signManifest(bad, cluster)).toThrow()
  })
})
