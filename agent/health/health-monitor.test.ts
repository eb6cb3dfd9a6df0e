import { describe, expect, it } from 'vitest'
import { HealthMonitor } from './health-monitor.js'
import { HealthObserver } from './health-observer.js'
import type { CephProbe } from './ceph-probe.js'
import type { KubeletView } from './observation.js'
import { snapshot } from './testdata/fixtures.js'

/** Probes that answer from a script, so rounds are driven by hand (no timers, no sleeps). */
function scripted() {
  const state = { osd: 'ok' as 'ok' | 'down', kubelet: true, cephFails: false }
  const ceph = { name: 'ceph', run: async () => {
    if (state.cephFails) throw Object.assign(new Error('ceph status: no answer within 10000 ms'), { code: 'ceph-timeout' })
    return snapshot('node-b', state.osd)
  } } as unknown as CephProbe
  const kubelet = { name: 'kubelet', url: 'x', run: async (): Promise<KubeletView> => ({ healthy: state.kubelet, detail: state.kubelet ? 'ok' : 'HTTP 500' }) }
  const observer = new HealthObserver({ node: 'node-b', ceph, kubelet: kubelet as never, kube: { skip: 'test' } })
  return { state, observer }
}

describe('HealthMonitor', () => {
  it('reports changes of state only, with the summary the NodeRecord carries', async () => {
    const { state, observer } = scripted()
    let t = 1000
    const changes: string[] = []
    const logs: object[] = []
    const m = new HealthMonitor(observer, {
      clock: { now: () => t },
      logger: { debug() {}, info: (o) => logs.push(o), warn() {}, error() {} },
      onChange: (s) => changes.push(`${s.status}:${s.conditions.map((c) => c.id).join(',')}`),
    })
    await m.runOnce()
    t += 5000
    await m.runOnce() // same state: no change reported
    state.osd = 'down'
    t += 5000
    await m.runOnce()
    state.cephFails = true
    t += 5000
    const s = await m.runOnce()
    expect(s.status).toBe('unknown')
    expect(changes).toEqual([
      'ok:',
      'critical:ceph.host-osd-down,ceph.OSD_DOWN,ceph.OSD_HOST_DOWN,ceph.PG_DEGRADED',
      'unknown:ceph.unknown',
    ])
    expect(m.rounds).toBe(4)
    expect(logs[0]).toMatchObject({ component: 'health', node: 'node-b', status: 'ok' })
  })

  it('start/close are idempotent and close stops the loop', async () => {
    const { observer } = scripted()
    const m = new HealthMonitor(observer, { clock: { now: () => 0 }, intervalMs: 60_000 })
    const first = new Promise<void>((resolve) => { (m.options as { onChange?: () => void }).onChange = () => resolve() })
    m.start()
    m.start()
    await first
    m.close()
    m.close()
    expect(m.rounds).toBe(1)
  })
})
