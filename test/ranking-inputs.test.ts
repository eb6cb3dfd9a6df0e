/**
 * The reboot ranking on real probe values (issue 16, item 1): pods and PDB-blocked pods
 * from the Kubernetes API (our faithful fake API server, through the agent's own KubeProbe),
 * the Ceph share from real `pg dump pgs_brief`/`osd tree` answers captured from the test
 * cluster, carried in a signed NodeRecord (read back as every voter reads it, and by a
 * reader that predates the new fields) and ranked by the vote's own compareRank.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cephShare, osdsUnder } from '../agent/health/ceph-probe.js'
import { CephOsdTree, CephPgBrief } from '../agent/health/ceph-schemas.js'
import { KubeClient } from '../agent/health/kube-client.js'
import { KubeProbe } from '../agent/health/kube-probe.js'
import { ok, skipped, type NodeObservations } from '../agent/health/observation.js'
import { raw } from '../agent/health/testdata/fixtures.js'
import { workChanged, workloadOf } from '../agent/health/workload.js'
import { keepUnknown, unpack } from '../agent/protocol/frame.js'
import type { MemberView } from '../agent/protocol/mesh-types.js'
import { NodeRecordBody, openRecord, signRecord, type Workload } from '../agent/protocol/node-record.js'
import { fakeKeyring } from '../agent/protocol/testing.js'
import { compareRank, rankKey } from '../agent/protocol/vote/ranking.js'
import { MeshClusterView } from '../agent/upgrade/mesh-cluster-view.js'
import { FakeKubeApiServer } from '../sim/fakes/kube-api-server.js'
import { z } from 'zod'

/** A member whose record carries `work` the way an agent publishes it: signed, then opened by a peer. */
function memberWith(id: string, work: Workload): MemberView {
  const keyring = fakeKeyring(id)
  const body: NodeRecordBody = {
    id,
    key: keyring.publicKey,
    inc: 1,
    ver: 1,
    image: 'v1',
    phase: 'ready',
    domain: 'default',
    inv: {},
    health: { status: 'ok', conditions: [], gates: { pre: true, post: true, at: 0 } },
    comps: [],
    work,
  }
  const opened = openRecord(signRecord(body, keyring).signed, keyring)
  if (!opened.ok) throw new Error(`record did not verify: ${opened.reason}`)
  return { id, status: 'alive', inc: 1, updatedAt: 0, statusSince: 0, record: opened.record.body }
}

/** The order the vote would pick among `members` now (no holders, no domain under way). */
function order(members: MemberView[]): string[] {
  const view = new MeshClusterView({ view: () => members }, { now: () => 0 })
  view.roster = members.map((m) => m.id)
  return members
    .map((m) => rankKey(view, view.facts(m.id)!, { holders: [], activeDomains: new Set() }))
    .sort(compareRank)
    .map((k) => k.id)
}

const noCeph = skipped<never>('not in this test')

