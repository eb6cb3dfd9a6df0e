/**
 * The fake Kubernetes API server is faithful where it matters: the real kubectl discovers
 * its API groups, lists nodes, cordons, uncordons and drains through the Eviction API,
 * waiting while a PodDisruptionBudget says no — and shows the Events and labels a shoal
 * reboot cycle writes (`kubectl get events`, `kubectl describe node`, `-L shoal.dev/...`).
 */
import { execFile } from 'node:child_process'
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KubeClient } from '../agent/health/kube-client.js'
import { kubeconfigFromText } from '../agent/health/kube-config.js'
import { KubeEventRecorder, SHOAL_LABELS } from '../agent/health/kube-events.js'
import type { HealthObserver } from '../agent/health/health-observer.js'
import { ed25519Keyring } from '../agent/protocol/ed25519.js'
import { RealSteps } from '../agent/upgrade/real-steps.js'
import { rebooterWithEvents, stepsWithEvents } from '../agent/upgrade/step-events.js'
import { FakeKubeApiServer } from '../sim/fakes/kube-api-server.js'
import { selfSignedCert } from '../sim/fakes/self-signed-cert.js'

const kubectlPath = await findKubectl()
if (!kubectlPath) console.log('skipping test/kube-kubectl.test.ts: kubectl not found (npm run setup installs kubernetes-client)')

async function findKubectl(): Promise<string | undefined> {
  for (const d of (process.env.PATH ?? '').split(':').concat('/usr/bin')) {
    try {
      await access(join(d, 'kubectl'))
      return join(d, 'kubectl')
    } catch {}
  }
  return undefined
}

