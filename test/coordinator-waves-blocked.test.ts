/**
 * A wave that cannot move says why, and one that can never finish is refused: the real
 * coordinator (HTTP on loopback, level on disk, stepped clock) with its mesh view set by the
 * test — each member's gossiped record carrying its gate verdict, the gate's reasons and
 * the Ceph stop facts (pool size/min_size, CRUSH failure domains) its agent publishes.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startWaveHarness, type WaveHarness } from '../coordinator/waves/wave-testing.js'
import { shoalAgainst } from './support/shoal-cli.js'
import type { HealthSummary } from '../agent/protocol/node-record.js'

let w: WaveHarness | undefined
afterEach(async () => {
  await w?.close()
  w = undefined
})

const start = (body: Record<string, unknown>) => w!.admin('/v1/waves', { target: 'v2', ...body })
const MIN = 60_000

/** Health as an agent publishes it: two CRUSH hosts, pools at size/min_size, its pre-gate verdict. */
function health(size: number, min: number, pre = true, why?: string[]): HealthSummary {
  return {
    status: 'ok',
    conditions: [],
    gates: { pre, post: true, at: 0, ...(why ? { why } : {}) },
    stop: { pools: [{ name: 'rbd', size, min }, { name: 'device_health_metrics', size, min }], domainType: 'host', domains: 2, okAlone: min < size },
  }
}

async function unchangedBy<T>(fn: () => Promise<T>): Promise<T> {
  const before = await w!.h.coordinator.dumpState()
  const out = await fn()
  expect(await w!.h.coordinator.dumpState()).toEqual(before)
  return out
}

describe('the start check: refuse what can never finish', () => {
  it('two workers at size 2 / min_size 2: refused (409) with every pool, the nodes and the fix; nothing published', async () => {
    w = await startWaveHarness(2)
    for (const m of w.machines) w.members.set(m.id, { health: health(2, 2, false, ['ceph: Ceph says stopping osd.0 is not safe: 17 PGs would become inactive']) })
    const r = await unchangedBy(() => start({ maxUnavailable: 1 }))
    expect(r.status).toBe(409)
    expect(r.json.error.code).toBe('never-finishes')
    const msg: string = r.json.error.message
    expect(msg).toMatch(/this wave can never finish: 2 of 2 candidate\(s\) can never pass their pre-reboot gate on their own/)
    expect(msg).toMatch(/pool rbd has min_size 2 with size 2.*\(.+, .+\); fix: ceph osd pool set rbd min_size 1/)
    expect(msg).toMatch(/fix: ceph osd pool set device_health_metrics min_size 1/)
    expect(msg).toMatch(/--force/)
    expect(w.link.sent).toHaveLength(0)
  })

  it('the dry run says the same, and that a start would be refused', async () => {
    w = await startWaveHarness(2)
    for (const m of w.machines) w.members.set(m.id, { health: health(2, 2) })
    const d = await unchangedBy(() => start({ dryRun: true }))
    expect(d.status).toBe(200)
    expect(d.json).toMatchObject({ dryRun: true, refused: true, refusal: expect.stringMatching(/can never finish/) })
    expect(d.json.never.map((n: { fix: string; nodes: string[] }) => [n.fix.split(' (')[0], n.nodes.length])).toEqual([
      ['ceph osd pool set rbd min_size 1', 2],
      ['ceph osd pool set device_health_metrics min_size 1', 2],
    ])
    expect(d.json.nodes[0].reasons).toContainEqual(expect.stringMatching(/^can never stop: pool rbd has min_size 2/))
    w.members.set(w.machines[0]!.id, { health: health(2, 2, false, ['ceph: Ceph says stopping osd.0 is not safe: 17 PGs would become inactive']) })
    const d2 = await start({ dryRun: true })
    expect(d2.json.nodes[0]).toMatchObject({ gate: 'fail', reasons: expect.arrayContaining(['pre-reboot gate: ceph: Ceph says stopping osd.0 is not safe: 17 PGs would become inactive']) })
  })

  it('size 2 / min_size 1 starts; agents that publish no stop facts are not judged (listed as unknown)', async () => {
    w = await startWaveHarness(3)
    const [a, b] = w.machines
    w.members.set(a!.id, { health: health(2, 1) })
    w.members.set(b!.id, { health: health(2, 1) })
    const d = await start({ dryRun: true })
    expect(d.json).toMatchObject({ refused: false, never: [], unknown: [w.machines[2]!.id] })
    expect((await start({})).status).toBe(201)
  })

  it('--force starts it anyway; the status names the cause that never clears, per node and for the wave', async () => {
    w = await startWaveHarness(2)
    for (const m of w.machines) w.members.set(m.id, { health: health(3, 2, false, ['ceph: 8 PGs would become inactive']) })
    const r = await start({ force: true })
    expect(r.status).toBe(201)
    expect(r.json.forced).toBe(true)
    const ids = w.machines.map((m) => m.id)
    expect(r.json.never).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/^pool rbd wants 3 replicas on distinct hosts but the CRUSH map has 2/), nodes: ids }),
      expect.objectContaining({ message: expect.stringMatching(/^pool device_health_metrics wants 3 replicas/), nodes: ids }),
    ])
    const n = r.json.nodes[0]
    expect(n.state).toBe('waiting')
    expect(n.blocked).toContainEqual(expect.objectContaining({ code: 'never', permanent: true, fix: expect.stringMatching(/add a host with OSDs \(2 -> 3\)/) }))
    expect(r.json.blocked).toMatchObject({ never: 2 })
  })
})

