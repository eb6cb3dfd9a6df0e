/**
 * Enrollment over real HTTP: a booting worker takes the token from its boot script and
 * gets a certificate and the roster; every way a token can be wrong is a 403 with its
 * reason and leaves the stored state byte-for-byte unchanged. Time is a stepped clock.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { EnrollPending, EnrollResponse, ErrorBody, verifyCertificate, verifyRoster } from '../agent/protocol/enroll/index.js'
import { parseMeshParam, parseBootParams } from '../agent/protocol/kernel-params/index.js'
import { postJson, startTestCoordinator, testMachine, tokenFromScript, type TestCoordinator } from '../coordinator/testing.js'

let h: TestCoordinator
afterEach(() => h?.close())

async function bootScript(mac: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${h.url}/boot/ipxe?mac=${encodeURIComponent(mac)}`)
  return { status: res.status, text: await res.text() }
}
async function tokenFor(mac: string): Promise<string> {
  const s = await bootScript(mac)
  expect(s.status).toBe(200)
  return tokenFromScript(s.text)
}
const enroll = (body: unknown) => postJson(`${h.url}/v1/enroll`, body)
const admin = (path: string, body?: unknown, token = h.adminToken) =>
  body === undefined
    ? fetch(`${h.url}${path}`, { headers: { authorization: `Bearer ${token}` } }).then(async (r) => ({ status: r.status, json: await r.json() as any }))
    : postJson(`${h.url}${path}`, body, { authorization: `Bearer ${token}` })

/** Asserts that `fn` gets a 403 with `code` and that nothing stored changed. */
async function refusedWithoutChange(fn: () => Promise<{ status: number; json: any }>, code: string): Promise<void> {
  const before = await h.coordinator.dumpState()
  const r = await fn()
  expect(r.status).toBe(403)
  expect(ErrorBody.parse(r.json).error.code).toBe(code)
  expect(r.json.error.message.length).toBeGreaterThan(20)
  expect(await h.coordinator.dumpState()).toEqual(before)
}

