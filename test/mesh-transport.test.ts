/**
 * SwarmTransport on real hyperswarm (loopback, in this process): the inbound cap, a
 * refused peer getting in once there is room, one connection per key, and framing.
 * Waits on transport events with deadlines.
 */
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeIdentity, parseHostPort, startBootstrapNode, SwarmTransport, type BootstrapNode } from '../agent/mesh/index.js'
import { pack } from '../agent/protocol/frame.js'
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

describe('SwarmTransport: the protocol version in the first message of every link', () => {
  let bootstrap: BootstrapNode
  const names = ['v10', 'v11', 'v20']
  const members = names.map((id) => ({ id, identity: nodeIdentity(randomBytes(32)) }))
  const roster = new Roster(members.map((m) => ({ id: m.id, key: m.identity.publicKey })))
  const transports = new Map<string, SwarmTransport>()
  const logs = new Map<string, { level: string; obj: Record<string, unknown>; msg?: string }[]>()

  beforeAll(async () => {
    bootstrap = await startBootstrapNode()
    for (const m of members) {
      const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = []
      logs.set(m.id, lines)
      const logger = Object.fromEntries(['debug', 'info', 'warn', 'error'].map((level) => [level, (obj: Record<string, unknown>, msg?: string) => void lines.push({ level, obj, msg })])) as never
      const t = new SwarmTransport({
        selfId: m.id,
        identity: m.identity,
        roster,
        clusterId: 'version-test',
        bootstrap: [parseHostPort(bootstrap.address)],
        host: '127.0.0.1',
        seedDegree: 0,
        maxDegree: 8,
        maxBadFramesPerPeer: 3,
        silentLinkMs: 0,
        // v10 is this build; v11 a next-minor build; v20 a build of the next major.
        ...(m.id === 'v11' ? { protocolVersion: { major: 1, minor: 1 } } : m.id === 'v20' ? { protocolVersion: { major: 2, minor: 0 } } : {}),
        logger,
      })
      transports.set(m.id, t)
      await t.start()
    }
  }, 60_000)

  afterAll(async () => {
    await Promise.all([...transports.values()].map((t) => t.close()))
    await bootstrap?.close()
  })

  it('a minor mismatch is accepted: the link opens, and types the older side does not know are counted and ignored, however many', async () => {
    const a = transports.get('v10')!
    const b = transports.get('v11')!
    const up = Promise.all([next(a, 'connected', (p) => p === 'v11', 30_000), next(b, 'connected', (p) => p === 'v10', 30_000)])
    b.connect('v10')
    await up
    expect(a.stats.helloVersions['1.1']).toBe(1)
    expect(b.stats.helloVersions['1.0']).toBe(1)
    // The newer side sends a message type of its minor, past the bad-frame limit, then a ping.
    const ignored: string[] = []
    a.on('bad-frame', (_p, reason, detail) => void ignored.push(`${reason}:${detail}`))
    const ping = next(a, 'message', (p, msg) => p === 'v11' && msg.t === 'ping' && msg.seq === 99, 30_000)
    for (let i = 0; i < 10; i++) b.sendBody('v10', pack({ v: 1, t: 'load-report', cpu: i / 10 }), 'load-report')
    b.send('v10', { t: 'ping', seq: 99 })
    await ping
    expect(a.stats.ignoredTypes).toEqual({ 'load-report': 10 })
    expect(ignored).toEqual(Array(10).fill('unknown-type:load-report'))
    expect(a.isConnected('v11')).toBe(true)
    expect(a.stats.disconnectedForBadFrames).toBe(0)
    // One line for the other minor, at info: nothing is wrong.
    expect(logs.get('v10')!.filter((l) => l.obj.theirs === '1.1').map((l) => l.level)).toEqual(['info'])
  }, 60_000)

  it('a major mismatch is refused, with a log line naming both versions; the link never opens', async () => {
    const a = transports.get('v10')!
    const c = transports.get('v20')!
    let opened = 0
    a.on('connected', (p) => void (opened += p === 'v20' ? 1 : 0))
    c.on('connected', (p) => void (opened += p === 'v10' ? 1 : 0))
    // Whichever side reads the other's hello first refuses (the other may see only the close).
    const refused = () => Promise.any([next(a, 'rejected', (_k, why) => why === 'protocol-version', 30_000), next(c, 'rejected', (_k, why) => why === 'protocol-version', 30_000)])
    const first = refused()
    c.connect('v10')
    await first
    expect(a.stats.refusedVersion + c.stats.refusedVersion).toBeGreaterThanOrEqual(1)
    expect(opened).toBe(0)
    expect(a.isConnected('v20') || c.isConnected('v10')).toBe(false)
    const lineA = logs.get('v10')!.filter((l) => l.level === 'warn' && l.obj.theirs === '2.0')
    const lineC = logs.get('v20')!.filter((l) => l.level === 'warn' && l.obj.theirs === '1.0')
    expect(lineA.length).toBeLessThanOrEqual(1)
    expect(lineC.length).toBeLessThanOrEqual(1)
    expect(lineA.length + lineC.length).toBeGreaterThanOrEqual(1)
    for (const l of lineA) expect(l.msg).toMatch(/^refusing peer v20: it speaks mesh protocol 2\.0, this agent speaks 1\.0; a major version change needs the bridge release/)
    for (const l of lineC) expect(l.msg).toMatch(/^refusing peer v10: it speaks mesh protocol 1\.0, this agent speaks 2\.0/)
  }, 60_000)
})