describe.skipIf(!kubectlPath)('real kubectl against the fake API server', () => {
  const api = new FakeKubeApiServer()
  let dir = ''
  const kubectl = (...args: string[]) =>
    run(kubectlPath!, ['--kubeconfig', join(dir, 'config'), '--cache-dir', join(dir, 'cache'), ...args], dir)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-kubectl-'))
    await api.start()
    await writeFile(join(dir, 'config'), api.kubeconfig())
    for (const n of ['node-a', 'node-b', 'node-c']) api.addNode({ name: n })
    api.setNodeReady('node-c', false)
    api.addPod({ name: 'web-1', node: 'node-a', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-7d9f' } })
    api.addPod({ name: 'web-2', node: 'node-b', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-7d9f' } })
    api.addPod({ name: 'proxy-a', namespace: 'kube-system', node: 'node-a', owner: { kind: 'DaemonSet', name: 'proxy' } })
    api.addPod({ name: 'kube-apiserver-node-a', namespace: 'kube-system', node: 'node-a', mirror: true })
    // Both replicas must stay up: evicting web-1 is refused until a third replica is Ready.
    api.addPdb({ name: 'web-pdb', selector: { matchLabels: { app: 'web' } }, minAvailable: 2 })
  })
  afterAll(async () => {
    await api.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('get nodes shows every node with its readiness', async () => {
    const r = await kubectl('get', 'nodes')
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION/)
    expect(r.out).toMatch(/node-a\s+Ready\s/)
    expect(r.out).toMatch(/node-c\s+NotReady\s/)
  })

  it('cordon and uncordon flip spec.unschedulable', async () => {
    expect((await kubectl('cordon', 'node-b')).out.trim()).toBe('node/node-b cordoned')
    expect(api.nodes.get('node-b')!.spec.unschedulable).toBe(true)
    expect((await kubectl('get', 'nodes')).out).toMatch(/node-b\s+Ready,SchedulingDisabled/)
    expect((await kubectl('uncordon', 'node-b')).out.trim()).toBe('node/node-b uncordoned')
    expect(api.nodes.get('node-b')!.spec.unschedulable).toBeUndefined()
  })

  it('drain evicts through the Eviction API, waits on the PDB, and leaves DaemonSet and mirror pods', async () => {
    // When the budget first says no, a replacement replica becomes Ready elsewhere.
    api.once('eviction-denied', () => api.addPod({ name: 'web-3', node: 'node-b', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-7d9f' } }))
    const r = await kubectl('drain', 'node-a', '--ignore-daemonsets', '--timeout=60s')
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/pod\/web-1 evicted/)
    expect(r.out).toMatch(/node\/node-a drained/)
    expect(r.err).toMatch(/Cannot evict pod as it would violate the pod's disruption budget/)
    expect(r.err).toMatch(/ignoring DaemonSet-managed Pods: kube-system\/proxy-a/)
    expect(api.evictions).toEqual([{ pod: 'default/web-1', status: 429 }, { pod: 'default/web-1', status: 201 }])
    expect(api.podsOn('node-a').map((p) => p.metadata.name).sort()).toEqual(['kube-apiserver-node-a', 'proxy-a'])
    expect(api.nodes.get('node-a')!.spec.unschedulable).toBe(true)
  })
})

describe.skipIf(!kubectlPath)('real kubectl against the fake API server over TLS with a bearer token', () => {
  // kubectl sends tokens only over TLS, as a real cluster would require.
  const state: { api?: FakeKubeApiServer; dir: string } = { dir: '' }
  beforeAll(async () => {
    state.dir = await mkdtemp(join(tmpdir(), 'shoal-kubectl-tls-'))
    const tls = await selfSignedCert()
    state.api = new FakeKubeApiServer({ token: 'sekrit', tls })
    await state.api.start()
    state.api.addNode({ name: 'node-a' })
    await writeFile(join(state.dir, 'good'), state.api.kubeconfig({ caPem: tls.cert }))
    await writeFile(join(state.dir, 'bad'), state.api.kubeconfig({ caPem: tls.cert }).replace('sekrit', 'wrong'))
  })
  afterAll(async () => {
    await state.api?.close()
    await rm(state.dir, { recursive: true, force: true })
  })

  it('verifies the CA, sends the token, and is refused with a wrong one', async () => {
    const d = state.dir
    const good = await run(kubectlPath!, ['--kubeconfig', join(d, 'good'), '--cache-dir', join(d, 'c1'), 'get', 'nodes'], d)
    expect(good.err).toBe('')
    expect(good.out).toMatch(/node-a\s+Ready/)
    const bad = await run(kubectlPath!, ['--kubeconfig', join(d, 'bad'), '--cache-dir', join(d, 'c2'), 'get', 'nodes'], d)
    expect(bad.code).not.toBe(0)
    expect(bad.err).toMatch(/Unauthorized|must be logged in|provide credentials/)
  })
})

describe.skipIf(!kubectlPath)('a shoal reboot cycle as kubectl shows it', () => {
  const api = new FakeKubeApiServer()
  let dir = ''
  let kube: KubeClient
  const kubectl = (...args: string[]) => run(kubectlPath!, ['--kubeconfig', join(dir, 'config'), '--cache-dir', join(dir, 'cache'), ...args], dir)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-kubectl-events-'))
    await api.start()
    await writeFile(join(dir, 'config'), api.kubeconfig())
    api.addNode({ name: 'node-a' })
    api.addNode({ name: 'node-b' })
    api.addPod({ name: 'db-1', node: 'node-a', labels: { app: 'db' }, owner: { kind: 'ReplicaSet', name: 'db-5c4' } })
    api.addPdb({ name: 'db-pdb', selector: { matchLabels: { app: 'db' } }, minAvailable: 1 })
    kube = new KubeClient(kubeconfigFromText(api.kubeconfig(), '/'))
  })
  afterAll(async () => {
    await kube?.close()
    await api.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('cordon, drain blocked, reboot, post gate failed then passed, uncordon: Events and labels on the node', async () => {
    let now = Date.parse('2026-12-06T10:00:00Z')
    const clock = { now: () => now }
    const rec = new KubeEventRecorder({ kube, node: 'node-a', clock })
    const real = new RealSteps({ host: 'node-a', observer: {} as HealthObserver, ceph: undefined, kube, coordinatorUrl: 'http://127.0.0.1:1', keyring: ed25519Keyring(new Uint8Array(32).fill(7)), clock, assignDeadlineMs: 1000, wait: async () => {} })
    // Gates as the health probes would judge them: the post gate fails twice (kubelet not Ready yet), then passes.
    const post = [{ pass: false, reasons: ['kubelet: node node-a is not Ready (KubeletNotReady)'] }, { pass: false, reasons: ['kubelet: node node-a is not Ready (KubeletNotReady)'] }, { pass: true, reasons: [] }]
    const base = Object.assign(Object.create(real) as RealSteps, { postGate: async () => post.shift()! })
    let image = 'v1'
    const ctx = { target: () => 'v2', image: () => image }
    const steps = stepsWithEvents(base, rec, ctx)
    const reboots: string[] = []
    const rebooter = rebooterWithEvents({ reboot: async (why) => void reboots.push(why) }, rec, ctx)
    const lease = { wave: 'w7', slot: 0, term: 2, holder: 'node-a' }

    await rec.label({ [SHOAL_LABELS.nodeId]: 'node-a', [SHOAL_LABELS.image]: 'v1', [SHOAL_LABELS.waveState]: 'draining' }, { [SHOAL_LABELS.wave]: 'w7 -> v2' })
    await steps.cordon(lease)
    const drained = await steps.drain(200, false) // the PDB keeps db-1: blocked at the deadline
    expect(drained.ok).toBe(false)
    await rebooter.reboot('upgrade wave w7: slot 0 term 2, onto v2')
    expect(reboots).toHaveLength(1)
    image = 'v2'
    now += 5_000
    expect((await steps.postGate()).pass).toBe(false)
    now += 5_000
    expect((await steps.postGate()).pass).toBe(false) // same reason: not a second event
    now += 5_000
    expect((await steps.postGate()).pass).toBe(true)
    await steps.uncordon()
    await rec.label({ [SHOAL_LABELS.image]: 'v2', [SHOAL_LABELS.waveState]: 'ready' }, {})

    expect([...api.events.values()].map((e) => e.reason)).toEqual(['ShoalCordon', 'ShoalDrainStarted', 'ShoalDrainBlocked', 'ShoalReboot', 'ShoalPostGateFailed', 'ShoalPostGatePassed', 'ShoalUncordon'])
    expect(rec.failures).toEqual({})

    const events = await kubectl('get', 'events', '-o', 'wide')
    expect(events.err).toBe('')
    expect(events.out).toMatch(/Normal\s+ShoalCordon\s+node\/node-a\s+Cordoned by shoal for wave w7 \(slot 0, term 2\): upgrading v1 -> v2/)
    expect(events.out).toMatch(/Warning\s+ShoalDrainBlocked\s+node\/node-a\s+Drain blocked at the deadline by default\/db-1/)
    expect(events.out).toMatch(/Normal\s+ShoalReboot\s+node\/node-a\s+Rebooting into v2/)
    expect(events.out).toMatch(/Warning\s+ShoalPostGateFailed\s+node\/node-a\s+Post-reboot gate failed on v2: kubelet: node node-a is not Ready/)
    expect(events.out).toMatch(/Normal\s+ShoalUncordon\s+node\/node-a\s+Uncordoned by shoal: back on v2 and healthy/)

    const warnings = await kubectl('get', 'events', '--field-selector', 'type=Warning', '-o', 'jsonpath={.items[*].reason}')
    expect(warnings.out.split(' ').sort()).toEqual(['ShoalDrainBlocked', 'ShoalPostGateFailed'])

    const describe = await kubectl('describe', 'node', 'node-a')
    expect(describe.code).toBe(0)
    expect(describe.out).toMatch(/shoal\.dev\/wave-state=ready/)
    expect(describe.out).toMatch(/shoal\.dev\/image=v2/)
    expect(describe.out).toMatch(/shoal\.dev\/wave: +w7 -> v2/)
    const section = describe.out.slice(describe.out.indexOf('Events:'))
    for (const r of ['ShoalCordon', 'ShoalDrainStarted', 'ShoalDrainBlocked', 'ShoalReboot', 'ShoalPostGateFailed', 'ShoalPostGatePassed', 'ShoalUncordon']) expect(section).toContain(r)
    expect(section).toMatch(/Warning\s+ShoalDrainBlocked\s+.*shoal-agent/)
    // node-b had no cycle: its describe shows none of them
    expect((await kubectl('describe', 'node', 'node-b')).out).not.toContain('Shoal')

    const labels = await kubectl('get', 'nodes', '-L', 'shoal.dev/wave-state,shoal.dev/image')
    expect(labels.out).toMatch(/node-a\s+Ready\s+.*\s+ready\s+v2/)
  }, 120_000)

  it('a repeated event bumps count instead of adding one, and a bad event is refused like the API server does', async () => {
    const rec = new KubeEventRecorder({ kube, node: 'node-b', clock: { now: () => Date.parse('2026-12-06T11:00:00Z') } })
    await rec.event('Warning', 'ShoalPostGateFailed', 'same')
    await rec.event('Warning', 'ShoalPostGateFailed', 'same')
    const mine = [...api.events.values()].filter((e) => e.involvedObject.name === 'node-b')
    expect(mine).toHaveLength(1)
    expect(mine[0]!.count).toBe(2)
    const r = await fetch(`${api.url}/api/v1/namespaces/default/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'x' }, type: 'Loud' }) })
    expect(r.status).toBe(422)
    expect(((await r.json()) as { reason: string }).reason).toBe('Invalid')
  })
})

function run(bin: string, args: string[], home: string) {
  return new Promise<{ code: number; out: string; err: string }>((resolve) => {
    execFile(bin, args, { timeout: 60_000, env: { ...process.env, HOME: home } }, (e, out, err) =>
      resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out: String(out), err: String(err) }))
  })
}
