/**
 * The agent HTTP API on live agents (in this process, real hyperswarm on loopback):
 * inventory forwarding with a cached fallback, and 4xx answers with JSON error bodies.
 */
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningAgent } from '../agent/main.js'
import { untilAgentSees } from './support/agent-view.js'
import { InProcessCluster } from './support/in-process-cluster.js'

const fakeInventory = { v: 1, collectedAt: Date.now() - 5000, system: { vendor: 'Test Vendor', serial: 'SN-1' }, disks: [{ serial: 'DISK0001' }] }

async function get(api: string, path: string, method = 'GET') {
  const res = await request(`http://${api}${path}`, { method: method as 'GET' })
  const text = await res.body.text()
  return { status: res.statusCode, type: String(res.headers['content-type']), body: JSON.parse(text) as Record<string, any> }
}

/** Resolves once `api` holds `id` alive with an API address, or has had a record of it (from its watch stream); rejects at the deadline. */
function sees(api: string, id: string, deadlineMs: number): Promise<void> {
  return untilAgentSees(
    api,
    (view) => {
      const v = view.get(id)
      return v !== undefined && (v.recordSeen || (v.status === 'alive' && Boolean(v.node?.api)))
    },
    deadlineMs,
    id,
  )
}

describe('agent API', () => {
  let cluster: InProcessCluster
  let a: RunningAgent
  let b: RunningAgent

  beforeAll(async () => {
    cluster = await InProcessCluster.create('api', [{ id: 'node-0' }, { id: 'node-1' }])
    // A never trusts its cache (0 ms), so the fallback path is taken when B is gone.
    a = await cluster.start(0, { inventoryCacheMs: 0 })
    b = await cluster.start(1, {}, { inventory: { collect: async () => fakeInventory } })
    await sees(a.api, 'node-1', 60_000)
  }, 90_000)

  afterAll(() => cluster?.close())

  it('answers its own inventory when it has a collector, else 501 with a reason', async () => {
    const own = await get(b.api, '/v1/nodes/node-1/inventory')
    expect(own.status).toBe(200)
    expect(own.body).toMatchObject({ id: 'node-1', source: 'self', inventory: fakeInventory })
    expect(own.body.ageMs).toBeGreaterThanOrEqual(5000)
    const none = await get(a.api, '/v1/nodes/node-0/inventory')
    expect(none.status).toBe(501)
    expect(none.body.error.message).toMatch(/collectInventory/)
  })

  it("forwards another node's inventory to that node, and falls back to the cached copy with its age when it is gone", async () => {
    const fwd = await get(a.api, '/v1/nodes/node-1/inventory')
    expect(fwd.status).toBe(200)
    expect(fwd.body.source).toBe(`forwarded from ${b.api}`)
    expect(fwd.body.inventory).toEqual(fakeInventory)
    await b.close()
    const cached = await get(a.api, '/v1/nodes/node-1/inventory')
    expect(cached.status).toBe(200)
    expect(cached.body).toMatchObject({ source: 'cache', stale: true, inventory: fakeInventory })
    expect(cached.body.ageMs).toBeGreaterThanOrEqual(fwd.body.ageMs)
  })

  it('bad requests get 4xx with a JSON error body', async () => {
    const cases: [string, string, number, string][] = [
      ['GET', '/v1/nodes/bad%20id', 400, 'bad-node-id'],
      ['GET', '/v1/nodes/no-such-node', 404, 'unknown-node'],
      ['GET', '/v1/nodes/no-such-node/inventory', 404, 'unknown-node'],
      ['GET', '/v1/nodes/%E0%A4%A', 400, 'bad-node-id'],
      ['GET', '/v2/cluster', 404, 'not-found'],
      ['GET', '/v1/cluster/extra', 404, 'not-found'],
      ['POST', '/v1/cluster', 405, 'method-not-allowed'],
      ['DELETE', '/v1/nodes/node-0', 405, 'method-not-allowed'],
    ]
    for (const [method, path, status, code] of cases) {
      const r = await get(a.api, path, method)
      expect([path, r.status]).toEqual([path, status])
      expect(r.type).toMatch(/application\/json/)
      expect(r.body.error.code).toBe(code)
      expect(typeof r.body.error.message).toBe('string')
    }
  })

  it('/v1/self reports identity, process figures and rejected-input counters', async () => {
    const r = await get(a.api, '/v1/self')
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ id: 'node-0', cluster: cluster.cluster, publicKey: cluster.members[0]!.key })
    expect(r.body.counters).toHaveProperty('dropped')
    expect(r.body.counters.refused).toEqual({ 'not-on-roster': expect.any(Number), 'inbound-cap': expect.any(Number), 'protocol-version': expect.any(Number) })
    expect(r.body.process.rssBytes).toBeGreaterThan(0)
  })
})
