import { describe, expect, it } from 'vitest'
import { HealthSummary } from '../protocol/node-record.js'
import { HealthModel } from './health-model.js'
import { failed, ok, skipped, type NodeObservations } from './observation.js'
import { snapshot } from './testdata/fixtures.js'

const kube = (ready: 'True' | 'False', unschedulable = false) =>
  ok({ node: { name: 'node-b', ready, unschedulable, conditions: [{ type: 'Ready', status: ready } as const] } })

function round(ceph: 'ok' | 'down', ready: 'True' | 'False' = 'True'): NodeObservations {
  return { node: 'node-b', kubelet: ok({ healthy: true, detail: 'ok' }), kube: kube(ready), ceph: ok(snapshot('node-b', ceph)) }
}

describe('HealthModel', () => {
  it('starts unknown, turns ok, and the summary fits the NodeRecord schema', () => {
    const m = new HealthModel()
    expect(m.summary().status).toBe('unknown')
    const s = m.update(round('ok'), 1000)
    expect(s).toEqual({ status: 'ok', kubeletReady: true, osdsUp: 1, osdsTotal: 1, conditions: [] })
    expect(HealthSummary.parse(s)).toEqual(s)
  })

  it('names conditions with severity and source, and keeps `since` while they persist', () => {
    const m = new HealthModel()
    m.update(round('down'), 1000)
    const s = m.update(round('down'), 6000)
    expect(s.status).toBe('critical')
    expect(s.osdsUp).toBe(0)
    const byId = Object.fromEntries(s.conditions.map((c) => [c.id, c]))
    expect(byId['ceph.host-osd-down']).toEqual({ id: 'ceph.host-osd-down', severity: 'critical', since: 1000, message: "this host's osd.1 down", source: 'ceph' })
    expect(byId['ceph.PG_DEGRADED']).toMatchObject({ severity: 'warning', since: 1000, source: 'ceph' })
    expect(s.conditions[0]!.severity).toBe('critical')
    // Cleared when the cause is gone; a new episode gets a new since.
    expect(m.update(round('ok'), 9000).conditions).toEqual([])
    expect(m.update(round('down'), 12000).conditions.find((c) => c.id === 'ceph.host-osd-down')?.since).toBe(12000)
  })

  it('says unknown, not ok, when a source does not answer', () => {
    const m = new HealthModel()
    const s = m.update({ ...round('ok'), ceph: failed({ code: 'ceph-timeout', message: 'ceph status: no answer within 10000 ms' }) }, 1)
    expect(s.status).toBe('unknown')
    expect(s.conditions).toEqual([{ id: 'ceph.unknown', severity: 'warning', since: 1, source: 'ceph', message: 'ceph did not answer: ceph status: no answer within 10000 ms' }])
    const none = new HealthModel().update({ node: 'x', kubelet: skipped('-'), kube: skipped('-'), ceph: skipped('-') }, 1)
    expect(none.status).toBe('unknown')
  })

  it('reports a NotReady, cordoned node', () => {
    const s = new HealthModel().update(round('ok', 'False'), 1)
    expect(s.status).toBe('critical')
    expect(s.kubeletReady).toBe(true) // kubelet /healthz answered; Ready is the API's view
    expect(s.conditions.map((c) => c.id)).toEqual(['kube.not-ready'])
    const c = new HealthModel().update({ ...round('ok'), kube: kube('True', true) }, 1)
    expect(c.conditions.map((x) => [x.id, x.severity])).toEqual([['kube.cordoned', 'info']])
    expect(c.status).toBe('ok')
  })

  it('caps the gossiped list at 16 conditions, most severe first', () => {
    const r = round('down')
    const snap = (r.ceph as { value: any }).value
    for (let i = 0; i < 30; i++) snap.health.checks[`X_${i}`] = { severity: 'HEALTH_WARN', summary: { message: 'm'.repeat(400) } }
    const s = new HealthModel().update(r, 1)
    expect(s.conditions).toHaveLength(16)
    expect(s.conditions[0]!.severity).toBe('critical')
    expect(HealthSummary.safeParse(s).success).toBe(true)
  })
})
