import { describe, expect, it } from 'vitest'
import { postReboot, preReboot } from './gates.js'
import { failed, ok, skipped, type KubeView, type NodeObservations } from './observation.js'
import { samples, snapshot } from './testdata/fixtures.js'
import type { CephSnapshot } from './ceph-probe.js'

const readyNode = (name: string, over: Partial<KubeView['node']> = {}): KubeView => ({
  node: { name, ready: 'True', unschedulable: false, conditions: [{ type: 'Ready', status: 'True' }], ...over },
  drain: { evict: [{ namespace: 'default', name: 'web-1' }], stay: [{ namespace: 'kube-system', name: 'proxy', why: 'daemonset' }], blocking: [] },
})

function obs(node: string, ceph: NodeObservations['ceph'], kube: NodeObservations['kube'] = ok(readyNode(node)),
  kubelet: NodeObservations['kubelet'] = ok({ healthy: true, detail: 'ok' })): NodeObservations {
  return { node, ceph, kube, kubelet }
}

describe('preReboot', () => {
  it('passes when Ceph says ok-to-stop, all is clean and the drain is unblocked', () => {
    const r = preReboot(obs('node-a', ok(snapshot('node-a', 'ok', samples.okToStop0()))))
    expect(r.reasons).toEqual([])
    expect(r.pass).toBe(true)
    expect(r.checks.map((c) => c.check)).toEqual(expect.arrayContaining(['ok-to-stop', 'pgs-active', 'redundancy', 'drain']))
  })

  it('fails when ok-to-stop says no, naming the PGs that would go inactive', () => {
    const r = preReboot(obs('node-c', ok(snapshot('node-c', 'down', samples.notOkToStop2()))))
    expect(r.pass).toBe(false)
    expect(r.reasons.join('\n')).toMatch(/osd\.2 is not safe: 17 PGs would become inactive/)
  })

  it('fails for a second host while another host is down even if ok-to-stop (lagging) says yes', () => {
    // The race from the reference notes: ok-to-stop answers true for ~1 s after an OSD died.
    const r = preReboot(obs('node-c', ok(snapshot('node-c', 'down', { ok: true, detail: samples.okToStop0().detail }))))
    expect(r.pass).toBe(false)
    expect(r.reasons.join('\n')).toMatch(/another host is already down: osd\.1 on node-b/)
    expect(r.reasons.join('\n')).toMatch(/PG_DEGRADED/)
  })

  it('the joint question: an OSD down inside the joint set is counted by ok-to-stop, not a reason to wait; outside it, it is', () => {
    // node-b (osd.1) is down and in node-c's joint set: ok-to-stop was asked for osd.2 + osd.1.
    const joint = (hosts: string[], osds: number[], answer: NonNullable<ReturnType<typeof snapshot>['okToStop']>) => {
      const s = snapshot('node-c', 'down', answer)
      s.jointHosts = hosts
      s.jointOsds = osds
      return preReboot(obs('node-c', ok(s)))
    }
    const yes = joint(['node-b'], [1], { ok: true, detail: samples.okToStop0().detail })
    expect(yes.reasons).toEqual([])
    expect(yes.checks.find((c) => c.check === 'other-hosts-up')?.message).toMatch(/down only inside the joint set: osd\.1 on node-b/)
    expect(yes.checks.find((c) => c.check === 'ok-to-stop')?.message).toMatch(/osd\.2, osd\.1 \(jointly with node-b\) ok to stop/)
    const no = joint(['node-b'], [1], samples.notOkToStop2())
    expect(no.pass).toBe(false)
    expect(no.reasons.join('\n')).toMatch(/stopping osd\.2, osd\.1 \(jointly with node-b\) is not safe/)
    // A joint set that leaves the down host out: the race guard still holds the node back.
    const outside = joint(['node-a'], [0], { ok: true, detail: samples.okToStop0().detail })
    expect(outside.pass).toBe(false)
    expect(outside.reasons.join('\n')).toMatch(/another host is already down: osd\.1 on node-b \(the joint set node-a does not include it\)/)
    expect(outside.reasons.join('\n')).toMatch(/PG_DEGRADED/)
  })

  it("does not hold a node back for its own down OSDs", () => {
    const r = preReboot(obs('node-b', ok(snapshot('node-b', 'down', { ok: true, detail: samples.okToStop0().detail }))))
    expect(r.checks.find((c) => c.check === 'redundancy')?.ok).toBe(true)
    expect(r.checks.find((c) => c.check === 'other-hosts-up')?.ok).toBe(true)
  })

  it('fails closed when ok-to-stop cannot tell (EAGAIN) or Ceph does not answer', () => {
    const retry = preReboot(obs('node-a', ok(snapshot('node-a', 'ok', { error: 'Ceph cannot tell yet', code: 'ceph-retry' }))))
    expect(retry.pass).toBe(false)
    expect(retry.reasons.join()).toMatch(/unknown, failing closed: Ceph cannot tell yet/)
    const down = preReboot(obs('node-a', failed({ code: 'ceph-timeout', message: 'ceph status: no answer within 10000 ms' })))
    expect(down.pass).toBe(false)
    expect(down.reasons).toEqual(['ceph: unknown, failing closed: ceph status: no answer within 10000 ms'])
  })

  it('fails closed without an active mgr (ceph health lies before the mgr reports)', () => {
    const s = snapshot('node-a', 'ok', samples.okToStop0())
    s.status.mgrmap.available = false
    expect(preReboot(obs('node-a', ok(s))).reasons.join()).toMatch(/no active Ceph mgr/)
  })

  it('fails on HEALTH_ERR and on PGs that are already inactive', () => {
    const s: CephSnapshot = snapshot('node-a', 'ok', samples.okToStop0())
    s.health = { status: 'HEALTH_ERR', checks: { MON_DISK_CRIT: { severity: 'HEALTH_ERR', summary: { message: 'mon a is very low on space' } } } }
    s.status.pgmap.pgs_by_state = [{ state_name: 'active+clean', count: 15 }, { state_name: 'peering', count: 2 }]
    const r = preReboot(obs('node-a', ok(s)))
    expect(r.pass).toBe(false)
    expect(r.reasons.join('\n')).toMatch(/HEALTH_ERR \(MON_DISK_CRIT: mon a is very low on space\)/)
    expect(r.reasons.join('\n')).toMatch(/2 of 17 PGs already inactive \(2 peering\)/)
  })

  it('fails when a PodDisruptionBudget blocks the drain, naming the pod', () => {
    const kube = readyNode('node-a')
    kube.drain!.blocking.push({ namespace: 'shop', name: 'db-0', reason: 'PodDisruptionBudget db-pdb allows 0 disruptions' })
    const r = preReboot(obs('node-a', ok(snapshot('node-a', 'ok', samples.okToStop0())), ok(kube)))
    expect(r.pass).toBe(false)
    expect(r.reasons).toEqual(['kube: drain would block on 1 pod(s): shop/db-0: PodDisruptionBudget db-pdb allows 0 disruptions'])
  })

  it('states what was skipped, and fails closed when everything was', () => {
    const r = preReboot(obs('node-a', skipped('--skip ceph')))
    expect(r.pass).toBe(true)
    expect(r.skipped).toEqual(['ceph: not checked (--skip ceph)'])
    const none = preReboot(obs('node-a', skipped('--skip ceph'), skipped('--skip kube')))
    expect(none.pass).toBe(false)
    expect(none.reasons.join()).toMatch(/no source was checked/)
  })

  it('passes a host with no OSDs on ok-to-stop grounds, saying so', () => {
    const r = preReboot(obs('node-z', ok(snapshot('node-z', 'ok'))))
    expect(r.checks.find((c) => c.check === 'ok-to-stop')).toMatchObject({ ok: true, message: expect.stringMatching(/no OSDs/) })
  })
})