describe('a waiting node says why it waits', () => {
  it('its gate in its own words, the budget with the numbers, the hold; and the metric counts them', async () => {
    w = await startWaveHarness(3)
    const [a, b, c] = w.machines.map((m) => m.id) as [string, string, string]
    w.members.set(a, { health: health(3, 2, false, ['ceph: another host is already down: osd.1 on node-b (wait for it to come back)']) })
    w.members.set(b, { health: health(3, 2) })
    w.members.set(c, { health: health(3, 2) })
    // Three domains: no cause that never clears.
    for (const id of [a, b, c]) w.members.set(id, { health: { ...w.members.members.get(id)!.record!.health, stop: { pools: [{ name: 'rbd', size: 3, min: 2 }], domains: 3 } } })
    const s = (await start({ maxUnavailable: 1 })).json
    const blocked = (id: string) => s.nodes.find((n: { node: string }) => n.node === id).blocked
    expect(blocked(a)).toEqual([{ code: 'gate', message: 'pre-reboot gate: ceph: another host is already down: osd.1 on node-b (wait for it to come back)', permanent: false }])
    expect(blocked(b)).toBeUndefined()

    // b goes down for some other reason: K=1 is used up, a and c say so with the numbers.
    w.members.set(b, { phase: 'rebooting' })
    const s2 = (await w.admin('/v1/waves/w1')).json
    const b2 = (id: string) => s2.nodes.find((n: { node: string }) => n.node === id).blocked
    expect(b2(c)).toEqual([{ code: 'budget', message: `budget: K=1, 1 unavailable now (${b} rebooting)`, permanent: false }])
    expect(b2(a).map((x: { code: string }) => x.code)).toEqual(['budget', 'gate'])
    expect(s2.blocked).toMatchObject({ budget: 2, gate: 0, never: 0 })

    const metrics = await (await fetch(`${w.h.url}/metrics`)).text()
    expect(metrics).toMatch(/shoal_wave_blocked_nodes\{reason="budget"\} 2/)
    expect(metrics).toMatch(/shoal_wave_blocked_nodes\{reason="never"\} 0/)
    expect(metrics).toMatch(/shoal_wave_halted 0/)

    // Paused: the hold comes first.
    await w.admin('/v1/waves/w1/pause', {})
    const s3 = (await w.admin('/v1/waves/w1')).json
    expect(s3.nodes.find((n: { node: string }) => n.node === c).blocked[0]).toEqual({ code: 'hold', message: 'hold: wave w1 is paused', permanent: false })
  })
})

