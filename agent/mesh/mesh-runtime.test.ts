import { EventEmitter } from 'node:events'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { meshConfig } from '../protocol/mesh-config.js'
import { MeshNode } from '../protocol/mesh-node.js'
import type { MeshEffect, MeshInput } from '../protocol/mesh-types.js'
import type { OutMessage } from '../protocol/messages.js'
import { Roster } from '../protocol/roster.js'
import { fakeKeyring, seededRng } from '../protocol/testing.js'
import { MeshRuntime, type MeshTransport, type SteppableNode } from './mesh-runtime.js'
import { newTransportStats as stats } from './transport-stats.js'

/** An in-memory network of fake transports; delivery is asynchronous (next macrotask). */
class FakeNet {
  readonly nodes = new Map<string, FakeTransport>()
  readonly down = new Set<string>()
}
class FakeTransport extends EventEmitter implements MeshTransport {
  readonly stats = stats()
  private readonly links = new Set<string>()
  constructor(readonly id: string, private readonly net: FakeNet) {
    super()
    net.nodes.set(id, this)
  }
  async start() {}
  async close() {}
  connect(peer: string) {
    setTimeout(() => {
      const other = this.net.nodes.get(peer)
      if (!other || this.net.down.has(peer) || this.net.down.has(this.id)) return void this.emit('disconnected', peer)
      if (this.links.has(peer)) return
      this.links.add(peer)
      other.links.add(this.id)
      this.emit('connected', peer)
      other.emit('connected', this.id)
    }, 1)
  }
  disconnect(peer: string) {
    if (!this.links.delete(peer)) return
    this.net.nodes.get(peer)?.links.delete(this.id)
    this.emit('disconnected', peer) // synchronously, on purpose: the runtime must not re-enter
  }
  send(peer: string, msg: OutMessage) {
    if (!this.links.has(peer) || this.net.down.has(this.id) || this.net.down.has(peer)) return false
    setTimeout(() => this.net.nodes.get(peer)?.emit('message', this.id, { v: 1, ...msg }, 10), 1)
    return true
  }
}

function node(id: string, roster: Roster, seed: number): MeshNode {
  return new MeshNode(
    {
      self: { id, image: 'v1', phase: 'ready', domain: 'd', inv: {}, health: { status: 'ok', conditions: [] }, comps: [] },
      config: meshConfig(),
      roster,
      keyring: fakeKeyring(id),
      rng: seededRng(seed),
    },
    Date.now(),
  )
}

afterEach(() => {
  vi.useRealTimers()
})

