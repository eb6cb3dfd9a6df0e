/**
 * The coordinator restarting (mid-boot of a worker, or for an upgrade of the controller):
 * the cluster key, roster, tokens, assignments, approvals and audit log are in level on
 * disk and come back unchanged. Also: the DHT bootstrap node is a real hyperdht node that
 * a client can bootstrap from on loopback.
 */
import { join } from 'node:path'
import DHT from 'hyperdht'
import { Coordinator } from '../coordinator/coordinator.js'
import { mergeConfig } from '../coordinator/coordinator-config.js'
import { afterEach, describe, expect, it } from 'vitest'
import { EnrollPending, EnrollResponse, verifyRoster } from '../agent/protocol/enroll/index.js'
import { postJson, startTestCoordinator, testMachine, tokenFromScript, type TestCoordinator } from '../coordinator/testing.js'

let h: TestCoordinator
afterEach(() => h?.close())

const tokenFor = async (mac: string) => tokenFromScript(await (await fetch(`${h.url}/boot/ipxe?mac=${mac}`)).text())
const enroll = (body: unknown) => postJson(`${h.url}/v1/enroll`, body)
const admin = (path: string, body: unknown) => postJson(`${h.url}${path}`, body, { authorization: `Bearer ${h.adminToken}` })

describe('persistence across restart', () => {
  it('keeps cluster identity, roster, nodes, assignments and audit; a used token stays used', async () => {
    h = await startTestCoordinator({ images: { v1: { vmlinuz: 10, 'initramfs.img': 10 }, v2: { vmlinuz: 10, 'initramfs.img': 10 } }, config: { defaultImage: 'v1' } })
    const m = testMachine(1)
    const token = await tokenFor(m.mac)
    const r = EnrollResponse.parse((await enroll(m.request(token))).json)
    await admin('/v1/admin/assign', { node: r.id, image: 'v2' })
    const clusterBefore = await (await fetch(`${h.url}/v1/cluster`)).json()
    const stateBefore = await h.coordinator.dumpState()

    await h.restart()

    expect(await (await fetch(`${h.url}/v1/cluster`)).json()).toEqual(clusterBefore)
    const roster = await (await fetch(`${h.url}/v1/roster`)).json()
    expect(verifyRoster(roster, r.clusterKey).ok).toBe(true)
    expect(roster).toEqual(r.roster)
    expect(await h.coordinator.dumpState()).toEqual(stateBefore)
    expect(await (await fetch(`${h.url}/boot/ipxe?mac=${m.mac}`)).text()).toContain('shoal.image=v2')
    // The token was consumed before the restart: another key still cannot use it…
    const thief = testMachine(2, { mac: m.mac })
    expect((await enroll(thief.request(token))).json.error.code).toBe('token-used')
    // …while the original request, re-sent after the restart, still gets its answer.
    const again = await enroll(m.request(token))
    expect(again.status).toBe(200)
    expect(again.json.certificate).toEqual(r.certificate)
    const audit = await (await fetch(`${h.url}/v1/admin/audit`, { headers: { authorization: `Bearer ${h.adminToken}` } })).json()
    // Nothing logged before the restart was overwritten by what was logged after it (same clock ms).
    expect(audit.entries.map((e: { kind: string }) => e.kind)).toEqual(['cluster-created', 'boot-script', 'enroll', 'assign', 'boot-script'])
  })

  it('a token issued before a restart works after it (worker mid-boot), and its expiry is kept', async () => {
    h = await startTestCoordinator({ config: { joinTokenTtlMs: 60_000 } })
    const a = testMachine(1)
    const b = testMachine(2)
    const ta = await tokenFor(a.mac)
    const tb = await tokenFor(b.mac)
    await h.restart()
    expect((await enroll(a.request(ta))).status).toBe(200)
    h.clock.advance(60_000)
    expect((await enroll(b.request(tb))).json.error.code).toBe('token-expired')
  })

  it('a pending approval survives a restart', async () => {
    h = await startTestCoordinator({ config: { approval: 'new-fingerprints' } })
    const m = testMachine(1)
    const token = await tokenFor(m.mac)
    const p = EnrollPending.parse((await enroll(m.request(token))).json)
    await h.restart()
    expect((await admin('/v1/admin/approve', { requestId: p.requestId })).status).toBe(200)
    expect((await enroll(m.request(token))).status).toBe(200)
  })

  it('refuses to open a data dir of another cluster id', async () => {
    h = await startTestCoordinator({ config: { clusterId: 'alpha' } })
    await expect(h.restart({ clusterId: 'beta' })).rejects.toThrow(/belongs to cluster "alpha"/)
    await h.restart({ clusterId: 'alpha' })
  })

  it('sweep drops expired tokens and keeps live ones', async () => {
    h = await startTestCoordinator({ config: { joinTokenTtlMs: 60_000 } })
    const m = testMachine(1)
    const old = await tokenFor(m.mac)
    h.clock.advance(59_000)
    const fresh = await tokenFor(m.mac)
    h.clock.advance(2_000)
    expect(await h.coordinator.state.sweep()).toBe(1)
    expect((await enroll(m.request(old))).json.error.code).toBe('token-unknown')
    expect((await enroll(m.request(fresh))).status).toBe(200)
  })

  it('sweep drops approval requests whose token can no longer be re-sent', async () => {
    h = await startTestCoordinator({ config: { approval: 'new-fingerprints', enrollRetryWindowMs: 3600_000 } })
    const m = testMachine(1)
    const token = await tokenFor(m.mac)
    EnrollPending.parse((await enroll(m.request(token))).json)
    h.clock.advance(3600_001)
    await h.coordinator.state.sweep()
    expect(h.coordinator.state.pending.size).toBe(0)
    expect((await h.coordinator.dumpState()).filter(([k]) => k.startsWith('pending!') || k.startsWith('token!'))).toEqual([])
    expect((await enroll(m.request(token))).json.error.code).toBe('token-unknown')
  })

  it('bounds unused tokens per MAC', async () => {
    h = await startTestCoordinator({ config: { maxTokensPerMac: 2 } })
    const m = testMachine(1)
    const t1 = await tokenFor(m.mac)
    await tokenFor(m.mac)
    const t3 = await tokenFor(m.mac)
    const tokens = (await h.coordinator.dumpState()).filter(([k]) => k.startsWith('token!'))
    expect(tokens).toHaveLength(2)
    expect((await enroll(m.request(t1))).json.error.code).toBe('token-unknown')
    expect((await enroll(m.request(t3))).status).toBe(200)
  })
})

