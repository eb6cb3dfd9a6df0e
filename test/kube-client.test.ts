/**
 * Our Kubernetes client and drain against the fake API server over real HTTP(S):
 * node readiness, cordon, the Eviction API with PDB 429s, drain deadlines, retries on
 * 5xx and timeouts, TLS + tokens, kubeconfig loading, and the kubelet probe.
 */
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { RetryEnv } from '../agent/health/retry-policy.js'
import { KubeClient } from '../agent/health/kube-client.js'
import { inClusterConfig, kubeconfigFromText, loadKubeconfig } from '../agent/health/kube-config.js'
import { drainNode } from '../agent/health/kube-drain.js'
import { KubeProbe } from '../agent/health/kube-probe.js'
import { KubeletProbe } from '../agent/health/kubelet-probe.js'
import { FakeKubeApiServer } from '../sim/fakes/kube-api-server.js'
import { selfSignedCert } from '../sim/fakes/self-signed-cert.js'

/** Virtual time for backoff: sleeps return at once and advance the clock; delays are recorded. */
function virtualEnv(): RetryEnv & { delays: number[] } {
  let t = 1_000_000
  const delays: number[] = []
  return { delays, now: () => t, random: () => 0.5, sleep: async (ms) => { delays.push(ms); t += ms } }
}