describe('boot script', () => {
  it('carries kernel, initramfs and every shoal.* parameter, with a token bound to the MAC', async () => {
    h = await startTestCoordinator()
    const s = await bootScript('52-54-00-AA-BB-01')
    expect(s.status).toBe(200)
    expect(s.text.startsWith('#!ipxe\n')).toBe(true)
    expect(s.text).toContain(`kernel ${h.url}/images/v1/vmlinuz initrd=initramfs.img`)
    expect(s.text).toContain(`initrd ${h.url}/images/v1/initramfs.img`)
    const kernelLine = s.text.split('\n').find((l) => l.startsWith('kernel '))!
    const p = parseBootParams(kernelLine)
    expect(p.ok).toBe(true)
    if (!p.ok) return
    expect(p.params).toMatchObject({ coordinator: h.url, mac: '52:54:00:aa:bb:01', image: 'v1', bootstrap: ['127.0.0.1:49737'], cluster: h.coordinator.state.clusterId, clusterKey: h.coordinator.state.publicKey })
  })

  it('hands every worker the mesh timing its own mesh peer runs (meshTiming), so neither side suspects the other by a clock it does not keep', async () => {
    h = await startTestCoordinator({ config: { meshTiming: 'emulated', dhtPort: 0, dhtHost: '127.0.0.1', bootstrapAdvertise: undefined } })
    const kernelLine = (await bootScript('52:54:00:aa:bb:02')).text.split('\n').find((l) => l.startsWith('kernel '))!
    const workers = parseMeshParam(kernelLine)!
    expect(workers.mesh).toMatchObject({ probeIntervalMs: 2000, probeTimeoutMs: 5000 })
    expect(workers.silentLinkMs).toBe(60_000)
    const peer = h.coordinator.waves.peer!
    expect(peer).toBeDefined()
    expect(peer.meshConfig).toMatchObject(workers.mesh)
    expect(kernelLine.match(/shoal\.mesh=/g)).toHaveLength(1)
  })

  it('the lan timing (default) puts no shoal.mesh= on the command line', async () => {
    h = await startTestCoordinator()
    expect((await bootScript('52:54:00:aa:bb:03')).text).not.toContain('shoal.mesh=')
  })

  it('shoal.mesh= already in kernelArgs is the timing of the coordinator too; with another meshTiming it is refused', async () => {
    h = await startTestCoordinator({ config: { kernelArgs: 'quiet shoal.mesh=probeTimeoutMs:1500', dhtPort: 0, dhtHost: '127.0.0.1', bootstrapAdvertise: undefined } })
    const kernelLine = (await bootScript('52:54:00:aa:bb:04')).text.split('\n').find((l) => l.startsWith('kernel '))!
    expect(kernelLine.match(/shoal\.mesh=/g)).toHaveLength(1)
    expect(h.coordinator.waves.peer!.meshConfig.probeTimeoutMs).toBe(1500)
    await expect(startTestCoordinator({ config: { kernelArgs: 'quiet shoal.mesh=probeTimeoutMs:2000', meshTiming: 'emulated' } })).rejects.toThrow(/meshTiming/)
  })

  it('a bad or missing mac -> 400', async () => {
    h = await startTestCoordinator()
    expect((await bootScript('zz')).status).toBe(400)
    expect((await fetch(`${h.url}/boot/ipxe`)).status).toBe(400)
  })

  it('unknown MAC under "refuse": 403 and no token; after `assign --mac` it boots the assigned image', async () => {
    h = await startTestCoordinator({ config: { unknownMac: 'refuse' }, images: { v1: { vmlinuz: 10, 'initramfs.img': 10 }, v2: { vmlinuz: 10, 'initramfs.img': 10 } } })
    const mac = '52:54:00:aa:bb:02'
    const refused = await bootScript(mac)
    expect(refused.status).toBe(403)
    expect(refused.text).not.toContain('shoal.token')
    expect((await fetch(`${h.url}/v1/join-token?mac=${mac}`)).status).toBe(403)
    expect((await admin('/v1/admin/assign', { mac, image: 'v2' })).status).toBe(200)
    const ok = await bootScript(mac)
    expect(ok.status).toBe(200)
    expect(ok.text).toContain('shoal.image=v2')
  })

  it('unknown MAC under "default": the configured default image', async () => {
    h = await startTestCoordinator({ config: { defaultImage: 'v1' }, images: { v1: { vmlinuz: 10, 'initramfs.img': 10 }, v2: { vmlinuz: 10, 'initramfs.img': 10 } } })
    expect((await bootScript('52:54:00:aa:bb:03')).text).toContain('shoal.image=v1')
  })

  it('no image at all -> 503 with a script that says why', async () => {
    h = await startTestCoordinator({ images: {} })
    const s = await bootScript('52:54:00:aa:bb:04')
    expect(s.status).toBe(503)
    expect(s.text).toContain('no image versions')
  })
})