describe('DHT bootstrap node', () => {
  it('a hyperdht client bootstraps from it on loopback and learns it in its routing table', async () => {
    h = await startTestCoordinator({ config: { dhtPort: 0, dhtHost: '127.0.0.1', bootstrapAdvertise: undefined } })
    const addr = h.coordinator.bootstrapAddress!
    expect(addr).toMatch(/^127\.0\.0\.1:\d+$/)
    const m = testMachine(1)
    const script = await (await fetch(`${h.url}/boot/ipxe?mac=${m.mac}`)).text()
    expect(script).toContain(`shoal.bootstrap=${addr}`)
    const client = new DHT({ bootstrap: [addr], host: '127.0.0.1', ephemeral: true })
    try {
      await client.fullyBootstrapped()
      const table = (client as unknown as { toArray(): { host: string; port: number }[] }).toArray()
      expect(table.map((n) => `${n.host}:${n.port}`)).toContain(addr)
    } finally {
      await client.destroy()
    }
  })
})

describe('start failures', () => {
  it('a port already taken: a clear error, and the data dir is released for the next try', async () => {
    h = await startTestCoordinator()
    const port = Number(new URL(h.url).port)
    const second = new Coordinator(mergeConfig({ dataDir: join(h.dir, 'other'), imagesDir: h.imagesDir, httpPort: port, dhtPort: -1, bootstrapAdvertise: ['127.0.0.1:1'] }))
    await expect(second.start()).rejects.toThrow(/cannot listen on 127.0.0.1:\d+.*pick another --http-port/)
    // Its level database was closed: another coordinator can open the same data dir at once.
    const third = new Coordinator(mergeConfig({ dataDir: join(h.dir, 'other'), imagesDir: h.imagesDir, httpPort: 0, dhtPort: -1, bootstrapAdvertise: ['127.0.0.1:1'] }))
    await third.start()
    await third.close()
  })
})
