/**
 * A wave across protocol versions (docs/mesh.md, "Versions on the wire"), live: four agent
 * processes over hyperswarm on loopback, the real coordinator, the fake Kubernetes API (no
 * Ceph: the gates skip it). Half of the agents run as a build of the next minor version
 * (SHOAL_TEST_NEXT_MINOR=1, agent/main.ts): they announce minor + 1 in every hello, their
 * records carry a field this build does not know, and they send every peer a message type
 * this build does not know, every second. A K=1 wave must finish with every worker seeing
 * every other alive, the older agents keeping (and relaying) the newer records' extra field,
 * counting the unknown type and cutting nobody off. Waits are on conditions with deadlines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NEXT_MINOR_FIELD, NEXT_MINOR_TYPE } from '../agent/main.js'
import { LiveCluster } from './support/live-cluster.js'
import { startWave, until, untilReadyForWave, untilWaveDone } from './support/wave-watch.js'

const W = ['w1', 'w2', 'w3', 'w4']
const NEXT = new Set(['w2', 'w4'])

type Json = Record<string, any>

async function get(api: string | undefined, path: string): Promise<Json | undefined> {
  if (!api) return undefined
  try {
    const r = await fetch(`http://${api}${path}`, { signal: AbortSignal.timeout(2000) })
    return r.ok ? ((await r.json()) as Json) : undefined
  } catch {
    return undefined
  }
}

let live!: LiveCluster

/** Each worker's view of the workers: id -> status. */
async function views(): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>()
  await Promise.all(
    live.workers.map(async (w) => {
      const c = await get(w.api, '/v1/cluster')
      out.set(w.id, new Map((c?.nodes ?? []).map((n: Json) => [n.id, n.status])))
    }),
  )
  return out
}

const everyoneSeesEveryoneAlive = async () => {
  const v = await views()
  return W.every((a) => W.every((b) => v.get(a)?.get(b) === 'alive'))
}

describe('a wave across protocol versions: half the agents on the next minor', () => {
  let maxUnavailable = 0
  let sampling = true
  let sampler: Promise<void> | undefined

  beforeAll(async () => {
    live = new LiveCluster({ workers: W, images: ['v1', 'v2'], env: (id): Record<string, string> => (NEXT.has(id) ? { SHOAL_TEST_NEXT_MINOR: '1' } : {}) })
    await live.start()
    sampler = (async () => {
      while (sampling) {
        const down = live.workers.filter((w) => !live.running(w) || live.kube.nodes.get(w.id)?.spec.unschedulable === true)
        if (down.length > maxUnavailable) maxUnavailable = down.length
        await new Promise<void>((r) => setTimeout(r, 150))
      }
    })()
    await until(live, everyoneSeesEveryoneAlive, 60_000, async () => `every worker sees every worker alive: ${JSON.stringify([...(await views())].map(([k, v]) => [k, [...v]]))}`)
    await untilReadyForWave(live, 60_000)
  }, 180_000)

  afterAll(async () => {
    sampling = false
    await sampler
    await live?.stop()
  }, 60_000)

  it('the older agents hear the newer ones: their records verify with the extra field kept, their new message type is counted and ignored', async () => {
    // A new message type arrives every second: wait until each old agent has counted some.
    await until(
      live,
      async () => (await Promise.all(live.workers.filter((w) => !NEXT.has(w.id)).map((w) => get(w.api, '/v1/self')))).every((s) => (s?.counters?.transport?.ignoredTypes?.[NEXT_MINOR_TYPE] ?? 0) >= 2),
      30_000,
      () => `old agents counting ${NEXT_MINOR_TYPE}`,
    )
    for (const w of live.workers) {
      const s = (await get(w.api, '/v1/self'))!
      const t = s.counters.transport
      expect(t.disconnectedForBadFrames, w.id).toBe(0)
      expect(t.refusedVersion, w.id).toBe(0)
      expect(s.counters.dropped.schema ?? 0, `${w.id} dropped for schema`).toBe(0)
      expect(s.counters.dropped['bad-signature'] ?? 0, `${w.id} dropped for bad signatures`).toBe(0)
      if (NEXT.has(w.id)) {
        expect(t.helloVersions['1.0'], `${w.id} heard 1.0 hellos`).toBeGreaterThanOrEqual(1)
      } else {
        expect(t.helloVersions['1.1'], `${w.id} heard 1.1 hellos`).toBeGreaterThanOrEqual(1)
        expect(s.counters.node[`ignored-type.${NEXT_MINOR_TYPE}`], `${w.id} counted by the node`).toBeGreaterThanOrEqual(2)
      }
      // Every agent holds the newer records with their extra field (first-hand or relayed).
      for (const n of NEXT) {
        const node = await get(w.api, `/v1/nodes/${n}`)
        expect(node?.record?.[NEXT_MINOR_FIELD], `${w.id}'s copy of ${n}'s record`).toEqual({ minor: 1, features: ['emulated'] })
      }
    }
  }, 60_000)

  it('K=1: the wave finishes, one at a time, every worker on v2, every worker seeing every other alive', async () => {
    const t0 = Date.now()
    const id = await startWave(live, { target: 'v2', maxUnavailable: 1, failureDomain: 'domain', nodeTimeoutMs: 90_000 })
    await untilWaveDone(live, id, 'v2', 150_000)
    const makespanMs = Date.now() - t0
    await until(live, everyoneSeesEveryoneAlive, 30_000, async () => `every worker sees every worker alive after the wave: ${JSON.stringify([...(await views())].map(([k, v]) => [k, [...v]]))}`)
    expect(maxUnavailable).toBe(1)
    const st = (await live.coordinator.call('GET', `/v1/waves/${id}`)).json
    expect(st.nodes.map((n: Json) => [n.node, n.state, n.image])).toEqual(W.map((n) => [n, 'done', 'v2']))
    // The restarted next-minor agents are still next-minor agents, and nobody was cut off.
    for (const w of live.workers) {
      const s = (await get(w.api, '/v1/self'))!
      expect(s.counters.transport.disconnectedForBadFrames, w.id).toBe(0)
      expect(s.counters.transport.refusedVersion, w.id).toBe(0)
    }
    console.log(JSON.stringify({ bench: 'wave.live.mixed-version', n: W.length, k: 1, nextMinor: [...NEXT], makespanMs }))
  }, 200_000)
})