describe('ranking inputs from the Kubernetes API', () => {
  const api = new FakeKubeApiServer()
  let client: KubeClient
  beforeAll(async () => {
    await api.start()
    client = new KubeClient({ server: api.url }, { timeoutMs: 5000 })
    for (const n of ['w1', 'w2', 'w3']) api.addNode({ name: n })
    // w1: 4 web pods; w2: 6; w3: 1 pod of a database whose PDB allows no disruption now, and a DaemonSet pod.
    for (let i = 0; i < 4; i++) api.addPod({ name: `web-a${i}`, node: 'w1', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-1' } })
    for (let i = 0; i < 6; i++) api.addPod({ name: `web-b${i}`, node: 'w2', labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-1' } })
    api.addPod({ name: 'db-0', node: 'w3', labels: { app: 'db' }, owner: { kind: 'StatefulSet', name: 'db' } })
    api.addPod({ name: 'db-1', node: 'w1', labels: { app: 'db' }, owner: { kind: 'StatefulSet', name: 'db' }, ready: false })
    api.addPod({ name: 'proxy-w3', node: 'w3', owner: { kind: 'DaemonSet', name: 'proxy' } })
    api.addPdb({ name: 'db', selector: { matchLabels: { app: 'db' } }, minAvailable: 1 })
  })
  afterAll(async () => {
    await client?.close()
    await api.close()
  })

  const observe = async (node: string): Promise<NodeObservations> => ({
    node,
    kubelet: skipped('not in this test'),
    kube: ok(await new KubeProbe(client, node).run({ drainPlan: true })),
    ceph: noCeph,
  })

  it('counts the pods a drain evicts and those a PodDisruptionBudget blocks, from the API', async () => {
    const w3 = workloadOf(await observe('w3'), 0.1)
    expect(w3).toEqual({ pods: 1, blocked: 1, load: 0.1 })
    const w1 = workloadOf(await observe('w1'), 0.1)
    // db-1 is not Ready: a budget does not count it, so evicting it is not refused.
    expect(w1).toEqual({ pods: 5, blocked: 0, load: 0.1 })
  })

  it('a node with PDB-blocked pods goes last, though it has the fewest pods and the least load', async () => {
    const members = await Promise.all(
      [
        ['w3', 0.05],
        ['w2', 0.9],
        ['w1', 0.4],
      ].map(async ([n, load]) => memberWith(n as string, workloadOf(await observe(n as string), load as number))),
    )
    expect(order(members)).toEqual(['w1', 'w2', 'w3'])
    // The budget allows a disruption again (a second db replica is Ready elsewhere): w3 goes first.
    api.addPod({ name: 'db-2', node: 'w2', labels: { app: 'db' }, owner: { kind: 'StatefulSet', name: 'db' } })
    const again = await Promise.all(['w3', 'w2', 'w1'].map(async (n) => memberWith(n, workloadOf(await observe(n), 0.1))))
    expect(again.find((m) => m.id === 'w3')!.record!.work).toEqual({ pods: 1, blocked: 0, load: 0.1 })
    expect(order(again)[0]).toBe('w3')
  })
})

describe('ranking inputs from Ceph (real pg dump / osd tree answers, 4 OSDs on 3 hosts)', () => {
  const tree = CephOsdTree.parse(JSON.parse(raw('osd_tree_4osds')))
  const pgs = CephPgBrief.parse(JSON.parse(raw('pg_dump_pgs_brief_4osds')))
  const share = (host: string) => cephShare(pgs, osdsUnder(tree, host).osds)

  it("counts each host's PGs and the primaries on its OSDs", () => {
    // node-a holds osd.0 and osd.3; node-b osd.1; node-c osd.2 (size-3 pool: every host holds every PG).
    expect(share('node-a')).toEqual({ pgs: 17, primaries: 4 })
    expect(share('node-b')).toEqual({ pgs: 17, primaries: 4 })
    expect(share('node-c')).toEqual({ pgs: 17, primaries: 9 })
    // Each PG has exactly one acting primary.
    expect(['node-a', 'node-b', 'node-c'].reduce((n, h) => n + share(h).primaries, 0)).toBe(pgs.length)
    // Per OSD, the acting sets agree with `ceph osd df` of the same moment (its PGS column).
    const df = JSON.parse(raw('osd_df_4osds')) as { nodes: { id: number; pgs: number }[] }
    for (const o of df.nodes) expect(cephShare(pgs, [o.id]).pgs).toBe(o.pgs)
  })

  it('the host whose OSDs hold more primaries goes later, before pods and load are looked at', () => {
    const obs = (host: string): NodeObservations => ({ node: host, kubelet: skipped('-'), kube: skipped('-'), ceph: ok({ share: share(host) } as never) })
    const members = [
      memberWith('node-c', workloadOf(obs('node-c'), 0)),
      memberWith('node-a', { ...workloadOf(obs('node-a'), 0.8), pods: 30 }),
      memberWith('node-b', { ...workloadOf(obs('node-b'), 0.2), pods: 30 }),
    ]
    expect(order(members)).toEqual(['node-b', 'node-a', 'node-c'])
  })
})

describe('the new fields on the wire', () => {
  it('an agent that predates blocked/pgs/primaries still parses the record and keeps them (kept, ignored)', () => {
    const m = memberWith('w9', { pods: 3, load: 0.5, blocked: 2, pgs: 17, primaries: 9 })
    const keyring = fakeKeyring('w9')
    const signed = signRecord(m.record!, keyring).signed
    // The record schema of the first minor: work had pods and load only.
    const OldWorkload = keepUnknown(z.object({ pods: z.number().int().nonnegative(), load: z.number().nonnegative() }))
    const OldBody = NodeRecordBody.extend({ work: OldWorkload.optional() })
    const old = OldBody.parse(unpack(signed.body))
    expect(old.work).toMatchObject({ pods: 3, load: 0.5, blocked: 2, pgs: 17, primaries: 9 })
    // And a record from an older agent (no new fields) ranks as if they were 0.
    const fromOld = memberWith('w8', { pods: 3, load: 0.5 })
    const view = new MeshClusterView({ view: () => [fromOld] }, { now: () => 0 })
    expect(view.facts('w8')).toMatchObject({ pods: 3, load: 0.5, blocked: 0, pgs: 0, primaries: 0 })
  })

  it('republishes for load alone only when it moved by a step; any count change republishes', () => {
    const w: Workload = { pods: 3, load: 0.5, blocked: 0, pgs: 17, primaries: 4 }
    expect(workChanged(w, { ...w, load: 0.6 })).toBe(false)
    expect(workChanged(w, { ...w, load: 0.75 })).toBe(true)
    expect(workChanged(w, { ...w, primaries: 5 })).toBe(true)
    expect(workChanged(undefined, w)).toBe(true)
  })

  it('a round whose source failed keeps the last known counts instead of publishing zeros', () => {
    const before: Workload = { pods: 7, load: 0.5, blocked: 1, pgs: 17, primaries: 9 }
    const failed: NodeObservations = { node: 'x', kubelet: skipped('-'), kube: { state: 'error', code: 'kube-timeout', error: 'no answer' }, ceph: { state: 'error', code: 'ceph-timeout', error: 'no answer' } }
    expect(workloadOf(failed, 0.3, before)).toEqual({ ...before, load: 0.3 })
  })
})
