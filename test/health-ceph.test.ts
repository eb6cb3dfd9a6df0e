/**
 * The health gates against a real Ceph cluster (1 mon, 1 mgr, 3 memstore OSDs on loopback,
 * one CRUSH host per OSD): ok-to-stop, the race guard, noout per host, kill and recovery.
 */
import { writeFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CephProbe } from '../agent/health/ceph-probe.js'
import { CephCli } from '../agent/health/ceph-cli.js'
import { CephSession } from '../agent/health/ceph-session.js'
import { postReboot, preReboot } from '../agent/health/gates.js'
import { ok, skipped, type NodeObservations } from '../agent/health/observation.js'
import { cephStopFacts } from '../agent/health/stop-observations.js'
import { compareRank, keyOf } from '../agent/protocol/vote/ranking.js'
import { CephCluster, hasCeph } from '../harness/ceph-cluster.js'

const cephInstalled = await hasCeph()
if (!cephInstalled) console.log('skipping test/health-ceph.test.ts: ceph-mon/mgr/osd/ceph-common not installed (npm run setup installs them)')

describe.skipIf(!cephInstalled)('health gates on a real Ceph cluster', () => {
  const cluster = new CephCluster({ hosts: ['node-a', 'node-b', 'node-c'] })
  // The production transport: one librados session for every command (CephCli is checked against it below).
  let session: CephSession
  const probe = (host: string) => new CephProbe({ host }, session)
  const observe = async (host: string, okToStop: boolean): Promise<NodeObservations> => ({
    node: host,
    kubelet: skipped('not in this test'),
    kube: skipped('not in this test'),
    ceph: ok(await probe(host).run({ okToStop })),
  })
  /** Polls the gate until it has the wanted verdict or the deadline passes; returns the last result. */
  const gateUntil = async (gate: typeof preReboot, host: string, want: boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const r = gate(await observe(host, gate === preReboot))
      if (r.pass === want || Date.now() > deadline) return r
      await new Promise((res) => setTimeout(res, 200)) // poll pace for an external daemon, bounded by the deadline
    }
  }

  beforeAll(async () => {
    await cluster.start()
    session = new CephSession({ conf: cluster.conf, keyring: cluster.keyring, timeoutMs: 15_000 })
  }, 120_000)
  afterAll(async () => {
    session?.close()
    await cluster.stop()
  })

  it('reads the real cluster: every host has its OSD, all up, all PGs clean', async () => {
    const s = await probe('node-b').run()
    expect(s.hostOsds).toEqual([1])
    expect(s.status.osdmap).toMatchObject({ num_osds: 3, num_up_osds: 3, num_in_osds: 3 })
    expect(s.status.pgmap.pgs_by_state).toEqual([{ state_name: 'active+clean', count: s.status.pgmap.num_pgs }])
  })

  it('the ceph CLI and the librados session give the same answers', async () => {
    const cli = new CephProbe({ host: 'node-a', conf: cluster.conf, keyring: cluster.keyring, timeoutMs: 15_000 })
    const viaSession = probe('node-a')
    expect(session.fallbackReason).toBeUndefined()
    const [a, b] = [await cli.run({ okToStop: true }), await viaSession.run({ okToStop: true })]
    expect(b.hostOsds).toEqual(a.hostOsds)
    expect(b.dump.osds.map((o) => [o.osd, o.up, o.in])).toEqual(a.dump.osds.map((o) => [o.osd, o.up, o.in]))
    expect(b.tree.nodes.map((n) => n.name).sort()).toEqual(a.tree.nodes.map((n) => n.name).sort())
    expect(b.okToStop).toEqual(a.okToStop)
    // The CRUSH rules (both transports), and the stop facts an agent publishes from them.
    expect(a.rules?.map((r) => r.rule_name)).toEqual(['replicated_rule'])
    expect(b.rules).toEqual(a.rules)
    expect(cephStopFacts(a)).toMatchObject({ domainType: 'host', domains: 3, okAlone: true })
    expect(cephStopFacts(a).pools!.every((p) => p.size === 3 && p.min === 2)).toBe(true)
    const [x, y] = [await cli.okToStop([0, 1]), await viaSession.okToStop([0, 1])] // exit 16 both ways
    expect([x.ok, y.ok]).toEqual([false, false])
    expect(y.detail).toEqual(x.detail)
    // The Ceph share the ranking reads (pg dump pgs_brief, a mgr command), both ways.
    expect(a.share).toBeDefined()
    expect(b.share).toEqual(a.share)
  })

  it("each host's Ceph share: every PG on every host (size 3, 3 hosts), primaries split among them; more primaries rank later", async () => {
    const snaps = await Promise.all(cluster.hosts.map((h) => probe(h).run()))
    const numPgs = snaps[0]!.status.pgmap.num_pgs
    for (const s of snaps) expect(s.share!.pgs).toBe(numPgs)
    expect(snaps.reduce((n, s) => n + s.share!.primaries, 0)).toBe(numPgs)
    // The ranking's order among these hosts (nothing else differs): fewer primaries first.
    const keys = snaps.map((s) => keyOf({ id: s.host, image: 'v1', domain: 'default', available: true, healthy: true, pods: 0, load: 0, ...s.share! }, true, new Set()))
    const ranked = keys.sort(compareRank)
    for (let i = 1; i < ranked.length; i++) expect(ranked[i]!.primaries).toBeGreaterThanOrEqual(ranked[i - 1]!.primaries)
    // Read once per osdmap epoch: a second round in the same epoch asks no pg dump.
    const p = probe('node-a')
    const first = await p.run()
    let asked = 0
    const orig = p.pgBrief.bind(p)
    p.pgBrief = () => (asked++, orig())
    const again = await p.run()
    expect(again.dump.epoch).toBe(first.dump.epoch) // a quiet cluster
    expect(asked).toBe(0)
    expect(again.share).toEqual(first.share)
  })

  it('ok-to-stop passes for any one host with all up, and the pre gate passes', async () => {
    for (const host of cluster.hosts) {
      const a = await probe(host).okToStop(cluster.osdsOf(host))
      expect(a.ok).toBe(true)
      expect(a.detail.num_not_ok_pgs).toBe(0)
    }
    const r = preReboot(await observe('node-a', true))
    expect(r.reasons).toEqual([])
    expect(r.pass).toBe(true)
    expect(r.skipped).toEqual(['kube: not checked (not in this test)'])
  })

  it('the joint question (size 3, min_size 2): node-a alone may stop, node-a jointly with node-b may not — the pre gate says so and names the set', async () => {
    const s = await probe('node-a').run({ okToStop: true, jointWith: ['node-b'] })
    expect(s.jointHosts).toEqual(['node-b'])
    expect(s.jointOsds).toEqual(cluster.osdsOf('node-b'))
    const r = preReboot({ node: 'node-a', kubelet: skipped('-'), kube: skipped('-'), ceph: ok(s) })
    expect(r.pass).toBe(false)
    expect(r.reasons.join('\n')).toMatch(/stopping osd\.0, osd\.1 \(jointly with node-b\) is not safe: \d+ PGs would become inactive/)
  })

  it('noout set-group / unset-group round-trips and shows in osd dump', async () => {
    const p = probe('node-a')
    await p.setNoout()
    expect((await p.dump()).crush_node_flags).toEqual({ 'node-a': ['noout'] })
    expect(Object.keys((await p.health()).checks)).toContain('OSD_FLAGS')
    await p.unsetNoout()
    expect((await p.dump()).crush_node_flags).toEqual({})
  })

  it("decommission's osd out and its undo (a lost lease): the host's OSDs out, then in again; osd in twice marks nothing", async () => {
    const p = probe('node-c')
    expect(await p.osdOut()).toEqual([2])
    expect((await p.dump()).osds.find((o) => o.osd === 2)).toMatchObject({ up: 1, in: 0 })
    expect(await p.osdIn()).toEqual([2])
    expect((await p.dump()).osds.find((o) => o.osd === 2)).toMatchObject({ up: 1, in: 1 })
    expect(await p.osdIn()).toEqual([])
    expect(await probe('no-such-host').osdIn()).toEqual([])
    // Back to clean before the next test takes a host down.
    expect((await gateUntil(postReboot, 'node-c', true, 90_000)).pass).toBe(true)
  }, 120_000)

  it('with one host down: pre gate fails for a second host at once, ok-to-stop says no, post gate fails', async () => {
    await cluster.killOsd(1)
    const p = probe('node-c')
    await cluster.waitFor('osd.1 marked down', Date.now() + 20_000, async () => (await p.dump()).osds.find((o) => o.osd === 1)?.up === 0)
    // Right after the mark-down, ok-to-stop may still lag; the gate must not.
    const pre = preReboot(await observe('node-c', true))
    expect(pre.pass).toBe(false)
    expect(pre.reasons.join('\n')).toMatch(/another host is already down: osd\.1 on node-b/)
    // Ceph's own ok-to-stop catches up within seconds: exit 16, "not ok".
    await cluster.waitFor('ok-to-stop 2 to say no', Date.now() + 20_000, async () => !(await p.okToStop([2])).ok)
    const no = await p.okToStop([2])
    expect(no.detail.ok_to_stop).toBe(false)
    expect(no.detail.num_not_ok_pgs).toBeGreaterThan(0)
    const pre2 = preReboot(await observe('node-c', true))
    expect(pre2.reasons.join('\n')).toMatch(/Ceph says stopping osd\.2 is not safe: \d+ PGs would become inactive/)
    // Asked jointly with the down host, the race guard counts osd.1 as expected, and Ceph's answer decides.
    const joint = preReboot({ node: 'node-c', kubelet: skipped('-'), kube: skipped('-'), ceph: ok(await p.run({ okToStop: true, jointWith: ['node-b'] })) })
    expect(joint.checks.find((c) => c.check === 'other-hosts-up')).toMatchObject({ ok: true, message: expect.stringMatching(/down only inside the joint set: osd\.1 on node-b/) })
    expect(joint.reasons.join('\n')).toMatch(/stopping osd\.2, osd\.1 \(jointly with node-b\) is not safe/)
    // The dead node's post gate fails: its OSD is down and PGs are degraded.
    const post = await gateUntil(postReboot, 'node-b', false, 20_000)
    expect(post.pass).toBe(false)
    expect(post.reasons.join('\n')).toMatch(/osd\.1 down/)
    await cluster.waitFor('PG_DEGRADED', Date.now() + 20_000, async () => 'PG_DEGRADED' in (await p.health()).checks)
    const post2 = postReboot(await observe('node-b', false))
    expect(post2.reasons.join('\n')).toMatch(/PGs not active\+clean \(.*degraded/)
  })

  it('after the OSD restarts, the post gate comes back to pass', async () => {
    await cluster.restartOsd(1)
    const r = await gateUntil(postReboot, 'node-b', true, 60_000)
    expect(r.reasons).toEqual([])
    expect(r.pass).toBe(true)
    expect(r.checks.find((c) => c.check === 'osds-up')?.message).toBe('osd.1 up and in')
  })

  it('without a mgr, ok-to-stop hangs: it is killed at its timeout and the pre gate fails closed', async () => {
    await cluster.stopMgr()
    try {
      const quick = new CephProbe({ host: 'node-a', conf: cluster.conf, keyring: cluster.keyring, timeoutMs: 3000 })
      await expect(quick.okToStop([0])).rejects.toMatchObject({ code: 'ceph-timeout', message: expect.stringMatching(/ceph osd ok-to-stop 0: no answer within 3000 ms \(killed\)/) })
      // Mon commands still answer (slowly on a loaded machine); only the mgr command hangs.
      const slow = new CephProbe({ host: 'node-a', conf: cluster.conf, keyring: cluster.keyring, timeoutMs: 10_000 })
      const r = preReboot({ node: 'node-a', kubelet: skipped('-'), kube: skipped('-'), ceph: ok(await slow.run({ okToStop: true })) })
      expect(r.pass).toBe(false)
      expect(r.reasons.join('\n')).toMatch(/ok-to-stop for osd\.0 unknown, failing closed: .*no answer within 10000 ms/)
      // The same through the session: the call times out, the session stays usable.
      const s2 = new CephSession({ conf: cluster.conf, keyring: cluster.keyring, timeoutMs: 3000 })
      await expect(s2.run(['osd', 'ok-to-stop', '0'])).rejects.toMatchObject({ code: 'ceph-timeout' })
      expect((await s2.run(['osd', 'dump'])).code).toBe(0)
      s2.close()
    } finally {
      await cluster.startMgr()
    }
    await cluster.waitHealthy(90_000)
  })
})

describe.skipIf(!cephInstalled)('ceph CLI faults against real ceph binaries', () => {
  it('a cluster with no mon: the command times out with a clear error instead of hanging', async () => {
    const dir = (await import('node:os')).tmpdir()
    const conf = `${dir}/shoal-nomon-${process.pid}.conf`
    // 127.0.0.1:9 (discard) has no mon; cephx is off so no keyring is needed to try.
    await writeFile(conf, '[global]\nmon host = 127.0.0.1:9\nauth client required = none\n')
    const cli = new CephCli({ conf, timeoutMs: 1500, connectTimeoutS: 30 })
    const t0 = Date.now()
    await expect(new CephProbe({ host: 'x' }, cli).status()).rejects.toMatchObject({ code: 'ceph-timeout', message: expect.stringMatching(/ceph status: no answer within 1500 ms/) })
    expect(Date.now() - t0).toBeLessThan(10_000)
  })
})
