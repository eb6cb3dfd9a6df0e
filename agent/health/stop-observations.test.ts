import { describe, expect, it } from 'vitest'
import { neverStops } from '../protocol/stop-facts.js'
import { osdsUnder, type CephSnapshot } from './ceph-probe.js'
import { drainPlan } from './kube-drain.js'
import { KubePdb, type KubePod } from './kube-schemas.js'
import { failed, ok, skipped, type NodeObservations } from './observation.js'
import type { StopFacts } from '../protocol/stop-facts.js'
import { bucketsWithOsds, failureDomainType, OK_ALONE_NO_ROUNDS, stopFactsOf, type OkAloneStreak } from './stop-observations.js'
import { samples, snapshot } from './testdata/fixtures.js'

/** The two-host cluster as a real Ceph 16 answered: pools size 2 / min_size 2, ok-to-stop refused. */
function twoHosts(host: string): CephSnapshot {
  const tree = samples.tree2Hosts()
  const { known, osds } = osdsUnder(tree, host)
  const status = samples.status2Hosts()
  return { host, status, health: status.health, tree, dump: samples.dump2Hosts(), hostOsds: osds, hostKnown: known, okToStop: samples.notOkToStop2Hosts(), rules: samples.crushRules() }
}

const obs = (ceph: NodeObservations['ceph'], kube: NodeObservations['kube'] = skipped('test')): NodeObservations => ({ node: 'node-a', kubelet: skipped('test'), kube, ceph })

describe('stop facts from real Ceph answers', () => {
  it('two hosts at size 2 / min_size 2: both pools named, the failure domain from the CRUSH rule, ok-to-stop alone refused', () => {
    const f = stopFactsOf(obs(ok(twoHosts('node-a'))))!
    expect(f).toEqual({
      pools: [
        { name: 'testpool', size: 2, min: 2 },
        { name: 'device_health_metrics', size: 2, min: 2 },
      ],
      domainType: 'host',
      domains: 2,
      okAlone: false,
    })
    const never = neverStops(f)
    expect(never.map((b) => [b.code, b.fix.split(' (')[0]])).toEqual([
      ['pool-min-size', 'ceph osd pool set testpool min_size 1'],
      ['pool-min-size', 'ceph osd pool set device_health_metrics min_size 1'],
    ])
  })

  it('three hosts, all clean, ok-to-stop yes: nothing stands in the way', () => {
    const f = stopFactsOf(obs(ok(snapshot('node-a', 'ok', samples.okToStop0()))))!
    expect(f).toMatchObject({ domainType: 'host', domains: 3, okAlone: true })
    expect(f.pools!.every((p) => p.size === 3 && p.min === 2)).toBe(true)
    expect(neverStops(f)).toEqual([])
  })

  it('a host without OSDs holds no copy: no pools published, nothing stops it', () => {
    const f = stopFactsOf(obs(ok(twoHosts('compute-1'))))!
    expect(f).toEqual({ domainType: 'host', domains: 2 })
    expect(neverStops(f)).toEqual([])
  })

  it('ok-to-stop asked while another host is down says nothing about "alone": the last clean answer stands', () => {
    const down = snapshot('node-c', 'down', samples.notOkToStop2())
    expect(stopFactsOf(obs(ok(down)))!.okAlone).toBeUndefined()
    expect(stopFactsOf(obs(ok(down)), { okAlone: true })!.okAlone).toBe(true)
    // Ceph unreachable: the pools are unknown, the last "alone" answer is kept.
    expect(stopFactsOf(obs(failed(new Error('timeout'))), { okAlone: false })).toEqual({ okAlone: false })
    expect(stopFactsOf(obs(failed(new Error('timeout'))))).toBeUndefined()
  })

  it('ok-to-stop asked jointly with a slot holder (all clean, nothing down) says nothing about "alone"', () => {
    // Seen live at K=2 on four hosts (size 3 / min_size 2): the pre gate asked for w2 together
    // with w4, which held a slot; the "no" was taken for w2 alone, and the next wave was refused.
    const joint: CephSnapshot = { ...snapshot('node-a', 'ok', samples.notOkToStop2()), jointHosts: ['node-b'], jointOsds: [1] }
    expect(stopFactsOf(obs(ok(joint)))!.okAlone).toBeUndefined()
    expect(stopFactsOf(obs(ok(joint)), { okAlone: true })!.okAlone).toBe(true)
    expect(stopFactsOf(obs(ok({ ...joint, jointHosts: [], jointOsds: [] })))!.okAlone).toBe(false)
  })

  it('"not ok to stop even alone" is published only after OK_ALONE_NO_ROUNDS clean rounds in a row said so; one "yes" resets the count', () => {
    // One round can pair PGs read active+clean with an ok-to-stop answered from another moment:
    // a wave refused as never-finishing on it (seen live right after the OSDs started).
    const no = obs(ok({ ...snapshot('node-a', 'ok', samples.notOkToStop2()), jointHosts: [], jointOsds: [] }))
    const yes = obs(ok(snapshot('node-a', 'ok', samples.okToStop0())))
    const streak: OkAloneStreak = { no: 0 }
    let f: StopFacts | undefined
    const seen: (boolean | undefined)[] = []
    for (const round of [no, no, yes, no, no, no, no]) {
      f = stopFactsOf(round, f, streak)
      seen.push(f?.okAlone)
    }
    expect(OK_ALONE_NO_ROUNDS).toBe(3)
    expect(seen).toEqual([undefined, undefined, true, true, true, false, false])
    expect(neverStops(f).map((b) => b.code)).toEqual(['ok-to-stop-alone'])
  })

  it('the failure-domain type follows the rule the pools use; buckets count only with OSDs under them', () => {
    const rules = samples.crushRules()
    expect(failureDomainType(rules, [0])).toBe('host')
    expect(failureDomainType(undefined, [0])).toBe('host')
    const rack = [{ rule_id: 1, rule_name: 'by-rack', steps: [{ op: 'take', item_name: 'default' }, { op: 'chooseleaf_firstn', num: 0, type: 'rack' }, { op: 'emit' }] }]
    expect(failureDomainType([...rules, ...rack], [1, 1, 0])).toBe('rack')
    const snap = twoHosts('node-a')
    expect(bucketsWithOsds(snap, 'host')).toBe(2)
    expect(bucketsWithOsds(snap, 'osd')).toBe(2)
    // An empty host bucket is no failure domain.
    snap.tree = { nodes: [...snap.tree.nodes, { id: -9, name: 'node-z', type: 'host', children: [] }] }
    expect(bucketsWithOsds(snap, 'host')).toBe(2)
  })
})

