/**
 * The fake Kubernetes API server is faithful where it matters: the real kubectl discovers
 * its API groups, lists nodes, cordons, uncordons and drains through the Eviction API,
 * waiting while a PodDisruptionBudget says no.
 */
import { execFile } from 'node:child_process'
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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

function run(bin: string, args: string[], home: string) {
  return new Promise<{ code: number; out: string; err: string }>((resolve) => {
    execFile(bin, args, { timeout: 60_000, env: { ...process.env, HOME: home } }, (e, out, err) =>
      resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out: String(out), err: String(err) }))
  })
}