describe('MeshRuntime', () => {
  it('drives real MeshNodes on its own timer: members meet, and a silent one is declared dead', async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 })
    const ids = ['a', 'b', 'c']
    const roster = new Roster(ids.map((id) => ({ id, key: fakeKeyring(id).publicKey })))
    const net = new FakeNet()
    const runtimes = ids.map((id, i) => new MeshRuntime(id, node(id, roster, i + 1), new FakeTransport(id, net)))
    const events: string[] = []
    runtimes[0]!.on('event', (e) => {
      if (e.type === 'member') events.push(`${e.id}:${e.status}`)
    })
    for (const r of runtimes) await r.start()
    // Nobody knows anybody until a first connection (the swarm's discovery does this in production).
    net.nodes.get('a')!.connect('b')
    net.nodes.get('b')!.connect('c')
    await vi.advanceTimersByTimeAsync(3000)
    for (const r of runtimes) expect(r.view().map((m) => m.id).sort()).toEqual(ids)

    net.down.add('c')
    await vi.advanceTimersByTimeAsync(30_000)
    expect(runtimes[0]!.view().find((m) => m.id === 'c')?.status).toBe('dead')
    expect(events).toContain('c:dead')
    for (const r of runtimes) await r.close()
  })

  it('publishes the mesh address the transport binds, and dials a member at the address its record names', async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 })
    const ids = ['a', 'b', 'c']
    const roster = new Roster(ids.map((id) => ({ id, key: fakeKeyring(id).publicKey })))
    const net = new FakeNet()
    const asked: [from: string, peer: string, address: string | undefined][] = []
    class BoundTransport extends FakeTransport {
      async bind() {
        return `127.0.0.${ids.indexOf(this.id) + 1}:4000`
      }
      override connect(peer: string, address?: string) {
        asked.push([this.id, peer, address])
        super.connect(peer)
      }
    }
    const runtimes = ids.map((id, i) => new MeshRuntime(id, node(id, roster, i + 1), new BoundTransport(id, net)))
    for (const r of runtimes) await r.start()
    net.nodes.get('a')!.connect('b')
    net.nodes.get('b')!.connect('c')
    await vi.advanceTimersByTimeAsync(3000)
    for (const r of runtimes) expect(r.view().map((m) => [m.id, m.record?.mesh]).sort()).toEqual(ids.map((id, i) => [id, `127.0.0.${i + 1}:4000`]))
    // a heard of c through b, and its overlay asked for c at the address c's record names.
    expect(asked).toContainEqual(['a', 'c', '127.0.0.3:4000'])
    for (const r of runtimes) await r.close()
  })

  it('never re-enters the node: inputs raised while effects run are queued', async () => {
    let depth = 0
    let maxDepth = 0
    const seen: string[] = []
    const stub: SteppableNode = {
      counters: {},
      view: () => [],
      nextWakeAt: () => Infinity,
      step(input: MeshInput): MeshEffect[] {
        depth++
        maxDepth = Math.max(maxDepth, depth)
        seen.push(input.type)
        depth--
        return input.type === 'update-self' ? [{ type: 'disconnect', peer: 'x', reason: 'test' }] : []
      },
    }
    const t = new FakeTransport('self', new FakeNet())
    // Pretend a link to x exists so disconnect() fires 'disconnected' synchronously.
    ;(t as unknown as { links: Set<string> }).links.add('x')
    const r = new MeshRuntime('self', stub, t)
    await r.start()
    r.updateSelf({ phase: 'draining' })
    expect(seen).toEqual(['tick', 'update-self', 'disconnected'])
    expect(maxDepth).toBe(1)
    await r.close()
  })

  it('ticks the node at or before every wake time; a wake time that moves later keeps the armed timer (one early tick)', async () => {
    vi.useFakeTimers({ now: 0 })
    let wake = 100
    const ticks: number[] = []
    const stub: SteppableNode = {
      counters: {},
      view: () => [],
      nextWakeAt: () => wake,
      step(input, now) {
        if (input.type === 'tick') ticks.push(now)
        if (input.type === 'update-self') wake = input.patch.phase === 'draining' ? 300 : 50
        return []
      },
    }
    const r = new MeshRuntime('self', stub, new FakeTransport('self', new FakeNet()), { now: () => Date.now() })
    await r.start()
    expect(ticks).toEqual([0])
    r.updateSelf({ phase: 'draining' }) // later: the timer for 100 stays
    await vi.advanceTimersByTimeAsync(100)
    expect(ticks).toEqual([0, 100]) // early, and harmless: the tick armed 300
    r.updateSelf({ phase: 'ready' }) // earlier than 300: re-armed for 50
    await vi.advanceTimersByTimeAsync(0)
    expect(ticks).toEqual([0, 100, 100])
    await r.close()
    vi.useRealTimers()
  })

  it('re-signs its record for the mesh address only if the record does not name it yet', async () => {
    for (const named of [undefined, '127.0.0.1:4000']) {
      const seen: string[] = []
      const stub: SteppableNode = {
        counters: {},
        view: () => [],
        member: (id) => ({ id, status: 'alive', inc: 1, ...(named ? { record: { mesh: named } } : {}) }) as unknown as ReturnType<NonNullable<SteppableNode['member']>>,
        nextWakeAt: () => Infinity,
        step(input) {
          seen.push(input.type)
          return []
        },
      }
      class Bound extends FakeTransport {
        async bind() {
          return '127.0.0.1:4000'
        }
      }
      const r = new MeshRuntime('self', stub, new Bound('self', new FakeNet()))
      await r.start()
      expect(seen).toEqual(named ? ['tick'] : ['update-self', 'tick'])
      await r.close()
    }
  })

  it('keeps running when the node throws, and counts what it carried out', async () => {
    const stub: SteppableNode = {
      counters: {},
      view: () => [],
      nextWakeAt: () => Infinity,
      step(input) {
        if (input.type === 'bad-frame') throw new Error('bug')
        return [{ type: 'event', event: { type: 'dropped', from: 'p', reason: 'schema', detail: 'x' } }]
      },
    }
    const errors: unknown[] = []
    const log = { debug() {}, info() {}, warn() {}, error: (o: unknown) => void errors.push(o) }
    const r = new MeshRuntime('self', stub, new FakeTransport('self', new FakeNet()), undefined, log)
    await r.start()
    r.input({ type: 'bad-frame', from: 'p', reason: 'malformed', detail: 'x' })
    r.input({ type: 'bad-frame', from: 'p', reason: 'malformed', detail: 'y' })
    r.input({ type: 'tick' })
    expect(r.counters().dropped).toEqual({ schema: 2 })
    // Never silent: every throw is counted by input type, and logged once per type, naming it.
    expect(r.counters().stepErrors).toEqual({ 'bad-frame': 2 })
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ input: 'bad-frame' })
    await r.close()
  })
})
