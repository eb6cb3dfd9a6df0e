/**
 * Enrollment against a forger on the provisioning LAN: anyone can get a join token and copy
 * a node's fingerprint digest (it is in every record), so the coordinator refuses an id
 * whose holder is alive in its mesh view (409), holds a known id from another MAC or with
 * changed parts for approval in approval mode, bounds join tokens per source and in all,
 * and never writes the client's Host header into a boot script. Loopback only, stepped clock.
 */
import { request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import type { MemberView } from '../agent/protocol/mesh-types.js'
import { EnrollPending, EnrollResponse, ErrorBody } from '../agent/protocol/enroll/index.js'
import { postJson, startTestCoordinator, testMachine, tokenFromScript, type TestCoordinator } from '../coordinator/testing.js'

let h: TestCoordinator
afterEach(() => h?.close())

/** The coordinator's mesh view, as a test sets it: id -> alive / rebooting / dead. */
function meshView() {
  const members = new Map<string, { status: 'alive' | 'dead'; phase: string; key: string }>()
  return {
    set(id: string, key: string, status: 'alive' | 'dead', phase = 'ready') {
      members.set(id, { status, phase, key })
    },
    source: {
      view: (): MemberView[] =>
        [...members].map(([id, m]) => ({ id, status: m.status, inc: 0, updatedAt: 0, statusSince: 0, record: { id, key: m.key, phase: m.phase } as unknown as MemberView['record'] })),
    },
  }
}

async function tokenFor(mac: string): Promise<string> {
  const res = await fetch(`${h.url}/boot/ipxe?mac=${encodeURIComponent(mac)}`)
  expect(res.status).toBe(200)
  return tokenFromScript(await res.text())
}
const enroll = (body: unknown) => postJson(`${h.url}/v1/enroll`, body)
const admin = async (path: string) => (await fetch(`${h.url}${path}`, { headers: { authorization: `Bearer ${h.adminToken}` } })).json() as Promise<any>

describe('a known id whose holder is alive', () => {
  it('is never handed to another key: 409 id-in-use, roster unchanged, audited once with a count, counted, shown in admin nodes', async () => {
    const mesh = meshView()
    h = await startTestCoordinator({ deps: { waves: { members: mesh.source } } })
    const victim = testMachine(1)
    const v = EnrollResponse.parse((await enroll(victim.request(await tokenFor(victim.mac)))).json)
    mesh.set(v.id, victim.keyring.publicKey, 'alive')

    // The forger: its own MAC and a token for it, the victim's digest plus a made-up NIC, a fresh key.
    const forger = testMachine(66, { comps: [...victim.comps.filter((c) => !c.startsWith('nic:')), 'nic:made-up'] })
    const before = await h.coordinator.dumpState()
    const rosterBefore = await (await fetch(`${h.url}/v1/roster`)).json()
    for (let i = 0; i < 3; i++) {
      const r = await enroll({ ...forger.request(await tokenFor(forger.mac)), fingerprint: { id: v.id, comps: forger.comps } })
      expect(r.status).toBe(409)
      expect(ErrorBody.parse(r.json).error).toMatchObject({ code: 'id-in-use' })
      expect(r.json.error.message).toContain(`node ${v.id} is alive in the mesh`)
    }
    expect(await (await fetch(`${h.url}/v1/roster`)).json()).toEqual(rosterBefore)
    // Only tokens and audit entries were written: no node, MAC or roster entry changed.
    const changed = (await h.coordinator.dumpState()).filter(([k, val]) => !k.startsWith('token!') && !k.startsWith('audit!') && JSON.stringify(before.find(([bk]) => bk === k)?.[1]) !== JSON.stringify(val))
    expect(changed).toEqual([])

    const audit = (await admin('/v1/admin/audit?kind=refused')).entries
    expect(audit).toHaveLength(1) // three refusals within a minute: one entry
    expect(audit[0]).toMatchObject({ kind: 'refused', node: v.id, mac: forger.mac, detail: { what: 'id-in-use', count: 1 } })
    h.clock.advance(61_000)
    await enroll({ ...forger.request(await tokenFor(forger.mac)), fingerprint: { id: v.id, comps: forger.comps } })
    const later = (await admin('/v1/admin/audit?kind=refused')).entries
    expect(later).toHaveLength(2)
    expect(later[1].detail.count).toBe(3) // the two counted-only refusals plus this one

    const metrics = await (await fetch(`${h.url}/metrics`)).text()
    expect(metrics).toContain('shoal_coordinator_enrollments_total{outcome="refused",code="id-in-use"} 4')
    const nodes = (await admin('/v1/admin/nodes')).nodes
    expect(nodes[0]).toMatchObject({ id: v.id, key: victim.keyring.publicKey, cloneRefusals: { count: 4, lastMac: forger.mac } })
  })

  it('goes to the new key once the holder is dead or announced its reboot (a RAM node coming back)', async () => {
    const mesh = meshView()
    h = await startTestCoordinator({ deps: { waves: { members: mesh.source } } })
    const m = testMachine(1)
    const first = EnrollResponse.parse((await enroll(m.request(await tokenFor(m.mac)))).json)
    mesh.set(first.id, m.keyring.publicKey, 'alive', 'rebooting')
    const rebooted = testMachine(1)
    const r = await enroll(rebooted.request(await tokenFor(m.mac), { publicKey: testMachine(2).keyring.publicKey }))
    expect(r.status).toBe(200)
    expect(EnrollResponse.parse(r.json)).toMatchObject({ id: first.id, identity: 'known' })
    mesh.set(first.id, testMachine(2).keyring.publicKey, 'dead')
    expect((await enroll(m.request(await tokenFor(m.mac), { publicKey: testMachine(3).keyring.publicKey }))).status).toBe(200)
  })

  it('the same takeover with approval: waits (202) and shows the operator what changed; a clone while alive is still 409', async () => {
    const mesh = meshView()
    h = await startTestCoordinator({ config: { approval: 'new-fingerprints' }, deps: { waves: { members: mesh.source } } })
    const victim = testMachine(1)
    const t = await tokenFor(victim.mac)
    const p0 = EnrollPending.parse((await enroll(victim.request(t))).json)
    await fetch(`${h.url}/v1/admin/approve`, { method: 'POST', headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ requestId: p0.requestId }) })
    const v = EnrollResponse.parse((await enroll(victim.request(t))).json)

    // Holder down: the forger's claim (other MAC, a made-up NIC) waits like a new machine.
    mesh.set(v.id, victim.keyring.publicKey, 'dead')
    const forger = testMachine(66, { comps: [...victim.comps.filter((c) => !c.startsWith('nic:')), 'nic:made-up'] })
    const r = await enroll(forger.request(await tokenFor(forger.mac)))
    expect(r.status).toBe(202)
    const p = EnrollPending.parse(r.json)
    expect(p.message).toContain(`claims node ${v.id}`)
    const pending = (await admin('/v1/admin/pending')).pending
    expect(pending).toEqual([
      expect.objectContaining({ requestId: p.requestId, knownId: v.id, changes: { mac: { was: [victim.mac], now: forger.mac }, added: ['nic:made-up'], removed: [`nic:n0001`] } }),
    ])
    const roster = await (await fetch(`${h.url}/v1/roster`)).json()
    expect(roster.members.map((m: { key: string }) => m.key)).toContain(victim.keyring.publicKey)
    expect(roster.members.map((m: { key: string }) => m.key)).not.toContain(forger.keyring.publicKey)

    // Holder alive: refused outright, even in approval mode.
    mesh.set(v.id, victim.keyring.publicKey, 'alive')
    const clone = await enroll(forger.request(await tokenFor(forger.mac)))
    expect(clone.status).toBe(409)

    // The real machine rebooting (same MAC, same parts, new key) goes straight through.
    mesh.set(v.id, victim.keyring.publicKey, 'dead')
    const back = await enroll(victim.request(await tokenFor(victim.mac), { publicKey: testMachine(5).keyring.publicKey }))
    expect(back.status).toBe(200)
  })
})

