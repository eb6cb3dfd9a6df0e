/**
 * `shoal health` and `shoal gate` as an operator runs them on an admin machine: against a
 * real Ceph cluster (its own harness, worker-style host names) and the fake Kubernetes API,
 * through the CLI dispatcher, checking exit codes and what the output says.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../cli/main.js'
import { FakeKubeApiServer } from '../sim/fakes/kube-api-server.js'
import { CephCluster, hasCeph } from '../harness/ceph-cluster.js'

const cephInstalled = await hasCeph()
if (!cephInstalled) console.log('skipping the Ceph part of test/health-cli.test.ts: ceph daemons not installed (npm run setup)')

async function shoal(...argv: string[]) {
  const out: string[] = []
  const err: string[] = []
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

const hosts = ['worker-1', 'worker-2', 'worker-3']
const api = new FakeKubeApiServer()
let dir = ''
let kubeconfig = ''

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-cli-'))
  await api.start()
  for (const h of hosts) api.addNode({ name: h })
  api.addPod({ name: 'web-1', node: 'worker-1', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-rs' } })
  api.addPod({ name: 'web-2', node: 'worker-2', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-rs' } })
  api.addPdb({ name: 'web-pdb', selector: { matchLabels: { app: 'web' } }, maxUnavailable: 1 })
  kubeconfig = join(dir, 'kubeconfig')
  await writeFile(kubeconfig, api.kubeconfig())
})
afterAll(async () => {
  await api.close()
  await rm(dir, { recursive: true, force: true })
})

describe('shoal gate / shoal health: usage and failing closed', () => {
  it('rejects bad usage with exit 2', async () => {
    expect((await shoal('gate', 'sideways', 'worker-1')).code).toBe(2)
    expect((await shoal('gate', 'pre')).err).toMatch(/missing NODE/)
    expect((await shoal('gate', 'pre', 'worker-1', '--skip', 'disk')).err).toMatch(/--skip takes kube, ceph or kubelet, not "disk"/)
    expect((await shoal('gate', 'pre', 'worker-1', '--bogus')).code).toBe(2)
    expect((await shoal('gate', 'pre', 'worker-1', '-o', 'xml')).err).toMatch(/-o must be one of table, wide, json, yaml/)
  })

  it('fails closed when a source is neither given nor skipped, and says which flag to pass', async () => {
    const r = await shoal('gate', 'post', 'worker-1', '--kubeconfig', kubeconfig)
    expect(r.code).toBe(1)
    expect(r.out).toMatch(/FAIL\s+ceph\s+reachable\s+unknown, failing closed: no Ceph cluster given: pass --ceph-conf FILE/)
  })

  it('states what was skipped; with Ceph skipped the kube checks alone decide', async () => {
    const r = await shoal('gate', 'pre', 'worker-1', '--kubeconfig', kubeconfig, '--skip', 'ceph', '-o', 'json')
    expect(r.code).toBe(0)
    const j = JSON.parse(r.out)
    expect(j).toMatchObject({ gate: 'pre', node: 'worker-1', pass: true, skipped: ['ceph: not checked (--skip ceph)'] })
    expect(j.checks).toEqual([{ source: 'kube', check: 'drain', ok: true, message: 'drain possible: 1 pod(s) to evict, 0 DaemonSet/mirror pod(s) stay' }])
  })

  it('a NotReady node fails the post gate with the reason; an unreachable API fails closed', async () => {
    api.setNodeReady('worker-3', false)
    const r = await shoal('gate', 'post', 'worker-3', '--kubeconfig', kubeconfig, '--skip', 'ceph')
    api.setNodeReady('worker-3', true)
    expect(r.code).toBe(1)
    expect(r.out).toMatch(/node worker-3 not Ready \(Ready=False, KubeletNotReady/)
    const dead = join(dir, 'dead')
    await writeFile(dead, api.kubeconfig().replace(api.url, 'http://127.0.0.1:9'))
    const d = await shoal('gate', 'post', 'worker-3', '--kubeconfig', dead, '--skip', 'ceph', '--timeout-ms', '500')
    expect(d.code).toBe(1)
    expect(d.out).toMatch(/kube: unknown, failing closed: .*ECONNREFUSED/)
  })
})

describe.skipIf(!cephInstalled)('shoal gate / shoal health against real Ceph and the fake API', () => {
  const cluster = new CephCluster({ hosts })
  let ceph: string[] = []
  beforeAll(async () => {
    await cluster.start()
    ceph = ['--ceph-conf', cluster.conf, '--ceph-keyring', cluster.keyring]
  }, 120_000)
  afterAll(() => cluster.stop())

  it('shoal health lists every node with its OSDs, exit 0', async () => {
    const r = await shoal('health', ...ceph, '--kubeconfig', kubeconfig)
    expect(r.code).toBe(0)
    for (const h of hosts) expect(r.out).toMatch(new RegExp(`${h}\\s+ok\\s+yes\\s+1/1`))
  })

  it('pre gate passes all-up; a second PDB-protected pod blocks it', async () => {
    const ok = await shoal('gate', 'pre', 'worker-1', ...ceph, '--kubeconfig', kubeconfig)
    expect(ok.out).toMatch(/^pre-reboot gate for worker-1: PASS/)
    expect(ok.out).toMatch(/ok\s+ceph\s+ok-to-stop\s+osd\.0 ok to stop/)
    expect(ok.code).toBe(0)
    api.addPod({ name: 'web-1b', node: 'worker-1', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-rs' } })
    const blocked = await shoal('gate', 'pre', 'worker-1', ...ceph, '--kubeconfig', kubeconfig)
    api.removePod('default', 'web-1b')
    expect(blocked.code).toBe(1)
    expect(blocked.out).toMatch(/drain would block on 1 pod\(s\): default\/web-1b: PodDisruptionBudget web-pdb allows no more disruptions/)
  })

  it('with worker-2 stopped: pre gate for worker-3 and post gate for worker-2 fail; health shows it', async () => {
    await cluster.stopHost('worker-2')
    await cluster.waitFor('osd.1 down', Date.now() + 30_000, async () => JSON.parse((await cluster.ceph(['osd', 'dump', '--format', 'json'])).stdout).osds[1].up === 0)
    const pre = await shoal('gate', 'pre', 'worker-3', ...ceph, '--ceph-transport', 'cli', '--skip', 'kube', '-o', 'json')
    expect(pre.code).toBe(1)
    expect(JSON.parse(pre.out).reasons.join('\n')).toMatch(/another host is already down: osd\.1 on worker-2/)
    const post = await shoal('gate', 'post', 'worker-2', ...ceph, '--skip', 'kube')
    expect(post.code).toBe(1)
    expect(post.out).toMatch(/osd\.1 down/)
    const h = await shoal('health', 'worker-2', ...ceph, '--skip', 'kube', '-o', 'json')
    expect(h.code).toBe(1)
    const conds = JSON.parse(h.out).nodes[0].health.conditions.map((c: { id: string }) => c.id)
    expect(conds).toContain('ceph.host-osd-down')
    await cluster.startHost('worker-2')
    await cluster.waitHealthy(60_000)
    expect((await shoal('gate', 'post', 'worker-2', ...ceph, '--kubeconfig', kubeconfig)).code).toBe(0)
  })
})
