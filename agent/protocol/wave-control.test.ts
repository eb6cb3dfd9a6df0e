import { describe, expect, it } from 'vitest'
import type { MemberView } from './mesh-types.js'
import type { Phase } from './node-record.js'
import { fakeKeyring } from './testing.js'
import { WAITING_CONDITION, WaveGate, controlBytes, inWindow, signControl, type UnsignedControl } from './wave-control.js'
import { verifyAs } from './signing.js'

const coord = fakeKeyring('coordinator')
const base: UnsignedControl = { wave: 'w1', seq: 1000, state: 'running', nodeTimeoutMs: 60_000, alerts: [] }

function member(id: string, phase: Phase, status: MemberView['status'] = 'alive'): MemberView {
  return {
    id, status, inc: 1, updatedAt: 0, statusSince: 0,
    record: { id, key: 'k'.repeat(64), inc: 1, ver: 1, image: 'v1', phase, domain: 'd', inv: {}, health: { status: 'ok', conditions: [] }, comps: [] },
  }
}

describe('WaveGate', () => {
  it('takes only control messages signed by the coordinator, newest first', () => {
    const g = new WaveGate(coord.publicKey, coord)
    expect(g.onControl(signControl(base, fakeKeyring('mallory')))).toBe('bad')
    expect(g.onControl({ ...signControl(base, coord), state: 'exploded' })).toBe('bad')
    expect(g.onControl({ ...signControl(base, coord), state: 'paused' })).toBe('bad') // altered after signing
    expect(g.onControl(signControl({ ...base, state: 'paused' }, coord))).toBe('new')
    expect(g.onControl(signControl({ ...base, seq: 999, state: 'running' }, coord))).toBe('dup') // older
    expect(g.hold(0)).toMatchObject({ held: true, reason: 'wave w1 is paused', halted: false })
    expect(g.onControl(signControl({ ...base, seq: 2000 }, coord))).toBe('new')
    expect(g.hold(0).held).toBe(false)
    expect(g.counters).toEqual({ 'bad-signature': 2, schema: 1 })
  })

  it('halts by itself when a node stays unavailable past the node timeout, and clears when it is back', () => {
    const g = new WaveGate(coord.publicKey, coord)
    g.onControl(signControl(base, coord))
    const view = new Map<string, MemberView>([['a', member('a', 'ready')], ['b', member('b', 'rebooting', 'dead')]])
    g.observe(['a', 'b'], (id) => view.get(id), 0)
    expect(g.hold(0).held).toBe(false)
    g.observe(['a', 'b'], (id) => view.get(id), 60_000)
    expect(g.hold(60_000).held).toBe(false)
    g.observe(['a', 'b'], (id) => view.get(id), 60_001)
    expect(g.hold(60_001)).toMatchObject({ held: true, halted: true })
    expect(g.hold(60_001).reason).toMatch(/node b has been dead for 60 s/)
    view.set('b', member('b', 'ready'))
    g.observe(['a', 'b'], (id) => view.get(id), 70_000)
    expect(g.hold(70_000).held).toBe(false)
  })

  it('a holder waiting at its joint check (draining, with the waiting condition) is not late: its clock runs only once it stops waiting', () => {
    const g = new WaveGate(coord.publicKey, coord)
    g.onControl(signControl(base, coord))
    const waiting = member('h', 'draining')
    waiting.record!.health.conditions = [{ id: WAITING_CONDITION, severity: 'info', since: 0, message: 'waiting: not safe to stop jointly with the nodes down or holding a slot: n2', source: 'upgrade' }]
    g.observe(['h'], () => waiting, 0)
    g.observe(['h'], () => waiting, 10 * 60_000) // ten node timeouts of waiting
    expect(g.hold(10 * 60_000).held).toBe(false)
    // It stops waiting (drains on, reboots): from then on the timeout applies as to anyone.
    g.observe(['h'], () => member('h', 'rebooting', 'dead'), 10 * 60_000 + 1)
    g.observe(['h'], () => member('h', 'rebooting', 'dead'), 11 * 60_000)
    expect(g.hold(11 * 60_000).held).toBe(false)
    g.observe(['h'], () => member('h', 'rebooting', 'dead'), 11 * 60_000 + 2)
    expect(g.hold(11 * 60_000 + 2)).toMatchObject({ held: true, halted: true })
    // Draining without the condition (an ordinary drain) is on the clock.
    const g2 = new WaveGate(coord.publicKey, coord)
    g2.onControl(signControl(base, coord))
    g2.observe(['h'], () => member('h', 'draining'), 0)
    g2.observe(['h'], () => member('h', 'draining'), 60_001)
    expect(g2.hold(60_001).reason).toMatch(/node h has been draining for 60 s/)
  })

  it('halts at once on a failed node, and counts a missing node as unavailable', () => {
    const g = new WaveGate(coord.publicKey, coord)
    g.onControl(signControl(base, coord))
    g.observe(['a'], () => member('a', 'failed'), 0)
    expect(g.hold(0)).toMatchObject({ held: true, halted: true })
    g.observe(['x'], () => undefined, 0)
    g.observe(['x'], () => undefined, 61_000)
    expect(g.hold(61_000).reason).toMatch(/node x has been missing/)
  })

  it('a node the operator retired no longer halts the wave', () => {
    const g = new WaveGate(coord.publicKey, coord)
    g.onControl(signControl(base, coord))
    g.observe(['a'], () => member('a', 'failed'), 0)
    expect(g.hold(0).halted).toBe(true)
    g.onControl(signControl({ ...base, seq: 2000, retired: ['a'], drainPolicy: 'force' }, coord))
    g.observe(['a'], () => member('a', 'failed'), 0)
    expect(g.hold(0).held).toBe(false)
    expect(g.current()?.drainPolicy).toBe('force')
    // The retired list is signed: it cannot be added on the way.
    expect(g.onControl({ ...signControl({ ...base, seq: 3000 }, coord), retired: ['b'] })).toBe('bad')
  })

  it('holds outside the window and while alerts fire, without halting', () => {
    const g = new WaveGate(coord.publicKey, coord)
    g.onControl(signControl({ ...base, window: { fromMinute: 120, toMinute: 240 } }, coord))
    expect(g.hold(60 * 60_000)).toMatchObject({ held: true, halted: false, reason: expect.stringContaining('outside the maintenance window') })
    expect(g.hold(3 * 60 * 60_000).held).toBe(false)
    g.onControl(signControl({ ...base, seq: 2000, alerts: ['CephHealthError'] }, coord))
    expect(g.hold(0)).toMatchObject({ held: true, halted: false, reason: 'alerts firing: CephHealthError' })
  })

  it('windows wrap midnight', () => {
    const w = { fromMinute: 23 * 60, toMinute: 60 }
    expect(inWindow(w, 23 * 3600_000 + 1)).toBe(true)
    expect(inWindow(w, 30 * 60_000)).toBe(true)
    expect(inWindow(w, 2 * 3600_000)).toBe(false)
  })
})