describe('PodDisruptionBudgets that allow nothing, ever', () => {
  const pod = (name: string): KubePod =>
    ({
      metadata: { name, namespace: 'db', labels: { app: 'db' }, ownerReferences: [{ kind: 'StatefulSet', name: 'db', controller: true }] },
      spec: { nodeName: 'node-a' },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    }) as KubePod
  // Parsed as the API server's answer is: zod at the edge.
  const pdb = (status: Record<string, number>): KubePdb => KubePdb.parse({ metadata: { name: 'db', namespace: 'db' }, spec: { selector: { matchLabels: { app: 'db' } } }, status })

  it('zero allowed with every expected pod healthy: published, and it never clears', () => {
    const plan = drainPlan([pod('db-0')], [pdb({ disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2, expectedPods: 2 })])
    expect(plan.pdbsAllowingNone).toEqual([{ name: 'db', healthy: 2, desired: 2 }])
    const f = stopFactsOf(obs(skipped('no ceph'), ok({ node: { name: 'node-a', ready: 'True', unschedulable: false, conditions: [] }, drain: plan })))
    expect(neverStops(f).map((b) => b.code)).toEqual(['pdb-allows-none'])
  })

  it('zero allowed because a pod is unhealthy now: it can clear, so it is not published', () => {
    const plan = drainPlan([pod('db-0')], [pdb({ disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 2, expectedPods: 2 })])
    expect(plan.blocking).toHaveLength(1)
    expect(plan.pdbsAllowingNone).toBeUndefined()
  })
})
