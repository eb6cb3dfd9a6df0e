/**
 * Waves on a real coordinator (HTTP on loopback, level on disk), its VoteNode driven with
 * vote messages signed by the enrolled machines' own keys, and its mesh view set by the
 * test: validation, status, pause/resume/abort, dry run, rollback, force-release, the
 * lease-proof check of /v1/assign, and a restart mid-wave that grants no slot twice.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeVoteMessage } from '../agent/protocol/vote/vote-codec.js'
import { signingBytes, VOTE_TOPIC, type WaveMsg } from '../agent/protocol/vote/vote-messages.js'
import { ed25519Keyring } from '../agent/protocol/ed25519.js'
import { postJson } from '../coordinator/testing.js'
import { startWaveHarness, type WaveHarness } from '../coordinator/waves/wave-testing.js'

let w: WaveHarness | undefined
afterEach(async () => {
  await w?.close()
  w = undefined
})

const start = (body: Record<string, unknown>) => w!.admin('/v1/waves', { target: 'v2', ...body })

async function unchangedBy<T>(fn: () => Promise<T>): Promise<T> {
  const before = await w!.h.coordinator.dumpState()
  const out = await fn()
  expect(await w!.h.coordinator.dumpState()).toEqual(before)
  return out
}

describe('waves: create and validate', () => {
  it('refuses a bad wave with a clear error and changes nothing', async () => {
    w = await startWaveHarness(3)
    await unchangedBy(async () => {
      const unknown = await start({ target: 'v9' })
      expect(unknown.status).toBe(400)
      expect(unknown.json.error.message).toMatch(/no image version "v9".*have: v1, v2/)
      const k0 = await start({ maxUnavailable: 0 })
      expect(k0.status).toBe(400)
      expect(k0.json.error.message).toMatch(/maxUnavailable must be at least 1/)
      const key = await start({ failureDomain: 'rack' })
      expect(key.status).toBe(400)
      expect(key.json.error.message).toMatch(/unknown failure-domain key "rack".*domain, none/)
      const junk = await w!.admin('/v1/waves', { target: 'v2', bogus: 1 })
      expect(junk.status).toBe(400)
      const noToken = await postJson(`${w!.h.url}/v1/waves`, { target: 'v2' })
      expect(noToken.status).toBe(401)
      expect(w!.link.sent).toHaveLength(0)
    })
  })

  it('creates a wave: roster fixed and signed by the coordinator key on the roster, every node waiting; a second wave is refused', async () => {
    w = await startWaveHarness(3)
    const r = await start({ maxUnavailable: 1 })
    expect(r.status).toBe(201)
    expect(r.json).toMatchObject({ id: 'w1', target: 'v2', previous: 'v1', state: 'running', maxUnavailable: 1, failureDomain: 'domain', progress: { total: 3, waiting: 3, done: 0 } })
    expect(r.json.nodes.map((n: { node: string; state: string }) => [n.node, n.state])).toEqual(w.machines.map((m) => [m.id, 'waiting']))

    // The wave went into the mesh, signed by the key the roster lists for `coordinator`.
    const roster = await (await fetch(`${w.h.url}/v1/roster`)).json()
    const coord = roster.members.find((m: { id: string }) => m.id === 'coordinator')
    expect(coord.key).toBe(w.h.coordinator.waves.identity.publicKey)
    const waveMsg = w.link.votes().find((v) => v.msg.k === 'wave')!.msg as WaveMsg
    expect(waveMsg).toMatchObject({ id: 'w1', target: 'v2', slots: 1, policy: 'one-at-a-time', coord: { id: 'coordinator', key: coord.key } })
    expect(waveMsg.roster.map((e) => e.id)).toEqual(w.machines.map((m) => m.id))
    const { sig, ...unsigned } = waveMsg
    expect(ed25519Keyring(new Uint8Array(32)).verify(coord.key, signingBytes(unsigned), sig)).toBe(true)
    expect(w.link.lastControl()).toMatchObject({ wave: 'w1', state: 'running' })

    // Nodes without an assignment were pinned to what they run: only a lease moves them.
    const nodes = (await w.admin('/v1/admin/nodes')).json.nodes
    expect(nodes.map((n: { assignedImage: string }) => n.assignedImage)).toEqual(['v1', 'v1', 'v1'])

    const second = await unchangedBy(() => start({ target: 'v1' }))
    expect(second.status).toBe(409)
    expect(second.json.error.message).toMatch(/wave w1 .* is running; only one wave runs at a time/)

    const list = await w.admin('/v1/waves')
    expect(list.json.waves.map((x: { id: string }) => x.id)).toEqual(['w1'])
    expect((await w.admin('/v1/waves/current')).json.id).toBe('w1')
    expect((await w.admin('/v1/waves/w7')).status).toBe(404)
  })

  it('dry run: the ranking order and each node gate, nothing changed', async () => {
    w = await startWaveHarness(3, { domains: ['rack-b', 'rack-a', 'rack-a'] })
    const [a, b, c] = w.machines.map((m) => m.id) as [string, string, string]
    w.members.set(b, { work: { pods: 9, load: 1 } })
    w.members.set(c, { work: { pods: 2, load: 1 } })
    w.members.set(a, { health: { status: 'critical', conditions: [{ id: 'osd-down', severity: 'critical', since: 0, message: 'osd.0 down', source: 'ceph' }] } })
    const r = await unchangedBy(() => start({ maxUnavailable: 2, dryRun: true }))
    expect(r.status).toBe(200)
    expect(r.json.order).toEqual([c, b]) // same domain; fewer pods first; the critical node is not a candidate now
    const gates = Object.fromEntries(r.json.nodes.map((n: { node: string; gate: string; reasons: string[] }) => [n.node, [n.gate, n.reasons]]))
    expect(gates[a]).toEqual(['fail', ['osd-down: osd.0 down']])
    expect(gates[b]).toEqual(['pass', []])
    expect(w.link.sent).toHaveLength(0)
    expect((await w.admin('/v1/waves')).json.waves).toEqual([])
  })
})

describe('waves: pause, resume, abort, rollback', () => {
  it('moves through its states, refuses what does not apply, and tells the mesh', async () => {
    w = await startWaveHarness(2)
    await start({})
    const p = await w.admin('/v1/waves/w1/pause', {})
    expect(p.json).toMatchObject({ state: 'paused', held: true })
    expect(w.link.lastControl()).toMatchObject({ wave: 'w1', state: 'paused' })

    // Paused: the coordinator refuses its tie-break vote.
    const [a] = w.machines
    w.link.clear()
    await w.deliver(a!, { k: 'req', wave: 'w1', slot: 0, term: 1, cand: a!.id })
    expect(w.link.votes().map((v) => [v.to, v.msg.k, 'reason' in v.msg ? v.msg.reason : undefined])).toEqual([[a!.id, 'nack', 'gate']])

    expect((await unchangedBy(() => w!.admin('/v1/waves/w1/pause', {}))).status).toBe(409)
    expect((await w.admin('/v1/waves/w1/resume', {})).json).toMatchObject({ state: 'running' })
    expect(w.link.lastControl()).toMatchObject({ state: 'running' })
    expect((await unchangedBy(() => w!.admin('/v1/waves/w1/resume', {}))).status).toBe(409)
    expect((await w.admin('/v1/waves/w1/abort', {})).json).toMatchObject({ state: 'aborted', reason: expect.stringMatching(/aborted by admin/) })
    expect(w.link.lastControl()).toMatchObject({ state: 'aborted' })
    for (const op of ['pause', 'resume', 'abort']) {
      const r = await unchangedBy(() => w!.admin(`/v1/waves/w1/${op}`, {}))
      expect(r.status).toBe(409)
      expect(r.json.error.message).toMatch(/aborted/)
    }
    // A new wave may start once the old one is over.
    expect((await start({})).json.id).toBe('w2')
    const audit = (await w.admin('/v1/admin/audit?kind=wave')).json.entries.map((e: { detail: { op: string } }) => e.detail.op)
    expect(audit).toEqual(['start', 'paused', 'running', 'aborted', 'start'])
  })

  it('a finished wave cannot be paused; rollback starts a wave back to the previous version', async () => {
    w = await startWaveHarness(2)
    await start({ maxUnavailable: 2 })
    for (const m of w.machines) w.members.set(m.id, { image: 'v2' })
    await w.h.coordinator.waves.service.tick()
    const done = await w.admin('/v1/waves/w1')
    expect(done.json).toMatchObject({ state: 'done', progress: { done: 2, total: 2 } })
    expect(done.json.nodes.every((n: { doneAt?: number }) => typeof n.doneAt === 'number')).toBe(true)
    const pause = await unchangedBy(() => w!.admin('/v1/waves/w1/pause', {}))
    expect(pause.status).toBe(409)
    expect(pause.json.error.message).toMatch(/wave w1 is done/)

    const rb = await w.admin('/v1/waves/w1/rollback', {})
    expect(rb.status).toBe(201)
    expect(rb.json).toMatchObject({ id: 'w2', target: 'v1', rollbackOf: 'w1', state: 'running', maxUnavailable: 2 })
    const waves = w.link.votes().filter((v) => v.msg.k === 'wave').map((v) => v.msg as WaveMsg)
    expect(waves.map((m) => m.id)).toEqual(['w1', 'w2'])
    expect(waves[1]!.startedAt).toBeGreaterThan(waves[0]!.startedAt) // agents replace w1 by w2
  })
})

describe('waves: the next wave', () => {
  it('a wave whose last node just finished is done at once for the next one (status said done; start must agree)', async () => {
    w = await startWaveHarness(2)
    await start({ maxUnavailable: 2 })
    for (const m of w.machines) w.members.set(m.id, { image: 'v2' })
    // No tick in between: the status derives done, and a new wave is not refused for a "running" one.
    expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ state: 'done' })
    const next = await start({ target: 'v1' })
    expect(next.status, JSON.stringify(next.json)).toBe(201)
    expect(next.json).toMatchObject({ id: 'w2', target: 'v1', state: 'running' })
    expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ state: 'done' })
  })
})

describe('waves: halting by itself', () => {
  it('halts on a failed node or one past the node timeout, names it and why; resume writes the failed node off', async () => {
    w = await startWaveHarness(3)
    await start({ nodeTimeoutMs: 60_000 })
    const [a, b] = w.machines as [NonNullable<WaveHarness['machines'][0]>, NonNullable<WaveHarness['machines'][0]>]
    await w.deliver(a, { k: 'grant', wave: 'w1', slot: 0, term: 1, holder: a.id, votes: 2 })
    w.members.set(a.id, { phase: 'rebooting' })
    expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ state: 'running', held: false })
    w.h.clock.advance(61_000)
    const overdue = (await w.admin('/v1/waves/w1')).json
    expect(overdue).toMatchObject({ state: 'halted', held: true, reason: expect.stringMatching(new RegExp(`node ${a.id} has been rebooting for 61 s, past the wave's node timeout of 60 s`)) })
    // It came back on the target and released: the halt lifts by itself.
    w.members.set(a.id, { phase: 'ready', image: 'v2' })
    await w.deliver(a, { k: 'rel', wave: 'w1', slot: 0, term: 1, holder: a.id })
    expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ state: 'running', held: false })

    const cond = { id: 'drain-deadline', severity: 'critical' as const, since: 0, message: 'pod db-0 blocks the drain', source: 'executor' }
    w.members.set(b.id, { phase: 'failed', health: { status: 'critical', conditions: [cond] } })
    const failed = (await w.admin('/v1/waves/w1')).json
    expect(failed).toMatchObject({ state: 'halted', reason: expect.stringMatching(new RegExp(`node ${b.id} failed`)), progress: { failed: 1, done: 1 } })
    expect(failed.nodes.find((n: { node: string }) => n.node === b.id)).toMatchObject({ state: 'failed', reason: 'drain-deadline: pod db-0 blocks the drain' })
    // Paused/resumed is not the answer to a halt; resume of a halted wave retires the failed node.
    const resumed = await w.admin('/v1/waves/w1/resume', {})
    expect(resumed.json).toMatchObject({ state: 'running' })
    expect(w.link.votes().some((v) => v.msg.k === 'retire' && v.msg.node === b.id)).toBe(true)
    expect(resumed.json.nodes.find((n: { node: string }) => n.node === b.id)).toMatchObject({ state: 'failed' })
    // The others finish: the wave is done without the written-off node.
    w.members.set(w.machines[2]!.id, { image: 'v2' })
    await w.h.coordinator.waves.service.tick()
    expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ state: 'done', progress: { done: 2, failed: 1 } })
  })
})

describe('waves: windows and alerts hold new slots back without failing the wave', () => {
  it('outside the window: held, and the coordinator refuses its tie-break', async () => {
    w = await startWaveHarness(2)
    // The test clock reads 00:00 UTC.
    expect((await start({ window: '12:00-13:00' })).json).toMatchObject({ state: 'running', held: true, reason: expect.stringContaining('outside the maintenance window') })
    expect(w.link.lastControl()).toMatchObject({ window: { fromMinute: 720, toMinute: 780 } })
    const a = w.machines[0]!
    await w.deliver(a, { k: 'req', wave: 'w1', slot: 0, term: 1, cand: a.id })
    expect(w.link.votes().filter((v) => v.to === a.id).map((v) => (v.msg.k === 'nack' ? v.msg.reason : v.msg.k))).toEqual(['gate'])
    w.h.clock.advance(12 * 3_600_000)
    expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ state: 'running', held: false })
  })

  it('firing alerts at the alert source hold; an unreadable source holds too (fail closed)', async () => {
    let alerts: unknown[] = [{ labels: { alertname: 'CephHealthWarn' }, status: { state: 'active' } }]
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/api/v2/alerts')) return void res.end(JSON.stringify(alerts))
      res.statusCode = 404
      res.end()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    try {
      w = await startWaveHarness(2)
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      await start({ alertSource: url })
      const svc = w.h.coordinator.waves.service
      await svc.pollAlerts()
      expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ state: 'running', held: true, reason: 'alerts firing: CephHealthWarn' })
      expect(w.link.lastControl()).toMatchObject({ alerts: ['CephHealthWarn'] })
      alerts = []
      await svc.pollAlerts()
      expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ held: false })
      alerts = 'not a list' as unknown as unknown[]
      server.close()
      server.closeAllConnections()
      await svc.pollAlerts()
      expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ held: true, reason: expect.stringMatching(/alerts firing: alert source unreachable/) })
    } finally {
      server.close()
    }
  })
})

describe('waves: alert matchers choose which alerts hold', () => {
  it('Watchdog never holds; with matchers only a matching alert holds; a bad matcher is refused', async () => {
    let alerts: unknown[] = [{ labels: { alertname: 'Watchdog', severity: 'none' }, status: { state: 'active' } }]
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/api/v2/alerts')) return void res.end(JSON.stringify(alerts))
      res.statusCode = 404
      res.end()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    try {
      w = await startWaveHarness(2)
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const bad = await unchangedBy(() => start({ alertSource: url, alertMatchers: ['alertname=~"Ceph(("'] }))
      expect(bad.status).toBe(400)
      expect(bad.json.error.message).toMatch(/bad regular expression for alertname/)
      await start({ alertSource: url, alertMatchers: ['{alertname=~"Ceph.*",severity="critical"}'] })
      const svc = w.h.coordinator.waves.service
      await svc.pollAlerts()
      expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ state: 'running', held: false })
      alerts = [...alerts, { labels: { alertname: 'CephHealthWarning', severity: 'warning' }, status: { state: 'active' } }]
      await svc.pollAlerts()
      expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ held: false })
      alerts = [...alerts, { labels: { alertname: 'CephHealthError', severity: 'critical' }, status: { state: 'active' } }]
      await svc.pollAlerts()
      expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ held: true, reason: 'alerts firing: CephHealthError' })
      expect(w.link.lastControl()).toMatchObject({ alerts: ['CephHealthError'] })
    } finally {
      server.close()
    }
  })
})

describe('waves: /v1/assign needs a lease proof', () => {
  it('refuses (audited) without a grant, with a bad signature or a wrong term; accepts the holder and its boot script boots the target', async () => {
    w = await startWaveHarness(3)
    await start({})
    const [a, b] = w.machines as [NonNullable<WaveHarness['machines'][0]>, NonNullable<WaveHarness['machines'][0]>]
    const assign = (body: unknown) => postJson(`${w!.h.url}/v1/assign`, body)

    const noGrant = await assign(w.assignBody(a, 'w1', 0, 1))
    expect(noGrant.status).toBe(403)
    expect(noGrant.json.error).toMatchObject({ code: 'no-lease', message: expect.stringMatching(/does not see node-0001 holding slot 0 at term 1/) })

    // node-0001 wins slot 0 at term 1 and says so (signed by its own key).
    await w.deliver(a, { k: 'grant', wave: 'w1', slot: 0, term: 1, holder: a.id, votes: 2 })
    const forged = { ...w.assignBody(a, 'w1', 0, 1), sig: w.assignBody(b, 'w1', 0, 1).sig }
    expect((await assign(forged)).json.error.code).toBe('bad-signature')
    expect((await assign(w.assignBody(b, 'w1', 0, 1))).json.error.code).toBe('no-lease') // b holds nothing
    expect((await assign(w.assignBody(a, 'w1', 0, 2))).json.error.code).toBe('no-lease') // wrong term
    expect((await assign(w.assignBody(a, 'w9', 0, 1))).json.error.code).toBe('unknown-wave')
    expect((await assign({ node: a.id })).status).toBe(400)
    expect((await w.admin('/v1/admin/nodes')).json.nodes.map((n: { assignedImage: string }) => n.assignedImage)).toEqual(['v1', 'v1', 'v1'])

    const ok = await assign(w.assignBody(a, 'w1', 0, 1))
    expect(ok.status).toBe(200)
    expect(ok.json).toEqual({ node: a.id, image: 'v2', wave: 'w1', slot: 0, term: 1 })
    const script = await (await fetch(`${w.h.url}/boot/ipxe?mac=${a.mac}`)).text()
    expect(script).toContain('shoal.image=v2')
    expect(await (await fetch(`${w.h.url}/boot/ipxe?mac=${b.mac}`)).text()).toContain('shoal.image=v1')

    const audit = (await w.admin('/v1/admin/audit?kind=boot-assign')).json.entries
    expect(audit.map((e: { node: string; detail: { refused?: string } }) => [e.node, e.detail.refused ?? 'granted'])).toEqual([
      [a.id, 'no-lease'],
      [a.id, 'bad-signature'],
      [b.id, 'no-lease'],
      // a's second no-lease within the minute is counted, not written (a flood cannot evict the log)
      [a.id, 'unknown-wave'],
      [a.id, 'granted'],
    ])
    const st = await w.admin('/v1/waves/w1')
    expect(st.json.nodes.find((n: { node: string }) => n.node === a.id)).toMatchObject({ state: 'holding', slot: 0, term: 1, assignedAt: expect.any(Number) })
  })

  it('force-release takes the slot away (audited): the old term no longer proves anything', async () => {
    w = await startWaveHarness(3)
    await start({})
    const a = w.machines[0]!
    await w.deliver(a, { k: 'grant', wave: 'w1', slot: 0, term: 1, holder: a.id, votes: 2 })
    expect((await w.admin('/v1/waves/w1/force-release', { node: w.machines[1]!.id })).status).toBe(404)
    const fr = await w.admin('/v1/waves/w1/force-release', { node: a.id })
    expect(fr.json).toEqual({ wave: 'w1', node: a.id, slot: 0, term: 1 })
    expect(w.link.votes().some((v) => v.msg.k === 'force' && v.msg.slot === 0 && v.msg.term === 1)).toBe(true)
    const r = await postJson(`${w.h.url}/v1/assign`, w.assignBody(a, 'w1', 0, 1))
    expect(r.status).toBe(403)
    expect((await w.admin('/v1/admin/audit?kind=lease')).json.entries[0]).toMatchObject({ node: a.id, detail: { op: 'force-release', slot: 0, term: 1 } })
  })
})

describe('waves: coordinator restart mid-wave', () => {
  it('keeps the wave and its promises: the tie-break vote is never given twice', async () => {
    // Two nodes: a quorum is one node plus the coordinator, so its vote decides.
    w = await startWaveHarness(2)
    await start({})
    const [a, b] = w.machines as [NonNullable<WaveHarness['machines'][0]>, NonNullable<WaveHarness['machines'][0]>]
    await w.deliver(a, { k: 'req', wave: 'w1', slot: 0, term: 1, cand: a.id })
    expect(w.link.votes().filter((v) => v.to === a.id).map((v) => v.msg.k)).toEqual(['vote'])

    w.link.clear()
    await w.h.restart()
    expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ id: 'w1', state: 'running', target: 'v2' })
    // The restarted coordinator re-announces the same signed wave (agents count it a duplicate).
    const again = w.link.votes().filter((v) => v.msg.k === 'wave')
    expect(again.map((v) => (v.msg as WaveMsg).id)).toEqual(['w1'])
    expect(w.link.lastControl()).toMatchObject({ wave: 'w1', state: 'running' })

    w.link.clear()
    await w.deliver(b, { k: 'req', wave: 'w1', slot: 0, term: 1, cand: b.id })
    await w.deliver(b, { k: 'req', wave: 'w1', slot: 0, term: 2, cand: b.id })
    const answers = w.link.votes().filter((v) => v.to === b.id).map((v) => [v.msg.k, 'reason' in v.msg ? v.msg.reason : undefined])
    expect(answers).toEqual([
      ['nack', 'voted'],
      ['nack', 'promised'],
    ])

    // a's grant reaches the restarted coordinator; its boot assignment is accepted.
    await w.deliver(a, { k: 'grant', wave: 'w1', slot: 0, term: 1, holder: a.id, votes: 1 })
    expect((await postJson(`${w.h.url}/v1/assign`, w.assignBody(a, 'w1', 0, 1))).status).toBe(200)
    await w.h.restart()
    const st = await w.admin('/v1/waves/w1')
    expect(st.json.nodes.map((n: { node: string; state: string }) => [n.node, n.state])).toEqual([
      [a.id, 'holding'],
      [b.id, 'waiting'],
    ])
    // Released after its gate: the slot is free for b, and the coordinator votes for b at a new term.
    await w.deliver(a, { k: 'rel', wave: 'w1', slot: 0, term: 1, holder: a.id })
    w.members.set(a.id, { image: 'v2' })
    w.link.clear()
    await w.deliver(b, { k: 'req', wave: 'w1', slot: 0, term: 2, cand: b.id })
    expect(w.link.votes().filter((v) => v.to === b.id).map((v) => v.msg.k)).toEqual(['vote'])
  })

  it('drops bad vote bytes and counts them', async () => {
    w = await startWaveHarness(1)
    await start({})
    const svc = w.h.coordinator.waves.service
    await svc.deliverVote('x', new Uint8Array([0xc1, 0xff]))
    await svc.deliverVote('x', new Uint8Array([0x80]))
    expect(svc.counters).toMatchObject({ 'dropped.malformed': 1, 'dropped.schema': 1 })
    expect(decodeVoteMessage(w.link.sent.find((s) => s.topic === VOTE_TOPIC)!.body).ok).toBe(true)
  })
})

describe("waves: a site's schedule (windows with days and zones, --at, settle)", () => {
  it('holds new slots until the start time and outside the windows, and restarts into the same schedule', async () => {
    w = await startWaveHarness(2)
    w.h.clock.set(Date.parse('2026-12-04T18:00Z')) // a Friday, 19:00 in Berlin
    const bad = await unchangedBy(() => start({ windows: ['Mon-Fri 22:00-06:00 Mars/Olympus'] }))
    expect(bad.status).toBe(400)
    expect(JSON.stringify(bad.json)).toMatch(/not a time zone/)
    expect((await unchangedBy(() => start({ at: 'tomorrowish' }))).status).toBe(400)

    const r = await start({ windows: ['Mon-Fri 22:00-06:00 Europe/Berlin', 'Sat 08:00-12:00 Europe/Berlin'], at: '20:00 Europe/Berlin', settleMs: 120_000 })
    expect(r.status).toBe(201)
    const startAt = Date.parse('2026-12-04T19:00Z')
    expect(r.json).toMatchObject({ windows: ['Mon-Fri 22:00-06:00 Europe/Berlin', 'Sat 08:00-12:00 Europe/Berlin'], startAt, settleMs: 120_000 })
    const sched = {
      windows: [
        { days: [1, 2, 3, 4, 5], from: 1320, to: 360, tz: 'Europe/Berlin' },
        { days: [6], from: 480, to: 720, tz: 'Europe/Berlin' },
      ],
      notBefore: startAt,
      settleMs: 120_000,
    }
    // Agents judge by the schedule; an older agent by the legacy window, closed before the start.
    expect(w.link.lastControl()).toMatchObject({ wave: 'w1', state: 'running', sched, window: { fromMinute: 0, toMinute: 0 } })
    const [a] = w.machines as [WaveHarness['machines'][number]]
    const answer = async (term: number) => {
      w!.link.clear()
      await w!.deliver(a, { k: 'req', wave: 'w1', slot: 0, term, cand: a.id })
      return w!.link.votes().filter((v) => v.to === a.id).map((v) => [v.msg.k, 'reason' in v.msg ? v.msg.reason : undefined])[0]
    }
    expect(await answer(1)).toEqual(['nack', 'gate'])
    expect((await w.admin('/v1/waves/w1')).json.reason).toMatch(/scheduled: starts at 2026-12-04T19:00:00.000Z \(in 1 h 0 min\)/)

    // Restarted, the coordinator holds by the same schedule it stored.
    w.h.clock.set(Date.parse('2026-12-04T20:00Z')) // started, but the window opens at 21:00Z
    await w.h.restart()
    expect(w.link.lastControl()).toMatchObject({ wave: 'w1', sched })
    const st = (await w.admin('/v1/waves/w1')).json
    expect(st).toMatchObject({ windows: ['Mon-Fri 22:00-06:00 Europe/Berlin', 'Sat 08:00-12:00 Europe/Berlin'], startAt, settleMs: 120_000 })
    expect(st.reason).toMatch(/outside the maintenance windows .* \(opens in 1 h 0 min\)/)
    expect(await answer(2)).toEqual(['nack', 'gate'])

    // Inside the window: the legacy window follows (re-signed on the tick) and the coordinator votes.
    w.h.clock.set(Date.parse('2026-12-04T21:30Z'))
    await w.h.coordinator.waves.service.tick()
    expect(w.link.lastControl()).toMatchObject({ window: { fromMinute: 21 * 60, toMinute: 5 * 60 }, sched })
    expect(await answer(3)).toEqual(['vote', undefined])
  })
})

describe('waves: a node selector and a canary', () => {
  it('takes only the selected nodes; the canary goes first, then the wave pauses until the operator resumes', async () => {
    w = await startWaveHarness(4, { domains: ['rack-a', 'rack-a', 'rack-a', 'rack-b'] })
    const [a, b, c, d] = w.machines as [WaveHarness['machines'][number], WaveHarness['machines'][number], WaveHarness['machines'][number], WaveHarness['machines'][number]]
    expect((await unchangedBy(() => start({ selector: 'rack=a' }))).json.error.message).toMatch(/selector key "rack" is unknown; keys: id, domain/)
    expect((await unchangedBy(() => start({ selector: 'domain=rack-z' }))).json.error.message).toMatch(/matches none of the 4 enrolled node/)
    // Ranking: c has the fewest pods in rack-a; the canary is c.
    w.members.set(a.id, { work: { pods: 9, load: 0 } })
    w.members.set(b.id, { work: { pods: 5, load: 0 } })
    w.members.set(c.id, { work: { pods: 1, load: 0 } })
    const r = await start({ selector: 'domain=rack-a', canary: 1, maxUnavailable: 2 })
    expect(r.status).toBe(201)
    expect(r.json.nodes.map((n: { node: string }) => n.node)).toEqual([a.id, b.id, c.id])
    expect(r.json).toMatchObject({ selector: 'domain=rack-a', canary: { nodes: [c.id], passed: false } })
    expect(w.link.lastControl()).toMatchObject({ sched: { only: [c.id] } })
    const answer = async (m: typeof a, term: number, slot = 0) => {
      w!.link.clear()
      await w!.deliver(m, { k: 'req', wave: 'w1', slot, term, cand: m.id })
      return w!.link.votes().filter((v) => v.to === m.id).map((v) => [v.msg.k, 'reason' in v.msg ? v.msg.reason : undefined])[0]
    }
    // Only the canary gets the coordinator's vote; a selected node after it and an unselected one do not.
    expect(await answer(d, 1)).toEqual(['nack', 'gate'])
    expect(await answer(b, 2)).toEqual(['nack', 'gate'])
    expect(await answer(c, 3)).toEqual(['vote', undefined])
    await w.deliver(c, { k: 'grant', wave: 'w1', slot: 0, term: 3, holder: c.id, votes: 2 })
    await w.deliver(c, { k: 'rel', wave: 'w1', slot: 0, term: 3, holder: c.id })
    w.members.set(c.id, { image: 'v2' })
    await w.h.coordinator.waves.service.tick()
    const paused = (await w.admin('/v1/waves/w1')).json
    expect(paused).toMatchObject({ state: 'paused', canary: { nodes: [c.id], passed: true } })
    expect(paused.reason).toContain(`canary: 1 node(s) on v2 (${c.id}); check them, then: shoal upgrade resume w1`)
    expect(await answer(b, 4)).toEqual(['nack', 'gate'])
    // Resumed: every selected node may go; d (rack-b) never, and the wave is done without it.
    expect((await w.admin('/v1/waves/w1/resume', {})).json).toMatchObject({ state: 'running' })
    expect(w.link.lastControl()).toMatchObject({ state: 'running', sched: { only: [a.id, b.id, c.id] } })
    expect(await answer(b, 5)).toEqual(['vote', undefined])
    expect(await answer(d, 1, 1)).toEqual(['nack', 'gate'])
    w.members.set(a.id, { image: 'v2' })
    w.members.set(b.id, { image: 'v2' })
    await w.h.coordinator.waves.service.tick()
    expect((await w.admin('/v1/waves/w1')).json).toMatchObject({ state: 'done', progress: { total: 3, done: 3 } })
  })
})
