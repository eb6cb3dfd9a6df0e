import { describe, expect, it } from 'vitest'
import { ed25519Keyring } from '../ed25519.js'
import { canonicalJson, signCertificate, signManifest, signRoster, verifyCertificate, verifyManifest, verifyRoster } from './certificate.js'
import { formatBootParams, parseBootParams } from '../kernel-params/index.js'

const cluster = ed25519Keyring(new Uint8Array(32).fill(7))
const other = ed25519Keyring(new Uint8Array(32).fill(8))
const nodeKey = ed25519Keyring(new Uint8Array(32).fill(9)).publicKey

describe('certificate', () => {
  const cert = signCertificate({ v: 1, cluster: 'c1', id: 'node-a', key: nodeKey, serial: 3, issuedAt: 1000 }, cluster)

  it('verifies offline against the cluster key, also after a JSON round trip', () => {
    const r = verifyCertificate(JSON.parse(JSON.stringify(cert)), cluster.publicKey, { cluster: 'c1', id: 'node-a', key: nodeKey })
    expect(r.ok).toBe(true)
  })
  it('refuses another signer, a changed field, another node, another cluster, junk', () => {
    expect(verifyCertificate(cert, other.publicKey)).toMatchObject({ ok: false, reason: 'bad-signature' })
    expect(verifyCertificate({ ...cert, id: 'node-b' }, cluster.publicKey)).toMatchObject({ ok: false, reason: 'bad-signature' })
    expect(verifyCertificate(cert, cluster.publicKey, { id: 'node-b' })).toMatchObject({ ok: false, reason: 'mismatch' })
    expect(verifyCertificate(cert, cluster.publicKey, { cluster: 'c2' })).toMatchObject({ ok: false, reason: 'wrong-cluster' })
    expect(verifyCertificate({ ...cert, extra: 1 }, cluster.publicKey)).toMatchObject({ ok: false, reason: 'schema' })
    expect(verifyCertificate('nope', cluster.publicKey)).toMatchObject({ ok: false, reason: 'schema' })
  })
  it('a certificate signature is not accepted as a roster or manifest signature', () => {
    const roster = signRoster({ v: 1, cluster: 'c1', version: 1, issuedAt: 1, members: [] }, cluster)
    expect(verifyRoster(roster, cluster.publicKey).ok).toBe(true)
    expect(verifyRoster({ ...roster, signature: cert.signature }, cluster.publicKey)).toMatchObject({ ok: false, reason: 'bad-signature' })
  })
})

describe('roster and manifest', () => {
  it('roster members are signed sorted by id, so order of insertion does not matter', () => {
    const k = (b: number) => ed25519Keyring(new Uint8Array(32).fill(b)).publicKey
    const r = signRoster({ v: 1, cluster: 'c1', version: 2, issuedAt: 5, members: [{ id: 'b', key: k(1) }, { id: 'a', key: k(2) }] }, cluster)
    expect(r.members.map((m) => m.id)).toEqual(['a', 'b'])
    expect(verifyRoster(r, cluster.publicKey, 'c1').ok).toBe(true)
  })
  it('manifest: signature, version pin and consistency of layer names', () => {
    const sha = 'ab'.repeat(32)
    const body = {
      v: 1 as const,
      cluster: 'c1',
      version: 'v1',
      files: [
        { name: 'vmlinuz', sha256: sha, size: 1 },
        { name: 'initramfs.img', sha256: sha, size: 2 },
        { name: 'base.squashfs', sha256: sha, size: 3 },
      ],
      layers: ['base.squashfs'],
      kernel: 'vmlinuz',
      initramfs: 'initramfs.img',
    }
    const m = signManifest(body, cluster)
    expect(verifyManifest(m, cluster.publicKey, { version: 'v1' }).ok).toBe(true)
    expect(verifyManifest(m, cluster.publicKey, { version: 'v2' }).ok).toBe(false)
    const tampered = { ...m, files: m.files.map((f) => (f.name === 'base.squashfs' ? { ...f, size: 4 } : f)) }
    expect(verifyManifest(tampered, cluster.publicKey)).toMatchObject({ ok: false, reason: 'bad-signature' })
    const inconsistent = signManifest({ ...body, layers: ['missing.squashfs'] }, cluster)
    expect(verifyManifest(inconsistent, cluster.publicKey)).toMatchObject({ ok: false, reason: 'schema' })
  })
  it('canonicalJson sorts keys and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: [{ d: undefined, c: 'x' }] })).toBe('{"a":[{"c":"x"}],"b":1}')
  })
})

describe('boot params', () => {
  const p = {
    coordinator: 'http://10.0.2.2:8080',
    token: 'ab'.repeat(32),
    mac: '52:54:00:12:34:56',
    bootstrap: ['10.0.2.2:49737'],
    image: 'v1',
    cluster: 'c1',
    clusterKey: cluster.publicKey,
  }
  it('round-trips through a kernel command line with other words', () => {
    const line = `console=ttyS0 quiet ${formatBootParams(p)} panic=-1`
    expect(parseBootParams(line)).toEqual({ ok: true, params: p })
  })
  it('names the missing or bad parameter', () => {
    const r = parseBootParams('console=ttyS0 shoal.token=zz')
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error).toContain('shoal.token')
  })
})
