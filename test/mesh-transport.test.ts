/**
 * SwarmTransport on real hyperswarm (loopback, in this process): the inbound cap, a
 * refused peer getting in once there is room, one connection per key, and framing.
 * Waits on transport events with deadlines.
 */
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeIdentity, parseHostPort, startBootstrapNode, SwarmTransport, type BootstrapNode } from '../agent/mesh/index.js'
import { Roster } from '../agent/protocol/roster.js'

function next(em: EventEmitter, event: string, pred: (...args: any[]) => boolean, deadlineMs: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const h = (...args: unknown[]) => {
      if (!pred(...args)) return
      clearTimeout(timer)
      em.off(event, h)
      resolve(args)
    }
    const timer = setTimeout(() => {
      em.off(event, h)
      reject(new Error(`no matching "${event}" within ${deadlineMs} ms`))
    }, deadlineMs)
    em.on(event, h)
  })
}

describe('SwarmTransport', () => {
  let bootstrap: BootstrapNode
  const members = ['hub', 'c1', 'c2', 'c3'].map((id) => ({ id, identity: nodeIdentity(randomBytes(32)) }))
  const roster = new Roster(members.map((m) => ({ id: m.id, key: m.identity.publicKey })))
  const transports = new Map<string, SwarmTransport>()

  beforeAll(async () => {
    bootstrap = await startBootstrapNode()
    for (const m of members) {
      const t = new SwarmTransport({
        selfId: m.id,
        identity: m.identity,
        roster,
        clusterId: 'transport-test',
        bootstrap: [parseHostPort(bootstrap.address)],
        host: '127.0.0.1',
        seedDegree: 0, // dial only when told: this test decides the topology
        maxDegree: m.id === 'hub' ? 2 : 8,
        maxBadFramesPerPeer: 5,
        silentLinkMs: 0, // these links carry no mesh traffic
      })
      transports.set(m.id, t)
      await t.start()
    }
  }, 60_000)

  afterAll(async () => {
    await Promise.all([...transports.values()].map((t) => t.close()))
    await bootstrap?.close()
  })

  it('caps inbound connections, and lets a refused peer in once there is room', async () => {
    const hub = transports.get('hub')!
    const refused = next(hub, 'rejected', (_k, why) => why === 'inbound-cap', 30_000)
    // Both ends: the dialler sees the connection open before the hub does.
    const up = (id: string) => Promise.all([next(transports.get(id)!, 'connected', (p) => p === 'hub', 30_000), next(hub, 'connected', (p) => p === id, 30_000)])
    const failed = (id: string) => next(transports.get(id)!, 'disconnected', (p) => p === 'hub', 30_000)
    const c1 = up('c1')
    transports.get('c1')!.connect('hub')
    await c1
    const c2 = up('c2')
    transports.get('c2')!.connect('hub')
    await c2
    expect(hub.peers().sort()).toEqual(['c1', 'c2'])

    const c3failed = failed('c3')
    transports.get('c3')!.connect('hub')
    await refused
    await c3failed
    expect(hub.peers()).not.toContain('c3')
    expect(hub.stats.rejected.inboundCap).toBeGreaterThanOrEqual(1)

    // Room again: c3 is not banned for having been turned away.
    const gone = next(hub, 'disconnected', (p) => p === 'c1', 30_000)
    hub.disconnect('c1', 'test')
    await gone
    const c3 = up('c3')
    transports.get('c3')!.connect('hub')
    await c3
    expect(hub.peers().sort()).toEqual(['c2', 'c3'])
  }, 90_000)

  it('delivers framed messages split and merged arbitrarily, and keeps one connection per key', async () => {
    const c2 = transports.get('c2')!
    const c3 = transports.get('c3')!
    if (!c2.isConnected('c3')) {
      const up = next(c2, 'connected', (p) => p === 'c3', 30_000)
      c2.connect('c3')
      c3.connect('c2') // both ask at once: still one connection
      await up
    }
    const got: number[] = []
    const all = new Promise<void>((resolve) =>
      c3.on('message', (from, msg) => {
        if (from === 'c2' && msg.t === 'ping') got.push(msg.seq)
        if (got.length === 50) resolve()
      }),
    )
    for (let i = 0; i < 50; i++) c2.send('c3', { t: 'ping', seq: i })
    await all
    expect(got).toEqual([...Array(50).keys()])
    expect(c2.peers().filter((p) => p === 'c3')).toHaveLength(1)
  }, 60_000)
})
