import { describe, expect, it } from 'vitest'
import { ed25519Keyring } from '../protocol/ed25519.js'
import { CLUSTER, FakeCoordinator, RecordingMounter, clusterKeyring } from './test-fixtures.js'
import { verifyAndMountRoot, type FetchedLayer } from './root-stack.js'
import { createHash } from 'node:crypto'

const pin = { clusterKey: clusterKeyring.publicKey, cluster: CLUSTER, version: 'v1' }
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

async function fetchedFrom(c: FakeCoordinator): Promise<FetchedLayer[]> {
  return [...c.served].map(([name, b]) => ({ name, path: `/run/shoal/layers/${name}`, sha256: sha(b), size: b.length }))
}

describe('verifyAndMountRoot', () => {
  it('mounts verified layers lowest first and stacks them top-first under overlayfs on a tmpfs upper', async () => {
    const c = new FakeCoordinator()
    const m = new RecordingMounter()
    await verifyAndMountRoot(await c.manifest('v1'), pin, await fetchedFrom(c), '/new_root', { stackDir: '/run/shoal/stack' }, m)
    expect(m.ops).toEqual([
      'squashfs /run/shoal/layers/base.squashfs /run/shoal/stack/lower/base',
      'squashfs /run/shoal/layers/worker.squashfs /run/shoal/stack/lower/worker',
      'tmpfs /run/shoal/stack/rw',
      'overlay /run/shoal/stack/lower/worker:/run/shoal/stack/lower/base /run/shoal/stack/rw/upper /run/shoal/stack/rw/work /new_root',
    ])
  })

  it('never mounts anything when one layer does not match the signed manifest', async () => {
    const c = new FakeCoordinator()
    c.served.set('worker.squashfs', new TextEncoder().encode('worker layer, with a backdoor'))
    const m = new RecordingMounter()
    await expect(verifyAndMountRoot(await c.manifest('v1'), pin, await fetchedFrom(c), '/new_root', { stackDir: '/s' }, m)).rejects.toThrow(
      /layer worker.squashfs of image v1 does not match the signed manifest .*not mounting it/,
    )
    expect(m.ops).toEqual([])
  })

  it('never mounts anything when the manifest is signed by another key, altered, or for another version', async () => {
    const c = new FakeCoordinator()
    const m = new RecordingMounter()
    c.manifestKey = ed25519Keyring(new Uint8Array(32).fill(2))
    await expect(verifyAndMountRoot(await c.manifest('v1'), pin, await fetchedFrom(c), '/r', { stackDir: '/s' }, m)).rejects.toThrow(/bad-signature/)
    c.manifestKey = clusterKeyring
    const altered = { ...((await c.manifest('v1')) as object), layers: ['worker.squashfs'] }
    await expect(verifyAndMountRoot(altered, pin, await fetchedFrom(c), '/r', { stackDir: '/s' }, m)).rejects.toThrow(/bad-signature/)
    await expect(verifyAndMountRoot(await c.manifest('v2'), pin, await fetchedFrom(c), '/r', { stackDir: '/s' }, m)).rejects.toThrow(/expected v1/)
    await expect(verifyAndMountRoot('not a manifest', pin, await fetchedFrom(c), '/r', { stackDir: '/s' }, m)).rejects.toThrow(/schema/)
    expect(m.ops).toEqual([])
  })
})