describe('enrollment', () => {
  it('returns a certificate and roster that verify offline, and the assigned image', async () => {
    h = await startTestCoordinator()
    const m = testMachine(1)
    const r = await enroll(m.request(await tokenFor(m.mac)))
    expect(r.status).toBe(200)
    const body = EnrollResponse.parse(r.json)
    expect(body).toMatchObject({ id: 'node-0001', identity: 'new', image: 'v1', bootstrap: ['127.0.0.1:49737'] })
    expect(verifyCertificate(body.certificate, body.clusterKey, { cluster: body.cluster, id: body.id, key: m.keyring.publicKey }).ok).toBe(true)
    const roster = verifyRoster(body.roster, body.clusterKey, body.cluster)
    // The roster also carries the coordinator's own mesh peer (coordinator/mesh-peer.ts).
    expect(roster.ok && roster.value.members).toEqual([{ id: 'coordinator', key: h.coordinator.waves.identity.publicKey }, { id: 'node-0001', key: m.keyring.publicKey }])
    const fetched = await (await fetch(`${h.url}/v1/roster`)).json()
    expect(verifyRoster(fetched, body.clusterKey).ok).toBe(true)
    expect(fetched).toEqual(body.roster)
    // Polling an unchanged roster is a 304.
    const etag = (await fetch(`${h.url}/v1/roster`)).headers.get('etag')!
    expect((await fetch(`${h.url}/v1/roster`, { headers: { 'if-none-match': etag } })).status).toBe(304)
  })

  it('a token works once: another key with it -> 403 token-used, nothing changes', async () => {
    h = await startTestCoordinator()
    const m = testMachine(1)
    const token = await tokenFor(m.mac)
    expect((await enroll(m.request(token))).status).toBe(200)
    const thief = testMachine(2, { mac: m.mac })
    await refusedWithoutChange(() => enroll(thief.request(token)), 'token-used')
    // Refusals are counted for the operator's dashboards.
    const metrics = await (await fetch(`${h.url}/metrics`)).text()
    expect(metrics).toContain('shoal_coordinator_enrollments_total{outcome="refused",code="token-used"} 1')
    expect(metrics).toContain('shoal_coordinator_enrollments_total{outcome="enrolled",code=""} 1')
    expect(metrics).toContain('shoal_coordinator_roster_members 1')
  })

  it('the same request re-sent (lost answer) gets the same certificate, not a second enrollment', async () => {
    h = await startTestCoordinator()
    const m = testMachine(1)
    const token = await tokenFor(m.mac)
    const a = await enroll(m.request(token))
    const before = await h.coordinator.dumpState()
    const b = await enroll(m.request(token))
    expect(b.status).toBe(200)
    expect(b.json.certificate).toEqual(a.json.certificate)
    expect(await h.coordinator.dumpState()).toEqual(before)
  })

  it('an expired token -> 403 token-expired, nothing changes (stepped clock, no sleeps)', async () => {
    h = await startTestCoordinator({ config: { joinTokenTtlMs: 60_000 } })
    const m = testMachine(1)
    const token = await tokenFor(m.mac)
    h.clock.advance(60_000)
    await refusedWithoutChange(() => enroll(m.request(token)), 'token-expired')
    h.clock.advance(-1)
    // One millisecond earlier it would have worked: the boundary is the TTL.
    expect((await enroll(m.request(token))).status).toBe(200)
  })

  it('a forged token -> 403 token-unknown, nothing changes', async () => {
    h = await startTestCoordinator()
    const m = testMachine(1)
    await tokenFor(m.mac)
    await refusedWithoutChange(() => enroll(m.request('ab'.repeat(32))), 'token-unknown')
  })

  it('a key of small order (anyone could sign as it) -> 400 that says so, nothing changes, the token still good', async () => {
    h = await startTestCoordinator()
    const m = testMachine(1)
    const token = await tokenFor(m.mac)
    const before = await h.coordinator.dumpState()
    // The identity point, and an order-8 point with its sign bit set.
    for (const key of ['01' + '00'.repeat(31), '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85']) {
      const r = await enroll({ ...m.request(token), publicKey: key })
      expect(r.status).toBe(400)
      expect(ErrorBody.parse(r.json).error.message).toMatch(/small order/)
    }
    expect(await h.coordinator.dumpState()).toEqual(before)
    expect((await enroll(m.request(token))).status).toBe(200)
  })

  it('a token from another MAC -> 403 token-mac-mismatch, nothing changes', async () => {
    h = await startTestCoordinator()
    const a = testMachine(1)
    const b = testMachine(2)
    const tokenA = await tokenFor(a.mac)
    await refusedWithoutChange(() => enroll(b.request(tokenA)), 'token-mac-mismatch')
    // …and the rightful owner can still use it.
    expect((await enroll(a.request(tokenA))).status).toBe(200)
  })

  it('a machine that comes back (new key, a NIC swapped) keeps its id; the roster holds only the new key', async () => {
    h = await startTestCoordinator()
    const first = testMachine(1)
    const r1 = EnrollResponse.parse((await enroll(first.request(await tokenFor(first.mac)))).json)
    const other = testMachine(2)
    await enroll(other.request(await tokenFor(other.mac)))
    // Reboot: RAM-only, so a fresh key; the NIC was replaced (new MAC, new nic component).
    const comps = first.comps.map((c) => (c.startsWith('nic:') ? 'nic:replaced' : c))
    const again = testMachine(77, { comps, mac: '52:54:00:99:99:99' })
    const req = { ...again.request(await tokenFor(again.mac)), fingerprint: { id: 'node-new-guess', comps } }
    const r2 = EnrollResponse.parse((await enroll(req)).json)
    expect(r2).toMatchObject({ id: r1.id, identity: 'known' })
    expect(r2.certificate.serial).toBeGreaterThan(r1.certificate.serial)
    expect(r2.roster.version).toBeGreaterThan(r1.roster.version)
    expect(r2.roster.members).toEqual(expect.arrayContaining([{ id: r1.id, key: again.keyring.publicKey }]))
    expect(r2.roster.members.map((m) => m.key)).not.toContain(first.keyring.publicKey)
    expect(r2.roster.members).toHaveLength(3) // two nodes + the coordinator's mesh peer
  })

  it('the assigned image follows an admin assignment', async () => {
    h = await startTestCoordinator({ images: { v1: { vmlinuz: 10, 'initramfs.img': 10 }, v2: { vmlinuz: 10, 'initramfs.img': 10 } }, config: { defaultImage: 'v1' } })
    const m = testMachine(1)
    const r = EnrollResponse.parse((await enroll(m.request(await tokenFor(m.mac)))).json)
    expect(r.image).toBe('v1')
    expect((await admin('/v1/admin/assign', { node: r.id, image: 'v2' })).status).toBe(200)
    expect(await bootScript(m.mac).then((s) => s.text)).toContain('shoal.image=v2')
    expect((await admin('/v1/admin/assign', { node: r.id, image: 'v9' })).status).toBe(400)
    expect((await admin('/v1/admin/assign', { node: 'nobody', image: 'v2' })).status).toBe(404)
  })

  it('GET /v1/join-token gives a fresh token for the agent whose token was used or expired', async () => {
    h = await startTestCoordinator()
    const m = testMachine(1)
    const res = await (await fetch(`${h.url}/v1/join-token?mac=${m.mac}`)).json()
    expect(res.mac).toBe(m.mac)
    expect((await enroll(m.request(res.token))).status).toBe(200)
  })
})