describe('WaveGate and node verbs (node-verbs.ts)', () => {
  it('an agent that predates verbs still verifies the message; one that knows them takes the verb, the held list, and drops a forged one', () => {
    const m = signControl({ ...base, nv: { verb: { node: 'a', kind: 'reboot' }, held: [{ node: 'b', kind: 'maintenance' }] } }, coord)
    // Older agents verify `sig` over the bytes they always did: the verbs section is not in them.
    const { nv: _nv, nvsig: _nvsig, ...older } = m
    expect(new WaveGate(coord.publicKey, coord).onControl(older)).toBe('new')
    expect(controlSigOk(m)).toBe(true)
    const g = new WaveGate(coord.publicKey, coord)
    expect(g.onControl(m)).toBe('new')
    expect(g.verb()).toEqual({ node: 'a', kind: 'reboot', wave: 'w1' })
    expect(g.viewImage('a', 'v1', 'w1')).toBe('verb:reboot')
    expect(g.viewImage('c', 'v1', 'w1')).toBe('v1')
    // The vote still on the wave before (the control came first): never a candidate there.
    expect(g.viewImage('a', 'v1', 'w0')).toBe('v1')
    expect(g.held('b')).toBe('maintenance')
    // Carried out here: no longer the verb's subject, even before the coordinator says done.
    g.verbDone('w1')
    expect(g.viewImage('a', 'v1', 'w1')).toBe('v1')
    const bad = new WaveGate(coord.publicKey, coord)
    expect(bad.onControl({ ...m, nv: { verb: { node: 'c', kind: 'decommission' }, held: [] } })).toBe('bad')
    expect(bad.onControl({ ...m, nvsig: undefined })).toBe('bad')
    expect(bad.counters).toEqual({ 'bad-verbs-signature': 2 })
  })

  it('a held node (maintenance, shut down) never halts the wave, however long it is unavailable', () => {
    const g = new WaveGate(coord.publicKey, coord)
    g.onControl(signControl({ ...base, nv: { held: [{ node: 'b', kind: 'shutdown' }] } }, coord))
    const view = new Map<string, MemberView>([['a', member('a', 'ready')], ['b', member('b', 'rebooting', 'dead')]])
    g.observe(['a', 'b'], (id) => view.get(id), 0)
    g.observe(['a', 'b'], (id) => view.get(id), 10 * 60_000)
    expect(g.hold(10 * 60_000).held).toBe(false)
  })
})

function controlSigOk(m: ReturnType<typeof signControl>): boolean {
  return verifyAs('control', coord.publicKey, controlBytes(m), m.sig, coord)
}
