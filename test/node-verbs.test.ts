/**
 * Node verbs on the coordinator (docs/node-verbs.md), without hyperswarm: the wave harness's
 * coordinator with a mesh view the test edits and its vote/control messages captured.
 * What an operator relies on: a verb is a one-node wave under K and the vote (the node's
 * own request is refused while the budget is spent), clear errors for bad requests, the
 * held list signed into every control message (and an agent that predates verbs is never
 * a candidate in a verb's wave), decommission ends with the node off the roster, and every
 * verb is audited.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { WaveGate, controlBytes } from '../agent/protocol/wave-control.js'
import { verifyAs } from '../agent/protocol/signing.js'
import { MAINTENANCE_CONDITION } from '../agent/protocol/node-verbs.js'
import { startWaveHarness, type WaveHarness } from '../coordinator/waves/wave-testing.js'
import { shoalAgainst } from './support/shoal-cli.js'

let w: WaveHarness | undefined
afterEach(async () => {
  await w?.close()
  w = undefined
})

const shoal = (...argv: string[]) => shoalAgainst(w, argv)

const maintenanceRecord = { phase: 'draining' as const, health: { status: 'ok' as const, conditions: [{ id: MAINTENANCE_CONDITION, severity: 'info' as const, since: 0, message: 'in maintenance', source: 'upgrade' }] } }

describe('node verbs: bad requests get clear errors and change nothing', () => {
  it('unknown node, bad id, unknown verb, bad body, off while not in maintenance, a verb while a wave runs', async () => {
    w = await startWaveHarness(2)
    const [a] = w.machines
    const unknown = await w.admin('/v1/nodes/no-such-node/reboot', {})
    expect(unknown.status).toBe(404)
    expect(unknown.json.error).toMatchObject({ code: 'unknown-node', message: expect.stringContaining('no enrolled node "no-such-node"') })
    expect((await w.admin('/v1/nodes/bad%20id/reboot', {})).json.error.code).toBe('bad-node-id')
    expect((await w.admin(`/v1/nodes/${a!.id}/explode`, {})).json.error).toMatchObject({ code: 'not-found', message: expect.stringContaining('maintenance, reboot, shutdown, decommission') })
    expect((await w.admin(`/v1/nodes/${a!.id}/reboot`, { maxUnavailable: 0 })).status).toBe(400)
    const off = await w.admin(`/v1/nodes/${a!.id}/maintenance`, { on: false })
    expect(off.status).toBe(409)
    expect(off.json.error.message).toMatch(/is not in maintenance/)
    expect((await w.admin('/v1/admin/audit?kind=wave')).json.entries).toEqual([])
    expect((await w.admin('/v1/waves', { target: 'v2' })).status).toBe(201)
    const busy = await w.admin(`/v1/nodes/${a!.id}/reboot`, {})
    expect(busy.status).toBe(409)
    expect(busy.json.error.message).toMatch(/wave w1 \(to v2\) is running; a node verb is a one-node wave/)
  })
})

describe('node verbs: maintenance holds a slot; a second beyond K waits', () => {
  it('takes the slot through the vote, holds the node after its drain, refuses a second node while K is spent, and ends on off', async () => {
    w = await startWaveHarness(3)
    const [a, b] = w.machines as [WaveHarness['machines'][number], WaveHarness['machines'][number]]
    const svc = w.h.coordinator.waves.service
    const on = await w.admin(`/v1/nodes/${a.id}/maintenance`, { on: true })
    expect(on.status).toBe(201)
    expect(on.json).toMatchObject({ node: a.id, kind: 'maintenance', wave: 'w1', state: 'running' })

    // The verb's wave: the node's own image as target (an agent that predates verbs is never a
    // candidate in it), taken to that node only, the verb signed apart from what old agents verify.
    const st = (await w.admin('/v1/waves/w1')).json
    expect(st).toMatchObject({ target: 'v1', maxUnavailable: 1 })
    const ctl = w.link.lastControl()!
    expect(ctl.nv).toEqual({ verb: { node: a.id, kind: 'maintenance' }, held: [] })
    expect(ctl.sched?.only).toEqual([a.id])
    const coordKey = svc.currentControl()!.sig && w.h.coordinator.waves.service['deps'].identity.publicKey
    expect(verifyAs('control', coordKey, controlBytes(ctl), ctl.sig, w.h.coordinator.waves.service['deps'].identity.keyring)).toBe(true)
    // A node that knows verbs takes the control, and sees the verb's node as not on the target yet.
    const gate = new WaveGate(coordKey, w.h.coordinator.waves.service['deps'].identity.keyring)
    expect(gate.onControl(ctl)).toBe('new')
    expect(gate.viewImage(a.id, 'v1', 'w1')).toBe('verb:maintenance')
    expect(gate.viewImage(b.id, 'v1', 'w1')).toBe('v1')
    // A forged verb (another node named under the same signatures) is dropped and counted.
    const forged = new WaveGate(coordKey, w.h.coordinator.waves.service['deps'].identity.keyring)
    expect(forged.onControl({ ...ctl, nv: { verb: { node: b.id, kind: 'reboot' }, held: [] } })).toBe('bad')
    expect(forged.counters['bad-verbs-signature']).toBe(1)

    // The coordinator's tie-break vote: b is not the verb's node (on the target already): ineligible.
    await w.deliver(b, { k: 'req', wave: 'w1', slot: 0, term: 1, cand: b.id })
    expect(w.link.votes().filter((v) => v.to === b.id).map((v) => (v.msg.k === 'nack' ? v.msg.reason : v.msg.k))).toEqual(['ineligible'])

    // a wins, drains and holds: the slot is released, a stays unavailable (draining, its condition).
    await w.deliver(a, { k: 'grant', wave: 'w1', slot: 0, term: 1, holder: a.id, votes: 2 })
    await svc.tick()
    expect((await w.admin('/v1/waves/w1')).json.state).toBe('running')
    w.members.set(a.id, maintenanceRecord)
    await w.deliver(a, { k: 'rel', wave: 'w1', slot: 0, term: 1, holder: a.id })
    await svc.tick()
    expect((await w.admin('/v1/waves/w1')).json.state).toBe('done')
    expect((await w.admin('/v1/nodes/held')).json.held).toEqual([expect.objectContaining({ node: a.id, kind: 'maintenance', wave: 'w1' })])
    expect(w.link.lastControl()).toMatchObject({ nv: { held: [{ node: a.id, kind: 'maintenance' }] }, retired: [a.id] })
    const again = await w.admin(`/v1/nodes/${a.id}/maintenance`, { on: true })
    expect(again.status).toBe(409)
    expect(again.json.error.message).toMatch(/already in maintenance .* shoal node maintenance off/)

    // A second maintenance with K=1: its wave starts, but the vote refuses b while a is unavailable.
    w.link.clear()
    expect((await w.admin(`/v1/nodes/${b.id}/maintenance`, { on: true })).json).toMatchObject({ wave: 'w2', state: 'running' })
    await w.deliver(b, { k: 'req', wave: 'w2', slot: 0, term: 1, cand: b.id })
    expect(w.link.votes().filter((v) => v.to === b.id).map((v) => (v.msg.k === 'nack' ? v.msg.reason : v.msg.k))).toEqual(['budget'])
    expect(w.link.lastControl()).toMatchObject({ nv: { verb: { node: b.id, kind: 'maintenance' }, held: [{ node: a.id }] } })

    // Maintenance off: a leaves the held list (the control says so), and once back ready, b's request passes.
    expect((await w.admin(`/v1/nodes/${a.id}/maintenance`, { on: false })).json).toMatchObject({ node: a.id, kind: 'maintenance-off' })
    expect(w.link.lastControl()!.nv!.held).toEqual([])
    w.members.set(a.id, { phase: 'ready', health: { status: 'ok', conditions: [] } })
    w.link.clear()
    await w.deliver(b, { k: 'req', wave: 'w2', slot: 0, term: 2, cand: b.id })
    expect(w.link.votes().filter((v) => v.to === b.id).map((v) => v.msg.k)).toEqual(['vote'])

    const audit = (await w.admin('/v1/admin/audit?kind=wave')).json.entries.map((e: { node?: string; detail: { op: string } }) => [e.node, e.detail.op])
    expect(audit).toEqual(expect.arrayContaining([[a.id, 'verb-maintenance'], [a.id, 'verb-maintenance-done'], [b.id, 'verb-maintenance'], [a.id, 'maintenance-off']]))
  })
})

describe('node verbs: reboot, shutdown, decommission end by their own rule', () => {
  it('reboot ends when the node is back and out of its slot; shutdown holds it until it is back; decommission removes it from the roster', async () => {
    w = await startWaveHarness(3)
    const [a, b, c] = w.machines as [WaveHarness['machines'][number], WaveHarness['machines'][number], WaveHarness['machines'][number]]
    const svc = w.h.coordinator.waves.service

    expect((await w.admin(`/v1/nodes/${a.id}/reboot`, {})).status).toBe(201)
    await svc.tick()
    expect((await w.admin('/v1/waves/w1')).json.state).toBe('running') // not granted yet: not through
    await w.deliver(a, { k: 'grant', wave: 'w1', slot: 0, term: 1, holder: a.id, votes: 2 })
    w.members.set(a.id, { phase: 'rebooting' })
    await svc.tick()
    expect((await w.admin('/v1/waves/w1')).json.state).toBe('running')
    w.members.set(a.id, { phase: 'ready' })
    await w.deliver(a, { k: 'rel', wave: 'w1', slot: 0, term: 1, holder: a.id })
    await svc.tick()
    expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ state: 'done' })
    expect((await w.admin('/v1/nodes/held')).json.held).toEqual([])

    expect((await w.admin(`/v1/nodes/${b.id}/shutdown`, {})).json.wave).toBe('w2')
    await w.deliver(b, { k: 'grant', wave: 'w2', slot: 0, term: 1, holder: b.id, votes: 2 })
    w.members.set(b.id, { phase: 'rebooting' })
    await svc.tick()
    expect((await w.admin('/v1/nodes/held')).json.held).toEqual([expect.objectContaining({ node: b.id, kind: 'shutdown' })])
    w.members.set(b.id, { status: 'dead' })
    await svc.tick()
    expect((await w.admin(`/v1/nodes/${b.id}/reboot`, {})).json.error.message).toMatch(/is shut down .* power it on first/)
    // Powered on again: back and available, no longer held.
    w.members.set(b.id, { status: 'alive', phase: 'ready' })
    await svc.tick()
    expect((await w.admin('/v1/nodes/held')).json.held).toEqual([])

    expect((await w.admin(`/v1/nodes/${c.id}/decommission`, {})).json.wave).toBe('w3')
    await w.deliver(c, { k: 'grant', wave: 'w3', slot: 0, term: 1, holder: c.id, votes: 2 })
    w.members.set(c.id, { phase: 'leaving' })
    await w.deliver(c, { k: 'rel', wave: 'w3', slot: 0, term: 1, holder: c.id })
    await svc.tick()
    expect((await w.admin('/v1/waves/w3')).json.state).toBe('done')
    const nodes = (await w.admin('/v1/admin/nodes')).json.nodes.map((n: { id: string }) => n.id)
    expect(nodes).toEqual([a.id, b.id])
    expect((await w.admin('/v1/admin/audit?kind=remove')).json.entries[0]).toMatchObject({ node: c.id, detail: { by: expect.stringContaining('decommission (wave w3') } })
  })
})

describe('shoal node maintenance|reboot|shutdown|decommission|held', () => {
  it('starts a verb, says which wave carries it, lists held nodes; usage mistakes exit 2, refusals 1', async () => {
    w = await startWaveHarness(2)
    const [a, b] = w.machines.map((m) => m.id) as [string, string]
    expect(await shoal('node', 'maintenance', 'maybe', a)).toMatchObject({ code: 2, err: expect.stringContaining('takes on or off first') })
    expect(await shoal('node', 'reboot')).toMatchObject({ code: 2, err: expect.stringContaining('missing NODE') })
    expect(await shoal('node', 'reboot', a, '--max-unavailable', 'zero')).toMatchObject({ code: 2, err: expect.stringContaining('--max-unavailable takes a whole number') })
    expect(await shoal('node', 'shutdown', 'no-such-node')).toMatchObject({ code: 1, err: expect.stringContaining('no enrolled node "no-such-node"') })
    const on = await shoal('node', 'maintenance', 'on', a)
    expect(on).toMatchObject({ code: 0, out: expect.stringContaining(`maintenance (drained and held) of ${a}: wave w1`) })
    expect(await shoal('node', 'decommission', b)).toMatchObject({ code: 1, err: expect.stringContaining('node verb maintenance of') })
    expect((await shoal('node', 'held')).out).toBe('no node is held (none in maintenance or shut down)')
    w.members.set(a, maintenanceRecord)
    await w.h.coordinator.waves.service.tick()
    const held = await shoal('node', 'held')
    expect(held.out).toMatch(new RegExp(`${a}\\s+maintenance`))
    expect(JSON.parse((await shoal('node', 'held', '-o', 'json')).out).held[0]).toMatchObject({ node: a, kind: 'maintenance' })
    expect(await shoal('node', 'maintenance', 'off', a)).toMatchObject({ code: 0, out: expect.stringContaining(`maintenance of ${a} ended`) })
  })
})