describe('KubeClient against the fake API server', () => {
  let api: FakeKubeApiServer
  let env: ReturnType<typeof virtualEnv>
  let client: KubeClient
  beforeEach(async () => {
    api = new FakeKubeApiServer()
    await api.start()
    for (const n of ['node-a', 'node-b', 'node-c']) api.addNode({ name: n })
    api.addPod({ name: 'web-1', node: 'node-a', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-rs' } })
    api.addPod({ name: 'web-2', node: 'node-b', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-rs' } })
    api.addPod({ name: 'cache-1', namespace: 'shop', node: 'node-a', owner: { kind: 'StatefulSet', name: 'cache' } })
    api.addPod({ name: 'proxy-a', namespace: 'kube-system', node: 'node-a', owner: { kind: 'DaemonSet', name: 'proxy' } })
    api.addPod({ name: 'etcd-node-a', namespace: 'kube-system', node: 'node-a', mirror: true })
    api.addPdb({ name: 'web-pdb', selector: { matchLabels: { app: 'web' } }, minAvailable: 2 })
    env = virtualEnv()
    client = new KubeClient({ server: api.url }, { timeoutMs: 2000, env, retry: { baseMs: 100, maxMs: 1000, attempts: 4 } })
  })
  afterEach(async () => {
    await client.close()
    await api.close()
  })

  it('reads node readiness and conditions, and names a missing node', async () => {
    expect(await client.nodeView('node-a')).toMatchObject({ name: 'node-a', ready: 'True', unschedulable: false })
    api.setNodeReady('node-b', false)
    const b = await client.nodeView('node-b')
    expect(b.ready).toBe('False')
    expect(b.conditions.find((c) => c.type === 'Ready')?.reason).toBe('KubeletNotReady')
    await expect(client.nodeView('node-x')).rejects.toMatchObject({ code: 'kube-not-found', message: expect.stringMatching(/node "node-x" not found/) })
  })

  it('a merge patch that deletes an annotation the node never had stores nothing (RFC 7386), and the node still parses', async () => {
    // The agent's wave labels clear `shoal.dev/wave` with null between waves; a fake that
    // stored the null made every later GET fail its schema, and every gate fail closed.
    const r = await fetch(`${api.url}/api/v1/nodes/node-a`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ metadata: { labels: { 'shoal.dev/image': 'v1' }, annotations: { 'shoal.dev/wave': null } } }),
    })
    expect(r.status).toBe(200)
    expect(api.nodes.get('node-a')!.metadata.annotations ?? {}).not.toHaveProperty('shoal.dev/wave')
    expect(api.nodes.get('node-a')!.metadata.labels['shoal.dev/image']).toBe('v1')
    expect(await client.nodeView('node-a')).toMatchObject({ name: 'node-a', ready: 'True' })
  })

  it('cordons and uncordons', async () => {
    await client.setUnschedulable('node-a', true)
    expect(api.nodes.get('node-a')!.spec.unschedulable).toBe(true)
    expect((await client.nodeView('node-a')).unschedulable).toBe(true)
    await client.setUnschedulable('node-a', false)
    expect(api.nodes.get('node-a')!.spec.unschedulable).toBeUndefined()
  })

  it('plans a drain: DaemonSet and mirror pods stay, a PDB with no budget blocks', async () => {
    const v = await new KubeProbe(client, 'node-a').run({ drainPlan: true })
    expect(v.drain!.evict).toEqual(expect.arrayContaining([{ namespace: 'default', name: 'web-1' }, { namespace: 'shop', name: 'cache-1' }]))
    expect(v.drain!.stay).toEqual(expect.arrayContaining([{ namespace: 'kube-system', name: 'proxy-a', why: 'daemonset' }, { namespace: 'kube-system', name: 'etcd-node-a', why: 'mirror' }]))
    expect(v.drain!.blocking).toEqual([{ namespace: 'default', name: 'web-1', reason: 'PodDisruptionBudget web-pdb allows no more disruptions (2 healthy, 2 needed)' }])
    api.addPod({ name: 'web-3', node: 'node-c', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-rs' } })
    expect((await new KubeProbe(client, 'node-a').run({ drainPlan: true })).drain!.blocking).toEqual([])
  })

  it('drains through the Eviction API, retrying 429 with backoff until the budget allows', async () => {
    let denials = 0
    api.on('eviction-denied', () => {
      if (++denials === 3) api.addPod({ name: 'web-3', node: 'node-c', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-rs' } })
    })
    const r = await drainNode(client, 'node-a', { deadlineMs: 60_000, retry: { baseMs: 1000, maxMs: 5000, attempts: 100 } })
    expect(r.drained).toBe(true)
    expect(r.blocking).toEqual([])
    expect(r.evicted.map((p) => p.name).sort()).toEqual(['cache-1', 'web-1'])
    expect(r.stay.map((p) => p.name).sort()).toEqual(['etcd-node-a', 'proxy-a'])
    expect(api.evictions.filter((e) => e.pod === 'default/web-1').map((e) => e.status)).toEqual([429, 429, 429, 201])
    expect(env.delays.slice(0, 3)).toEqual([750, 1500, 3000]) // 1 s, 2 s, 4 s with jitter 0.5
    expect(api.podsOn('node-a').map((p) => p.metadata.name).sort()).toEqual(['etcd-node-a', 'proxy-a'])
    expect(api.nodes.get('node-a')!.spec.unschedulable).toBe(true)
  })

  it('does not evict a pod no controller owns unless forced, and says why', async () => {
    api.addPod({ name: 'debug', node: 'node-a' })
    const plan = await new KubeProbe(client, 'node-a').run({ drainPlan: true })
    expect(plan.drain!.blocking).toContainEqual({ namespace: 'default', name: 'debug', reason: expect.stringMatching(/^not managed by a controller/) })
    api.addPod({ name: 'web-3', node: 'node-c', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-rs' } })
    const r = await drainNode(client, 'node-a', { deadlineMs: 10_000 })
    expect(r.drained).toBe(false)
    expect(r.blocking.map((b) => b.name)).toEqual(['debug'])
    expect(api.pods.has('default/debug')).toBe(true)
    const forced = await drainNode(client, 'node-a', { deadlineMs: 10_000, force: true })
    expect(forced.drained).toBe(true)
    expect(api.pods.has('default/debug')).toBe(false)
  })

  it('a pod with graceful termination stays, terminating, until its time is up: the drain waits for it', async () => {
    api.addPod({ name: 'web-3', node: 'node-c', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-rs' } })
    api.setTerminating('default', 'web-1', 60_000)
    api.setTerminating('shop', 'cache-1', 50)
    const gone = new Promise<{ pod: string; node: string }>((resolve) => api.once('terminated', resolve))
    // Virtual time: the drain's deadline passes while web-1 is still shutting down.
    const r = await drainNode(client, 'node-a', { deadlineMs: 5000 })
    expect(r.drained).toBe(false)
    expect(r.blocking).toContainEqual({ namespace: 'default', name: 'web-1', reason: 'evicted but still terminating at the deadline' })
    const pod = api.pods.get('default/web-1')!
    expect(pod.metadata.deletionTimestamp).toEqual(expect.any(String))
    expect(pod.spec.terminationGracePeriodSeconds).toBe(60)
    // A terminating pod no longer counts for its budget, and no drain plan evicts it again.
    expect(api.pdbStatus(api.pdbs.get('default/web-pdb')!)).toMatchObject({ expectedPods: 2, currentHealthy: 2 })
    expect((await new KubeProbe(client, 'node-a').run({ drainPlan: true })).drain!.evict).toEqual([])
    // cache-1's 50 ms are up: gone (an event to wait on, not a sleep).
    expect(await gone).toEqual({ pod: 'shop/cache-1', node: 'node-a' })
    expect(api.pods.has('shop/cache-1')).toBe(false)
  })

  it('reschedules an evicted ReplicaSet pod onto the schedulable node with the fewest of its pods', async () => {
    const spread = new FakeKubeApiServer({ reschedule: true })
    try {
      for (const n of ['n1', 'n2', 'n3']) spread.addNode({ name: n })
      spread.addPod({ name: 'a', node: 'n1', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'rs' }, terminatingMs: 60_000 })
      spread.addPod({ name: 'b', node: 'n2', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'rs' } })
      spread.addPod({ name: 'c', node: 'n2', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'rs' } })
      spread.nodes.get('n3')!.spec.unschedulable = true
      const url = await spread.start()
      const res = await fetch(`${url}/api/v1/namespaces/default/pods/a/eviction`, { method: 'POST', body: JSON.stringify({ kind: 'Eviction', apiVersion: 'policy/v1', metadata: { name: 'a' } }) })
      expect(res.status).toBe(201)
      // Never on the node it left, never on a cordoned one: n2, though it has two already.
      const placed = [...spread.pods.values()].filter((p) => !['a', 'b', 'c'].includes(p.metadata.name))
      expect(placed.map((p) => p.spec.nodeName)).toEqual(['n2'])
      spread.nodes.get('n3')!.spec.unschedulable = false
      spread.addPod({ name: 'd', node: 'n1', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'rs' } })
      await fetch(`${url}/api/v1/namespaces/default/pods/d/eviction`, { method: 'POST', body: JSON.stringify({ kind: 'Eviction', apiVersion: 'policy/v1', metadata: { name: 'd' } }) })
      // n2 now has three, uncordoned n3 none: the fewest wins.
      const next = [...spread.pods.values()].filter((p) => !['a', 'b', 'c', 'd'].includes(p.metadata.name) && p !== placed[0])
      expect(next.map((p) => p.spec.nodeName)).toEqual(['n3'])
      // The replacement keeps the template's graceful termination.
      expect(placed[0]!.spec.terminationGracePeriodSeconds).toBe(60)
    } finally {
      await spread.close()
    }
  })

  it('stops at the drain deadline and reports the blocking pod with the budget reason', async () => {
    const r = await drainNode(client, 'node-a', { deadlineMs: 20_000 })
    expect(r.drained).toBe(false)
    expect(r.evicted).toEqual([{ namespace: 'shop', name: 'cache-1' }])
    expect(r.blocking).toEqual([{ namespace: 'default', name: 'web-1', reason: 'The disruption budget web-pdb needs 2 healthy pods and has 2 currently' }])
    expect(r.ms).toBeLessThanOrEqual(20_000)
  })

  it('retries 5xx with growing backoff, then gives up with a clear error', async () => {
    api.fault({ method: 'GET', pathPrefix: '/api/v1/nodes/node-a', status: 503, times: 2 })
    expect((await client.nodeView('node-a')).ready).toBe('True')
    expect(env.delays).toEqual([75, 150])
    api.fault({ method: 'GET', pathPrefix: '/api/v1/nodes/node-a', status: 500, times: 10 })
    await expect(client.nodeView('node-a')).rejects.toMatchObject({ code: 'kube-unavailable', message: expect.stringMatching(/HTTP 500: injected fault .* \(after 4 attempts\)/) })
  })

  it('times out a hanging API server, retries, and fails with the reason', async () => {
    const quick = new KubeClient({ server: api.url }, { timeoutMs: 300, env, retry: { baseMs: 10, maxMs: 10, attempts: 2 } })
    api.fault({ pathPrefix: '/api/v1/nodes', hang: true, times: 1 })
    expect((await quick.nodeView('node-a')).ready).toBe('True') // second try answers
    api.fault({ pathPrefix: '/api/v1/nodes', hang: true, times: 5 })
    await expect(quick.nodeView('node-a')).rejects.toMatchObject({ code: 'kube-unreachable', message: expect.stringMatching(/no answer within 300 ms \(after 2 attempts\)/) })
    await quick.close()
  })

  it('rejects an answer of the wrong shape, naming the field', async () => {
    api.nodes.get('node-a')!.status.conditions[3].status = 'Maybe'
    await expect(client.nodeView('node-a')).rejects.toMatchObject({ code: 'bad-output', message: expect.stringMatching(/GET \/api\/v1\/nodes\/node-a: unexpected output at field status\.conditions\[3\]\.status/) })
  })

  it('fails fast on connection refused after retries', async () => {
    const dead = new KubeClient({ server: 'http://127.0.0.1:9' }, { env, retry: { baseMs: 10, maxMs: 10, attempts: 3 } })
    await expect(dead.nodeView('node-a')).rejects.toMatchObject({ code: 'kube-unreachable', message: expect.stringMatching(/ECONNREFUSED.*after 3 attempts/) })
    await dead.close()
  })
})

describe('TLS, tokens and kubeconfig', () => {
  let api: FakeKubeApiServer
  let dir = ''
  let ca = ''
  beforeAll(async () => {
    const tls = await selfSignedCert()
    ca = tls.cert
    api = new FakeKubeApiServer({ token: 'sekrit', tls })
    await api.start()
    api.addNode({ name: 'node-a' })
    dir = await mkdtemp(join(tmpdir(), 'shoal-kubecfg-'))
  })
  afterAll(async () => {
    await api.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('loads a YAML kubeconfig with a CA file and token file relative to it, and talks TLS', async () => {
    await writeFile(join(dir, 'ca.crt'), ca)
    await writeFile(join(dir, 'token'), 'sekrit\n')
    await writeFile(join(dir, 'config'), `apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: lab
  cluster:
    server: ${api.url}
    certificate-authority: ca.crt
users:
- name: shoal
  user:
    tokenFile: token
contexts:
- name: lab
  context:
    cluster: lab
    user: shoal
`)
    const conn = loadKubeconfig(join(dir, 'config'))
    expect(conn).toMatchObject({ server: api.url, token: 'sekrit', ca })
    const c = new KubeClient(conn)
    expect((await c.nodeView('node-a')).ready).toBe('True')
    await c.close()
  })

  it('refuses an unknown CA and a wrong token with errors that say what to fix', async () => {
    const noCa = new KubeClient({ server: api.url, token: 'sekrit' }, { retry: { baseMs: 1, maxMs: 1, attempts: 1 } })
    await expect(noCa.nodeView('node-a')).rejects.toMatchObject({ code: 'kube-tls', message: expect.stringMatching(/certificate-authority/) })
    await noCa.close()
    const wrong = new KubeClient({ server: api.url, token: 'nope', ca })
    await expect(wrong.nodeView('node-a')).rejects.toMatchObject({ code: 'kube-denied', message: expect.stringMatching(/HTTP 401 Unauthorized; check the token/) })
    await wrong.close()
  })

  it('parses the kubeconfig kubectl writes, and rejects unsupported or malformed ones', () => {
    const conn = kubeconfigFromText(api.kubeconfig({ caPem: ca }), dir)
    expect(conn).toEqual({ server: api.url, ca, token: 'sekrit' })
    const exec = api.kubeconfig().replace('"token": "sekrit"', '"exec": {"command": "aws"}')
    expect(() => kubeconfigFromText(exec, dir)).toThrow(/exec\/auth-provider plugin/)
    expect(() => kubeconfigFromText('clusters: 7', dir, undefined, 'k.yaml')).toThrow(/k\.yaml: unexpected output at field clusters/)
    expect(() => kubeconfigFromText(api.kubeconfig(), dir, 'other')).toThrow(/context "other" not found \(have: fake\)/)
  })

  it('builds the in-cluster config from the service account', async () => {
    const sa = join(dir, 'sa')
    await mkdir(sa, { recursive: true })
    await writeFile(join(sa, 'token'), 'satoken\n')
    await writeFile(join(sa, 'ca.crt'), ca)
    expect(inClusterConfig({}, sa)).toBeUndefined()
    expect(inClusterConfig({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, sa)).toEqual({ server: 'https://10.96.0.1:443', token: 'satoken', ca })
  })
})

describe('KubeletProbe', () => {
  let server: Server
  let status = 200
  let body = 'ok'
  let url = ''
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(status)
      res.end(body)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/healthz`
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  it('is healthy on 200 "ok", unhealthy otherwise, unknown when nothing answers', async () => {
    const p = new KubeletProbe({ url })
    expect(await p.run()).toEqual({ healthy: true, detail: 'ok' })
    status = 500
    body = '[-]syncloop failed: reason withheld\nhealthz check failed'
    expect(await p.run()).toEqual({ healthy: false, detail: 'HTTP 500: [-]syncloop failed: reason withheld' })
    await expect(new KubeletProbe({ url: 'http://127.0.0.1:9/healthz', timeoutMs: 500 }).run()).rejects.toMatchObject({ code: 'kubelet-unreachable' })
  })
})