describe('postReboot', () => {
  it('passes when kubelet, node and Ceph are all healthy', () => {
    const r = postReboot(obs('node-b', ok(snapshot('node-b', 'ok'))))
    expect(r.reasons).toEqual([])
    expect(r.pass).toBe(true)
  })

  it('fails while its OSD is down and PGs are degraded', () => {
    const r = postReboot(obs('node-b', ok(snapshot('node-b', 'down'))))
    expect(r.pass).toBe(false)
    expect(r.reasons.join('\n')).toMatch(/osd\.1 down/)
    expect(r.reasons.join('\n')).toMatch(/17 of 17 PGs not active\+clean \(10 active\+undersized, 7 active\+undersized\+degraded\)/)
  })

  it('fails for a node that is not Ready or under pressure, and for an unhealthy kubelet', () => {
    const kube = readyNode('node-a', {
      ready: 'False',
      conditions: [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'PLEG is not healthy' }, { type: 'DiskPressure', status: 'True' }],
    })
    const r = postReboot(obs('node-a', ok(snapshot('node-a', 'ok')), ok(kube), ok({ healthy: false, detail: 'HTTP 500' })))
    expect(r.reasons).toEqual([
      'kubelet: kubelet unhealthy: HTTP 500',
      'kube: node node-a not Ready (Ready=False, KubeletNotReady: PLEG is not healthy)',
      'kube: node reports DiskPressure',
    ])
  })

  it('never passes on unknown', () => {
    const r = postReboot(obs('node-a', ok(snapshot('node-a', 'ok')), failed(new Error('connect ECONNREFUSED 127.0.0.1:6443'))))
    expect(r.pass).toBe(false)
    expect(r.reasons).toEqual(['kube: unknown, failing closed: connect ECONNREFUSED 127.0.0.1:6443'])
  })
})