describe('join tokens', () => {
  it('are rate-limited per source: past the burst 429, then one per 1/rate on the stepped clock', async () => {
    h = await startTestCoordinator({ config: { joinTokenBurst: 5, joinTokensPerMinute: 60 } })
    const statuses: number[] = []
    for (let i = 0; i < 8; i++) statuses.push((await fetch(`${h.url}/v1/join-token?mac=52:54:00:00:10:${String(i).padStart(2, '0')}`)).status)
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429])
    const boot = await fetch(`${h.url}/boot/ipxe?mac=52:54:00:00:10:99`)
    expect(boot.status).toBe(429)
    expect(await boot.text()).not.toContain('shoal.token')
    h.clock.advance(1000)
    expect((await fetch(`${h.url}/v1/join-token?mac=52:54:00:00:10:20`)).status).toBe(200)
    expect((await fetch(`${h.url}/v1/join-token?mac=52:54:00:00:10:21`)).status).toBe(429)
  })

  it('are bounded in number: requests for other MACs are refused, never evict a waiting token', async () => {
    h = await startTestCoordinator({ config: { maxJoinTokens: 4 } })
    const victim = testMachine(1)
    const token = await tokenFor(victim.mac)
    const statuses: number[] = []
    for (let i = 0; i < 10; i++) statuses.push((await fetch(`${h.url}/v1/join-token?mac=52:54:00:00:20:${String(i).padStart(2, '0')}`)).status)
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429, 429, 429, 429, 429])
    const tokens = (await h.coordinator.dumpState()).filter(([k]) => k.startsWith('token!'))
    expect(tokens).toHaveLength(4)
    expect((await enroll(victim.request(token))).status).toBe(200)
    // Expired tokens make room again.
    h.clock.advance(16 * 60_000)
    expect((await fetch(`${h.url}/v1/join-token?mac=52:54:00:00:20:42`)).status).toBe(200)
  })
})