describe('approval mode', () => {
  it('a new fingerprint waits (202) until approved; then the same request gets its certificate', async () => {
    h = await startTestCoordinator({ config: { approval: 'new-fingerprints', joinTokenTtlMs: 60_000 } })
    const m = testMachine(1)
    const token = await tokenFor(m.mac)
    const p = EnrollPending.parse((await enroll(m.request(token))).json)
    expect((await enroll(m.request(token))).status).toBe(202)
    const list = await admin('/v1/admin/pending')
    expect(list.json.pending).toMatchObject([{ requestId: p.requestId, mac: m.mac, state: 'waiting', proposedId: 'node-0001' }])
    // The wait outlives the token's TTL.
    h.clock.advance(10 * 60_000)
    expect((await admin('/v1/admin/approve', { requestId: p.requestId })).status).toBe(200)
    const r = await enroll(m.request(token))
    expect(r.status).toBe(200)
    expect(EnrollResponse.parse(r.json).id).toBe('node-0001')
    expect((await admin('/v1/admin/pending')).json.pending).toEqual([])
  })

  it('a rejected request -> 403 rejected; a known machine does not wait', async () => {
    h = await startTestCoordinator({ config: { approval: 'new-fingerprints' } })
    const m = testMachine(1)
    const t1 = await tokenFor(m.mac)
    const p = EnrollPending.parse((await enroll(m.request(t1))).json)
    await admin('/v1/admin/approve', { requestId: p.requestId })
    expect((await enroll(m.request(t1))).status).toBe(200)
    // Reboot of the known machine: straight through.
    const again = testMachine(1)
    expect((await enroll(again.request(await tokenFor(m.mac), { publicKey: testMachine(5).keyring.publicKey }))).status).toBe(200)

    const stranger = testMachine(9)
    const t9 = await tokenFor(stranger.mac)
    const p9 = EnrollPending.parse((await enroll(stranger.request(t9))).json)
    expect((await admin('/v1/admin/reject', { requestId: p9.requestId })).status).toBe(200)
    expect((await admin('/v1/admin/approve', { requestId: p9.requestId })).status).toBe(409)
    const r = await enroll(stranger.request(t9))
    expect(r.status).toBe(403)
    expect(r.json.error.code).toBe('rejected')
  })
})

