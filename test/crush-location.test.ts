/**
 * Ceph's CRUSH location follows the worker's failure domain (issue 16, item 2): on a real
 * cluster, a host is moved under `rack=DOMAIN`, once; placing it again changes nothing; the
 * cluster is clean again afterwards; a bucket of another type with that name is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CephProbe } from '../agent/health/ceph-probe.js'
import { crushParent, placeHost } from '../agent/health/crush-location.js'
import { CephCluster, hasCeph } from '../harness/ceph-cluster.js'

const cephInstalled = await hasCeph()
if (!cephInstalled) console.log('skipping test/crush-location.test.ts: ceph-mon/mgr/osd/ceph-common not installed (npm run setup installs them)')

describe.skipIf(!cephInstalled)('CRUSH location from the failure domain (real Ceph)', () => {
  const cluster = new CephCluster({ hosts: ['node-a', 'node-b', 'node-c'] })
  const probe = (host: string) => new CephProbe({ host, conf: cluster.conf, keyring: cluster.keyring, timeoutMs: 15_000 })
  beforeAll(() => cluster.start(), 120_000)
  afterAll(() => cluster.stop())

  it('moves the host under its rack once, and Ceph stays clean', async () => {
    const p = probe('node-a')
    expect(await crushParent(p, 'node-a')).toEqual({ name: 'default', type: 'root' })
    expect(await placeHost(p, 'node-a', 'default')).toMatchObject({ moved: false })
    expect(await placeHost(p, 'node-a', 'rack-1')).toEqual({ moved: true, rack: 'rack-1', from: 'default' })
    expect(await crushParent(p, 'node-a')).toEqual({ name: 'rack-1', type: 'rack' })
    expect(await placeHost(p, 'node-a', 'rack-1')).toEqual({ moved: false, why: 'already under rack rack-1' })
    // A second host joins the same rack (the bucket exists); the rack sits under root=default.
    expect(await placeHost(probe('node-b'), 'node-b', 'rack-1')).toMatchObject({ moved: true })
    const tree = await p.tree()
    const rack = tree.nodes.find((n) => n.name === 'rack-1')!
    expect(tree.nodes.find((n) => n.name === 'default')!.children).toContain(rack.id)
    expect(rack.children!.map((c) => tree.nodes.find((n) => n.id === c)!.name).sort()).toEqual(['node-a', 'node-b'])
    // The default rule (chooseleaf host) still finds three hosts: every PG clean again.
    await cluster.waitHealthy(60_000)
    // A bucket of another type named like the domain is refused, not moved into.
    expect(await placeHost(probe('node-c'), 'node-c', 'node-a')).toMatchObject({ moved: false, why: expect.stringMatching(/exists with type host, not rack/) })
  }, 120_000)
})