describe('the stall halt, on the injected clock', () => {
  it('nothing moves for the stall timeout: halted with the reason; the mesh is told to hold; resume starts the clock again', async () => {
    w = await startWaveHarness(2)
    for (const m of w.machines) w.members.set(m.id, { health: health(2, 1, false, ['kube: drain would block on 1 pod(s): db/db-0: PodDisruptionBudget db allows no more disruptions']) })
    const svc = w.h.coordinator.waves.service
    expect((await start({ stallTimeoutMs: 30 * MIN })).status).toBe(201)
    await svc.tick()
    w.h.clock.advance(29 * MIN)
    await svc.tick()
    expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ state: 'running', held: false })
    w.h.clock.advance(2 * MIN)
    await svc.tick()
    const s = (await w.admin('/v1/waves/w1')).json
    expect(s.state).toBe('halted')
    expect(s.held).toBe(true)
    expect(s.reason).toMatch(/^halted: nothing moved for 31 min \(stall timeout 30 min\)/)
    expect(s.reason).toMatch(/PodDisruptionBudget db allows no more disruptions/)
    // The agents hold new requests and votes, as for a pause.
    expect(w.link.lastControl()).toMatchObject({ wave: 'w1', state: 'paused' })
    expect(await (await fetch(`${w.h.url}/metrics`)).text()).toMatch(/shoal_wave_halted 1/)
    // Each waiting node names the halt first (briefly), then its own reasons.
    expect(s.nodes[0].blocked.map((b: { message: string }) => b.message)).toEqual([
      'hold: halted: nothing moved for 31 min (stall timeout 30 min)',
      'pre-reboot gate: kube: drain would block on 1 pod(s): db/db-0: PodDisruptionBudget db allows no more disruptions',
    ])

    const r = await w.admin('/v1/waves/w1/resume', {})
    expect(r.json).toMatchObject({ state: 'running', held: false })
    expect(w.link.lastControl()).toMatchObject({ state: 'running' })
    w.h.clock.advance(10 * MIN)
    await svc.tick()
    expect((await w.admin('/v1/waves/w1')).json.state).toBe('running')
    // Halted again, then paused and resumed: the resume ends the halt as well.
    w.h.clock.advance(25 * MIN)
    await svc.tick()
    expect((await w.admin('/v1/waves/w1')).json.state).toBe('halted')
    await w.admin('/v1/waves/w1/pause', {})
    expect((await w.admin('/v1/waves/w1/resume', {})).json).toMatchObject({ state: 'running', held: false })
  })

  it('time held back (paused) and a node changing state do not count as a stall', async () => {
    w = await startWaveHarness(2)
    const [a] = w.machines.map((m) => m.id) as [string]
    const svc = w.h.coordinator.waves.service
    await start({ stallTimeoutMs: 30 * MIN })
    await svc.tick()
    await w.admin('/v1/waves/w1/pause', {})
    w.h.clock.advance(45 * MIN)
    await svc.tick()
    await w.admin('/v1/waves/w1/resume', {})
    await svc.tick()
    w.h.clock.advance(20 * MIN)
    await svc.tick()
    expect((await w.admin('/v1/waves/w1')).json.state).toBe('running')
    // A node down for 40 min is the node timeout's to judge, not a stall.
    w.members.set(a, { status: 'dead' })
    await svc.tick()
    w.h.clock.advance(40 * MIN)
    await svc.tick()
    expect((await w.admin('/v1/waves/w1')).json.reason ?? '').not.toMatch(/nothing moved/)
    w.members.set(a, { status: 'alive' })
    await svc.tick()
    // A node moves (drains): progress; 20 more minutes are not a stall either.
    w.members.set(a, { phase: 'draining' })
    await svc.tick()
    w.members.set(a, { phase: 'ready' })
    await svc.tick()
    w.h.clock.advance(20 * MIN)
    await svc.tick()
    expect((await w.admin('/v1/waves/w1')).json.state).toBe('running')
    w.h.clock.advance(11 * MIN)
    await svc.tick()
    expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ state: 'halted', reason: expect.stringMatching(/nothing moved for 31 min/) })
  })
})

const shoal = (...argv: string[]) => shoalAgainst(w, argv)

describe('shoal upgrade start|status: the refusal and the reasons as the operator reads them', () => {
  it('start and --dry-run exit 1 with the explanation; --force starts; status names the cause and the change', async () => {
    w = await startWaveHarness(2)
    for (const m of w.machines) w.members.set(m.id, { health: health(2, 2, false, ['ceph: Ceph says stopping osd.0 is not safe: 17 PGs would become inactive']) })
    const before = await w.h.coordinator.dumpState()
    const refused = await shoal('upgrade', 'start', '--to', 'v2', '--max-unavailable', '1')
    expect(refused.code).toBe(1)
    expect(refused.err).toMatch(/^refused: this wave can never finish/)
    expect(refused.err).toMatch(/fix: ceph osd pool set rbd min_size 1/)
    const dry = await shoal('upgrade', 'start', '--to', 'v2', '--dry-run')
    expect(dry.code).toBe(1)
    expect(dry.out).toMatch(/can never finish: pool rbd has min_size 2 with size 2.*\n  change: ceph osd pool set rbd min_size 1/)
    expect(dry.err).toMatch(/^refused: this wave can never finish/)
    expect(await w.h.coordinator.dumpState()).toEqual(before)
    expect((await shoal('upgrade', 'start', '--to', 'v2', '--dry-run', '--force')).code).toBe(0)

    const forced = await shoal('upgrade', 'start', '--to', 'v2', '--force', '--stall-timeout', '45m')
    expect(forced).toMatchObject({ code: 0, out: expect.stringMatching(/wave w1 started/) })
    const status = await shoal('upgrade', 'status')
    expect(status.out).toMatch(/node-0001\s+waiting.*pre-reboot gate: ceph: Ceph says stopping osd.0 is not safe: 17 PGs would become inactive; can never stop \(below\)/)
    expect(status.out).toMatch(/waiting nodes by reason: never 2/)
    expect(status.out).toMatch(/cannot clear by itself: pool rbd has min_size 2 with size 2.*\(node-0001, node-0002\)\n  change: ceph osd pool set rbd min_size 1/)
    expect(JSON.parse((await shoal('upgrade', 'status', '-o', 'json')).out)).toMatchObject({ stallTimeoutMs: 45 * MIN, forced: true })
    expect(await shoal('upgrade', 'start', '--to', 'v2', '--stall-timeout', 'soon')).toMatchObject({ code: 2, err: expect.stringMatching(/--stall-timeout must look like 90s, 30m or 2h/) })
  })
})