describe('bad input', () => {
  it.each([
    ['not JSON', '{"v":1,'],
    ['empty', ''],
    ['an array', '[]'],
    ['a wrong version', JSON.stringify({ ...testMachine(1).request('ab'.repeat(32)), v: 2 })],
    ['an extra field', JSON.stringify({ ...testMachine(1).request('ab'.repeat(32)), admin: true })],
    ['a short key', JSON.stringify({ ...testMachine(1).request('ab'.repeat(32)), publicKey: 'abc' })],
    ['a bad MAC', JSON.stringify({ ...testMachine(1).request('ab'.repeat(32)), mac: 'nope' })],
    ['no components', JSON.stringify({ ...testMachine(1).request('ab'.repeat(32)), fingerprint: { id: 'x', comps: [] } })],
  ])('enroll with %s -> 400 with a clear JSON error, nothing stored', async (_what, body) => {
    h = await startTestCoordinator()
    const before = await h.coordinator.dumpState()
    const r = await postJson(`${h.url}/v1/enroll`, body)
    expect(r.status).toBe(400)
    const e = ErrorBody.parse(r.json).error
    expect(e.code).toBe('bad-request')
    expect(e.message).toMatch(/JSON|empty|invalid enrollment request/)
    expect(await h.coordinator.dumpState()).toEqual(before)
  })

  it('a body past the limit -> 413', async () => {
    h = await startTestCoordinator({ config: { maxBodyBytes: 1024 } })
    const r = await postJson(`${h.url}/v1/enroll`, 'x'.repeat(5000))
    expect(r.status).toBe(413)
  })

  it('admin calls without the admin token -> 401; bad admin bodies -> 400', async () => {
    h = await startTestCoordinator()
    expect((await admin('/v1/admin/nodes', undefined, 'wrong-token-0000000')).status).toBe(401)
    expect((await fetch(`${h.url}/v1/admin/nodes`)).status).toBe(401)
    expect((await admin('/v1/admin/approve', { requestId: 'x' })).status).toBe(400)
    expect((await admin('/v1/admin/assign', { node: 'a', mac: '52:54:00:00:00:01', image: 'v1' })).status).toBe(400)
    expect((await admin('/v1/admin/audit?limit=abc')).status).toBe(400)
    expect((await admin('/v1/admin/nope')).status).toBe(404)
  })

  it('wrong method -> 405; unknown route -> 404; the server keeps serving', async () => {
    h = await startTestCoordinator()
    expect((await fetch(`${h.url}/v1/enroll`)).status).toBe(405)
    expect((await fetch(`${h.url}/v1/nothing`)).status).toBe(404)
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200)
  })
})

describe('audit log', () => {
  it('records boot scripts, enrollments, image downloads and admin actions', async () => {
    h = await startTestCoordinator()
    const m = testMachine(1)
    const r = EnrollResponse.parse((await enroll(m.request(await tokenFor(m.mac)))).json)
    await (await fetch(`${h.url}/images/v1/base.squashfs`)).arrayBuffer()
    await admin('/v1/admin/assign', { node: r.id, image: 'v1' })
    const { json } = await admin('/v1/admin/audit?limit=50')
    const kinds = json.entries.map((e: { kind: string }) => e.kind)
    expect(kinds).toEqual(['cluster-created', 'boot-script', 'enroll', 'image', 'assign'])
    expect(json.entries[2]).toMatchObject({ kind: 'enroll', node: r.id, mac: m.mac, detail: { identity: 'new' } })
    expect(json.entries[3]).toMatchObject({ kind: 'image', image: 'v1', detail: { file: 'base.squashfs', status: 200, bytes: 1000 } })
    const only = await admin('/v1/admin/audit?kind=enroll')
    expect(only.json.entries).toHaveLength(1)
  })
})