describe('boot script addresses', () => {
  it('never reflect the Host header: the kernel URL is the address the connection reached', async () => {
    h = await startTestCoordinator()
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(`${h.url}/boot/ipxe?mac=52:54:00:00:30:01`, { headers: { host: 'evil.example:6666' } }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c) => (body += c))
        res.on('end', () => resolve(body))
      })
      req.on('error', reject)
      req.end()
    })
    expect(text).not.toContain('evil')
    expect(text).toContain(`kernel ${h.url}/images/v1/vmlinuz`)
    expect(text).toContain(`shoal.coordinator=${h.url}`)
  })
})

describe('the audit log under a flood', () => {
  it('refused unknown MACs are counted, not written one by one; enrollment history is never pruned for noise', async () => {
    h = await startTestCoordinator({ config: { unknownMac: 'refuse', auditMaxEntries: 6, joinTokenBurst: 1000 } })
    const m = testMachine(1)
    await fetch(`${h.url}/v1/admin/assign`, { method: 'POST', headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ mac: m.mac, image: 'v1' }) })
    expect((await enroll(m.request(await tokenFor(m.mac)))).status).toBe(200)
    for (let i = 0; i < 400; i++) expect((await fetch(`${h.url}/boot/ipxe?mac=52:54:00:00:40:${(i % 256).toString(16).padStart(2, '0')}`)).status).toBe(403)
    const refused = (await admin('/v1/admin/audit?kind=refused&limit=1000')).entries
    expect(refused).toHaveLength(1)
    // Served boot scripts are noise too: 20 of them past the cap leave the enrollment in place.
    for (let i = 0; i < 20; i++) await tokenFor(m.mac)
    const all = (await admin('/v1/admin/audit?limit=1000')).entries
    expect(all.length).toBeLessThanOrEqual(7)
    expect(all.map((e: { kind: string }) => e.kind)).toEqual(expect.arrayContaining(['cluster-created', 'assign', 'enroll']))
  })
})
