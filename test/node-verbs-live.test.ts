/**
 * Node verbs on real parts (docs/node-verbs.md): four agent processes over hyperswarm on
 * loopback, a real Ceph (one memstore OSD per worker, each its own CRUSH host, size-3
 * pools), the fake Kubernetes API and the real coordinator, driven through its HTTP API as
 * `shoal node …` does.
 *
 * 1. Maintenance holds a slot: the node drains (cordoned, noout on its host) and stays so;
 *    a second maintenance with K=1 waits — its node says `budget: K=1` and is never
 *    cordoned — until the first ends; then it goes, and both end cleanly.
 * 2. Decommission: the node drains, its OSD is marked out, Ceph moves the data (every PG
 *    active+clean without it), and the node is gone from the roster.
 *
 * Sampled every 150 ms throughout: workers unavailable (agent down, OSD down, node
 * cordoned) — never more than K=1. Waits are on conditions with deadlines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CephSession } from '../agent/health/ceph-session.js'
import { CephOsdDump, CephStatus } from '../agent/health/ceph-schemas.js'
import { CephCluster, hasCeph } from '../harness/ceph-cluster.js'
import { LiveCluster } from './support/live-cluster.js'
import { agentSelf, agentsNow, keepLogs, until as waitUntil, untilReadyForWave } from './support/wave-watch.js'

const cephInstalled = await hasCeph()
if (!cephInstalled) console.log('node-verbs-live: skipped, the Ceph daemons/CLI (ceph-mon, ceph-osd, ceph) are not installed (npm run setup)')

const W = ['n1', 'n2', 'n3', 'n4']

let live!: LiveCluster
const until = (pred: () => boolean | Promise<boolean>, deadlineMs: number, what: () => string | Promise<string>) => waitUntil(live, pred, deadlineMs, what)

describe.skipIf(!cephInstalled)('node verbs on real agents, real Ceph, fake Kubernetes, the real coordinator', () => {
  let ceph: CephCluster
  let session: CephSession
  let sampling = true
  let samples = 0
  let maxUnavailable = 0
  const overLimit: string[] = []
  let sampler: Promise<void> | undefined

  const cordoned = (id: string) => live.kube.nodes.get(id)?.spec.unschedulable === true
  const noout = async (id: string) => ((await session.json(['osd', 'dump'], CephOsdDump)).crush_node_flags[id] ?? []).includes('noout')
  const phase = async (id: string) => (await agentSelf(live.worker(id).api))?.wave?.phase
  /** Each verb's wave and its node: nobody else may ever hold a slot in it. */
  const verbNode = new Map<string, string>()
  const verb = async (id: string, what: string, body: unknown = {}) => {
    const r = await live.coordinator.call('POST', `/v1/nodes/${id}/${what}`, body)
    if (r.status === 201) verbNode.set(r.json.wave, id)
    return r
  }
  let logs: ReturnType<typeof keepLogs> = []
  const held = async () => ((await live.coordinator.call('GET', '/v1/nodes/held')).json.held as { node: string; kind: string }[]).map((h) => `${h.node}:${h.kind}`)
  const waveState = async (id: string) => (await live.coordinator.call('GET', `/v1/waves/${id}`)).json.state as string

  beforeAll(async () => {
    ceph = new CephCluster({ hosts: W })
    await ceph.start()
    session = new CephSession({ conf: ceph.conf, keyring: ceph.keyring, timeoutMs: 10_000 })
    live = new LiveCluster({ workers: W, images: ['v1'], ceph })
    logs = keepLogs(live)
    await live.start()
    sampler = (async () => {
      while (sampling) {
        // A decommissioned node is gone for good: it no longer counts.
        const down = live.workers.filter((w) => w.id !== 'n4' && (!live.running(w) || ceph.osdsOf(w.id).some((i) => !ceph.osdRunning(i)) || cordoned(w.id)))
        samples++
        if (down.length > maxUnavailable) maxUnavailable = down.length
        if (down.length > 1) overLimit.push(`${new Date().toISOString()} ${down.map((w) => w.id).join(',')}`)
        await new Promise<void>((r) => setTimeout(r, 150))
      }
    })()
    await untilReadyForWave(live, 90_000)
  }, 240_000)

  afterAll(async () => {
    sampling = false
    await sampler
    session?.close()
    await live?.stop()
    await ceph?.stop()
  }, 60_000)

  it('maintenance holds a slot; a second maintenance beyond K=1 waits until the first ends', async () => {
    const first = await verb('n1', 'maintenance', { on: true, maxUnavailable: 1 })
    expect(first.status).toBe(201)
    // Held, and the verb's wave done (the held list is written just before the wave's state).
    await until(async () => (await held()).includes('n1:maintenance') && (await waveState(first.json.wave)) === 'done', 60_000, async () => `n1 held in maintenance; coordinator ${JSON.stringify((await live.coordinator.call('GET', `/v1/waves/${first.json.wave}`)).json)}; agents ${await agentsNow(live)}`)
    expect(cordoned('n1')).toBe(true)
    expect(await noout('n1')).toBe(true)
    expect(await phase('n1')).toBe('draining')
    // Drained: only the DaemonSet's pod stays.
    expect(live.kube.podsOn('n1').map((p) => p.metadata.name)).toEqual(['proxy-n1'])

    // The second waits on the budget (n1 counts unavailable), visibly, without touching n2.
    const second = await verb('n2', 'maintenance', { on: true, maxUnavailable: 1 })
    expect(second.status).toBe(201)
    await until(async () => ((await agentSelf(live.worker('n2').api)) as any)?.wave?.blocked?.reasons?.some((r: string) => r.startsWith('budget: K=1')), 30_000, async () => `n2 waiting on the budget: ${await agentsNow(live)}`)
    expect(cordoned('n2')).toBe(false)
    expect(await waveState(second.json.wave)).toBe('running')

    // n1's maintenance ends: it uncordons, clears noout, is ready; only then n2 goes.
    expect((await verb('n1', 'maintenance', { on: false })).status).toBe(200)
    await until(async () => (await held()).includes('n2:maintenance') && (await waveState(second.json.wave)) === 'done', 60_000, async () => `n2 held after n1's maintenance ended: ${await agentsNow(live)}`)
    expect(cordoned('n1')).toBe(false)
    expect(await noout('n1')).toBe(false)
    expect(await phase('n1')).toBe('ready')
    expect(cordoned('n2')).toBe(true)
    expect((await verb('n2', 'maintenance', { on: false })).status).toBe(200)
    await until(async () => !cordoned('n2') && (await phase('n2')) === 'ready' && !(await noout('n2')), 60_000, async () => `n2 back: ${await agentsNow(live)}`)
    expect(await held()).toEqual([])

    expect(overLimit).toEqual([])
    expect(maxUnavailable).toBe(1)
    expect(samples).toBeGreaterThan(20)
    const audit = (await live.coordinator.call('GET', '/v1/admin/audit?kind=wave&limit=50')).json.entries.map((e: { node?: string; detail: { op: string } }) => `${e.node}:${e.detail.op}`)
    expect(audit).toEqual(expect.arrayContaining(['n1:verb-maintenance', 'n1:verb-maintenance-done', 'n1:maintenance-off', 'n2:verb-maintenance', 'n2:maintenance-off']))
  }, 200_000)

  it('reboot: one safe reboot on the same image; shutdown: down and held until powered on, then back by itself', async () => {
    await untilReadyForWave(live, 60_000)
    const reboots: string[] = []
    const onReboot = (id: string) => reboots.push(id)
    live.on('reboot', onReboot)
    try {
      const r = await verb('n3', 'reboot', {})
      expect(r.status).toBe(201)
      await until(async () => (await waveState(r.json.wave)) === 'done' && (await phase('n3')) === 'ready' && !cordoned('n3'), 90_000, async () => `n3 rebooted and back; coordinator ${JSON.stringify((await live.coordinator.call('GET', `/v1/waves/${r.json.wave}`)).json)}; agents ${await agentsNow(live)}`)
      expect(reboots).toEqual(['n3'])
      expect(live.worker('n3').image).toBe('v1')
      expect(await noout('n3')).toBe(false)
      expect(await held()).toEqual([])

      await untilReadyForWave(live, 60_000)
      const s = await verb('n3', 'shutdown', {})
      expect(s.status).toBe(201)
      await until(async () => (await held()).includes('n3:shutdown') && !live.running(live.worker('n3')) && (await waveState(s.json.wave)) === 'done', 90_000, async () => `n3 shut down and held; agents ${await agentsNow(live)}`)
      expect(reboots).toEqual(['n3', 'n3'])
      expect((await verb('n3', 'reboot', {})).json.error.message).toMatch(/is shut down/)
      await live.powerOn('n3')
      await until(async () => (await held()).length === 0 && (await phase('n3')) === 'ready' && !cordoned('n3') && !(await noout('n3')), 90_000, async () => `n3 back after power-on; held ${JSON.stringify(await held())}; agents ${await agentsNow(live)}`)
      expect(overLimit).toEqual([])
    } finally {
      live.off('reboot', onReboot)
    }
  }, 300_000)

  it('reboot: an agent restart mid-cycle (cordoned, draining, not yet down) is not taken for the reboot — the verb carries on and the machine reboots once', async () => {
    await untilReadyForWave(live, 60_000)
    const reboots: string[] = []
    const onReboot = (id: string) => reboots.push(id)
    live.on('reboot', onReboot)
    // A pod that takes 15 s to shut down: the test sees n1 cordoned and draining, and restarts its agent then.
    live.kube.addPod({ name: 'db-n1', node: 'n1', owner: { kind: 'StatefulSet', name: 'db' }, labels: { app: 'db-n1' }, terminatingMs: 15_000 })
    const evicted = () => live.kube.evictions.some((e) => e.pod.endsWith('/db-n1') && e.status === 201)
    try {
      const r = await verb('n1', 'reboot', {})
      expect(r.status).toBe(201)
      await until(() => cordoned('n1') && evicted(), 60_000, async () => `n1 draining, its db pod evicted and shutting down; agents ${await agentsNow(live)}`)
      expect(live.kube.podsOn('n1').map((p) => p.metadata.name)).toContain('db-n1') // still shutting down
      const bootId = live.worker('n1').bootId
      await live.restartAgent('n1')
      expect(live.worker('n1').bootId).toBe(bootId)
      expect(reboots).toEqual([])
      await until(async () => (await waveState(r.json.wave)) === 'done' && (await phase('n1')) === 'ready' && !cordoned('n1'), 120_000, async () => `n1 rebooted once after its agent restarted; reboots ${reboots.join(',')}; coordinator ${JSON.stringify((await live.coordinator.call('GET', `/v1/waves/${r.json.wave}`)).json)}; agents ${await agentsNow(live)}`)
      expect(reboots).toEqual(['n1'])
      expect(live.worker('n1').bootId).not.toBe(bootId)
      expect(await noout('n1')).toBe(false)
      expect(logs.some((l) => l.id === 'n1' && l.msg.startsWith('agent restarted mid-cycle in the same boot'))).toBe(true)
      expect(overLimit).toEqual([])
    } finally {
      live.off('reboot', onReboot)
    }
  }, 300_000)

  it('decommission: drained, its OSD out, every PG active+clean without it, gone from the roster', async () => {
    await untilReadyForWave(live, 60_000)
    const [osd] = ceph.osdsOf('n4')
    const d = await verb('n4', 'decommission', {})
    expect(d.status).toBe(201)
    await until(async () => (await waveState(d.json.wave)) === 'done', 120_000, async () => `decommission of n4 done; coordinator ${JSON.stringify((await live.coordinator.call('GET', `/v1/waves/${d.json.wave}`)).json)}; agents ${await agentsNow(live)}`)
    const dump = await session.json(['osd', 'dump'], CephOsdDump)
    expect((dump as unknown as { osds: { osd: number; in: number }[] }).osds.find((o) => o.osd === osd)?.in).toBe(0)
    const status = await session.json(['status'], CephStatus)
    expect(status.pgmap.pgs_by_state.filter((p) => p.state_name !== 'active+clean')).toEqual([])
    const nodes = (await live.coordinator.call('GET', '/v1/admin/nodes')).json.nodes.map((n: { id: string }) => n.id)
    expect(nodes).toEqual(['n1', 'n2', 'n3'])
    expect((await live.coordinator.roster()).members.map((m) => m.id)).not.toContain('n4')
    expect(await phase('n4')).toBe('leaving')
    // Its id is retired (--returning refuse by default): the machine booting again is refused.
    expect((await live.coordinator.call('GET', '/v1/admin/retired')).json.retired).toEqual([expect.objectContaining({ id: 'n4', returning: 'refuse', wave: d.json.wave })])
    const n4 = live.worker('n4')
    await expect(live.coordinator.enroll({ id: 'n4', mac: n4.mac, publicKey: n4.key })).rejects.toThrow(/403 .*"code":"retired"/)
    expect(overLimit).toEqual([])
    // Across every verb: each lease went to that verb's node, and to nobody else.
    const leases = logs.filter((l) => l.msg === 'lease acquired' && l.j.lease).map((l) => `${l.j.lease.wave}:${l.j.lease.holder}`)
    expect(leases.length).toBeGreaterThanOrEqual(verbNode.size)
    expect(leases.filter((x) => verbNode.get(x.split(':')[0]!) !== x.split(':')[1])).toEqual([])
  }, 200_000)
})
