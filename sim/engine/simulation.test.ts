import { describe, expect, it } from 'vitest'
import type { MeshEffect } from '../../agent/protocol/mesh-types.js'
import { encodeMessage, type OutMessage } from '../../agent/protocol/messages.js'
import { fixedLatency, uniformLatency } from './latency.js'
import type { NetworkConfig } from './network.js'
import { SimKeyAuthority } from './sim-keyring.js'
import { SimRng } from './rng.js'
import { Simulation, type EngineInput, type SimProcess } from './simulation.js'

/** A toy process: logs what it hears, answers pings, and obeys test commands. */
type ToyInput = EngineInput | { type: 'say'; to: string; text: string } | { type: 'dial'; peer: string } | { type: 'hangup'; peer: string }
type Heard = { at: number; kind: string; peer: string; text?: string }

class Toy implements SimProcess<ToyInput> {
  heard: Heard[] = []
  wake = Infinity
  stuck = false
  constructor(readonly id: string, readonly boot: number) {}
  step(input: ToyInput, now: number): MeshEffect[] {
    switch (input.type) {
      case 'connected':
      case 'disconnected':
        this.heard.push({ at: now, kind: input.type, peer: input.peer })
        return []
      case 'bad-frame':
        this.heard.push({ at: now, kind: 'bad-frame', peer: input.from, text: input.reason })
        return []
      case 'message': {
        const m = input.msg
        if (m.t === 'app') this.heard.push({ at: now, kind: 'app', peer: input.from, text: Buffer.from(m.body).toString() })
        return []
      }
      case 'say':
        return [{ type: 'send', to: input.to, msg: { t: 'app', topic: 'toy', body: Buffer.from(input.text) } }]
      case 'dial':
        return [{ type: 'connect', peer: input.peer }]
      case 'hangup':
        return [{ type: 'disconnect', peer: input.peer, reason: 'test' }]
      case 'tick':
        this.heard.push({ at: now, kind: 'tick', peer: '' })
        if (!this.stuck) this.wake = Infinity
        return []
    }
  }
  nextWakeAt(): number {
    return this.wake
  }
}

function sim(network: Partial<NetworkConfig> = {}, seed = 1) {
  return new Simulation<Toy, ToyInput>({
    seed,
    epochMs: 0,
    factory: ({ id, boot }) => new Toy(id, boot),
    network: { latency: fixedLatency(1), bootstrapPeers: 0, ...network },
  })
}

const texts = (t: Toy) => t.heard.filter((h) => h.kind === 'app').map((h) => h.text)

/** Two nodes a, b with an open link (opened at t=0, up at t=1). */
function pair(network: Partial<NetworkConfig> = {}, seed = 1) {
  const s = sim(network, seed)
  const a = s.start('a')
  const b = s.start('b')
  s.input('a', { type: 'dial', peer: 'b' })
  s.runFor(5)
  return { s, a, b }
}

describe('Simulation: clock and links', () => {
  it('opens a link after one latency, symmetric, and the bootstrap links a new node to up nodes', () => {
    const { a, b } = pair()
    expect(a.heard).toEqual([{ at: 1, kind: 'connected', peer: 'b' }])
    expect(b.heard).toEqual([{ at: 1, kind: 'connected', peer: 'a' }])

    const s = sim({ bootstrapPeers: 2 })
    for (const id of ['n0', 'n1', 'n2', 'n3', 'n4']) s.start(id)
    s.runFor(5)
    expect(s.linksOf('n4').length).toBe(2)
    expect(s.linksOf('n0').length).toBeGreaterThanOrEqual(1) // n1 can only have met n0
  })

  it('delivers in send order on a link, with real bytes counted per node', () => {
    const { s, a, b } = pair({ latency: uniformLatency(0.1, 1) })
    for (let i = 0; i < 50; i++) s.input('a', { type: 'say', to: 'b', text: `m${i}` })
    s.runFor(10)
    expect(texts(b)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`))
    const one = encodeMessage({ t: 'app', topic: 'toy', body: Buffer.from('m0') } as OutMessage).length + 4
    const ten = encodeMessage({ t: 'app', topic: 'toy', body: Buffer.from('m10') } as OutMessage).length + 4
    expect(s.traffic('a').sentBytes).toBe(10 * one + 40 * ten)
    expect(s.traffic('b').recvBytes).toBe(s.traffic('a').sentBytes)
    expect(s.traffic('b').sentBytes).toBe(0)
    expect(a.heard.filter((h) => h.kind === 'app')).toEqual([])
  })

  it('gives processes whole-ms clock readings and ticks when asked', () => {
    const s = sim()
    const a = s.start('a')
    a.wake = 10.2
    s.input('a', { type: 'say', to: 'nobody', text: 'x' }) // a step, after which nextWakeAt is read
    s.runFor(20)
    expect(a.heard.filter((h) => h.kind === 'tick').map((h) => h.at)).toEqual([11])
    expect(s.stats.noLink).toBe(1)
  })

  it('stops a run whose process never lets time advance, naming node and seed', () => {
    const s = sim()
    const a = s.start('a')
    a.stuck = true
    a.wake = 5
    s.input('a', { type: 'say', to: 'x', text: 'x' })
    expect(() => s.runFor(10)).toThrow(/node a .* nextWakeAt\(\) does not advance \(seed 1\)/)
  })

  it('fails a connect to a node that is down after connectTimeoutMs, on the dialling side only', () => {
    const s = sim({ connectTimeoutMs: 500 })
    const a = s.start('a')
    s.input('a', { type: 'dial', peer: 'ghost' })
    s.runFor(1000)
    expect(a.heard).toEqual([{ at: 500, kind: 'disconnected', peer: 'ghost' }])
    expect(s.stats.connectsFailed).toBe(1)
  })

  it('closes gracefully: frames sent before a disconnect arrive, then the far side hears it', () => {
    const { s, a, b } = pair()
    s.input('a', { type: 'say', to: 'b', text: 'last words' })
    s.input('a', { type: 'hangup', peer: 'b' })
    s.input('b', { type: 'say', to: 'a', text: 'too late' })
    s.runFor(10)
    expect(texts(b)).toEqual(['last words'])
    expect(b.heard.at(-1)).toMatchObject({ kind: 'disconnected', peer: 'a' })
    expect(a.heard.at(-1)).toEqual({ at: 5, kind: 'disconnected', peer: 'b' })
    expect(texts(a)).toEqual([])
    expect(s.linksOf('a')).toEqual([])
    expect(s.linksOf('b')).toEqual([])
  })
})

describe('Simulation: faults', () => {
  it('loses frames at the configured rate, reproducibly', () => {
    const run = () => {
      const { s, b } = pair({ lossProbability: 0.3 }, 9)
      for (let i = 0; i < 1000; i++) s.input('a', { type: 'say', to: 'b', text: String(i) })
      s.runFor(10)
      return { got: texts(b), lost: s.stats.lost }
    }
    const r1 = run()
    expect(r1.got.length + r1.lost).toBe(1000)
    expect(r1.lost).toBeGreaterThan(240)
    expect(r1.lost).toBeLessThan(360)
    expect(run()).toEqual(r1)
  })

  it('duplicates frames', () => {
    const { s, b } = pair({ duplicateProbability: 1 })
    s.input('a', { type: 'say', to: 'b', text: 'twice' })
    s.runFor(10)
    expect(texts(b)).toEqual(['twice', 'twice'])
    expect(s.stats.duplicated).toBe(1)
  })

  it('reorders frames only when told to', () => {
    const { s, b } = pair({ latency: uniformLatency(0.1, 1), reorderProbability: 0.5, reorderExtraMs: 5 })
    for (let i = 0; i < 200; i++) s.input('a', { type: 'say', to: 'b', text: String(i) })
    s.runFor(20)
    const got = texts(b).map(Number)
    expect(got.length).toBe(200)
    expect(got).not.toEqual([...got].sort((x, y) => x - y))
    expect(s.stats.reordered).toBeGreaterThan(50)
  })

  it('drops traffic across a partition, keeps it inside, and heals', () => {
    const s = sim({ linkTimeoutMs: 10_000 })
    const nodes = ['a', 'b', 'c'].map((id) => s.start(id))
    s.input('a', { type: 'dial', peer: 'b' })
    s.input('a', { type: 'dial', peer: 'c' })
    s.runFor(5)
    s.partition([['a', 'b']]) // c is alone on the rest side
    s.input('a', { type: 'say', to: 'b', text: 'inside' })
    s.input('a', { type: 'say', to: 'c', text: 'across' })
    s.runFor(5)
    expect(texts(nodes[1]!)).toEqual(['inside'])
    expect(texts(nodes[2]!)).toEqual([])
    expect(s.stats.cut).toBe(1)
    s.heal()
    s.input('a', { type: 'say', to: 'c', text: 'healed' })
    s.runFor(5)
    expect(texts(nodes[2]!)).toEqual(['healed'])
    expect(s.stats.linkTimeouts).toBe(0)
  })

  it('closes links that stay cut past linkTimeoutMs, on both sides, and refuses connects across', () => {
    const s = sim({ linkTimeoutMs: 1000, connectTimeoutMs: 300 })
    const a = s.start('a')
    const b = s.start('b')
    s.input('a', { type: 'dial', peer: 'b' })
    s.runFor(5)
    s.partition([['a'], ['b']])
    s.runFor(2000)
    expect(a.heard.at(-1)).toEqual({ at: 1005, kind: 'disconnected', peer: 'b' })
    expect(b.heard.at(-1)).toEqual({ at: 1005, kind: 'disconnected', peer: 'a' })
    s.input('a', { type: 'dial', peer: 'b' })
    s.runFor(1000)
    expect(a.heard.at(-1)).toMatchObject({ kind: 'disconnected', peer: 'b' })
    expect(s.stats.connectsFailed).toBe(1)
  })

  it('crashes silently: frames vanish, the peer hears only at the link timeout; a restart is a fresh instance', () => {
    const { s, a } = pair({ linkTimeoutMs: 1000 })
    s.crash('b')
    expect(s.isUp('b')).toBe(false)
    s.input('a', { type: 'say', to: 'b', text: 'anyone?' })
    s.runFor(500)
    expect(a.heard.length).toBe(1) // only the original `connected`
    expect(s.stats.vanished).toBe(1)
    const b2 = s.restart('b')
    expect(b2.boot).toBe(1)
    expect(b2.heard).toEqual([])
    s.input('b', { type: 'dial', peer: 'a' })
    s.runFor(10)
    // The transport replaces the dead connection: a hears the old one close, then the new one open.
    expect(a.heard.slice(1).map((h) => h.kind)).toEqual(['disconnected', 'connected'])
    s.input('a', { type: 'say', to: 'b', text: 'welcome back' })
    s.runFor(2000)
    expect(texts(b2)).toEqual(['welcome back'])
    expect(s.stats.linkTimeouts).toBe(0) // the replaced link does not time out later
    expect(s.traffic('b').recvFrames).toBe(1)
  })

  it('lets a survivor redial a rebooted peer: the dead connection is dropped, a new one opens', () => {
    const { s, a } = pair({ linkTimeoutMs: 10_000 })
    s.crash('b')
    const b2 = s.start('b')
    s.runFor(10)
    s.input('a', { type: 'dial', peer: 'b' })
    s.runFor(10)
    expect(a.heard.slice(1).map((h) => h.kind)).toEqual(['disconnected', 'connected'])
    expect(b2.heard.map((h) => h.kind)).toEqual(['connected'])
    s.input('a', { type: 'say', to: 'b', text: 'hello again' })
    s.runFor(10)
    expect(texts(b2)).toEqual(['hello again'])
  })

  it('hands undecodable bytes to the node as a bad frame', () => {
    const { s, b } = pair()
    s.injectBytes('a', 'b', new Uint8Array([0xc1, 0x00]))
    s.injectBytes('a', 'b', encodeMessage({ t: 'nope' } as unknown as OutMessage))
    s.runFor(5)
    expect(b.heard.filter((h) => h.kind === 'bad-frame').map((h) => h.text)).toEqual(['malformed', 'unknown-type'])
    expect(s.stats.badFrames).toBe(2)
  })

  it('rejects unknown or out-of-range network options', () => {
    expect(() => sim({ lossProbability: 2 })).toThrow(/lossProbability/)
    expect(() => sim({ bogus: 1 } as never)).toThrow(/unknown network option "bogus"/)
  })
})

describe('SimKeyAuthority (stand-in for ed25519)', () => {
  it('accepts what a key signed and rejects other keys, other bytes, unknown keys', () => {
    const auth = new SimKeyAuthority(new SimRng(1))
    const k1 = auth.issue()
    const k2 = auth.issue()
    const data = new TextEncoder().encode('record body')
    const sig = k1.sign(data)
    expect(sig.length).toBe(64)
    expect(k2.verify(k1.publicKey, data, sig)).toBe(true)
    expect(k2.verify(k2.publicKey, data, sig)).toBe(false)
    expect(k2.verify(k1.publicKey, new TextEncoder().encode('record bodY'), sig)).toBe(false)
    expect(k2.verify('00'.repeat(32), data, sig)).toBe(false)
    expect(k2.verify(k1.publicKey, data, sig.subarray(0, 63))).toBe(false)
    expect(k1.publicKey).toMatch(/^[0-9a-f]{64}$/)
  })
})

describe('Simulation: stalls', () => {
  it('holds a stalled node’s inputs, in order, until the pause ends; its links stay up', () => {
    const { s, b } = pair()
    s.stall('b', 100)
    s.input('a', { type: 'say', to: 'b', text: 'one' })
    s.input('a', { type: 'say', to: 'b', text: 'two' })
    s.runFor(50)
    expect(texts(b)).toEqual([])
    s.runFor(100)
    expect(b.heard.filter((h) => h.kind === 'app')).toEqual([
      { at: 105, kind: 'app', peer: 'a', text: 'one' },
      { at: 105, kind: 'app', peer: 'a', text: 'two' },
    ])
    expect(s.linksOf('a')).toEqual(['b'])
    expect(() => s.stall('ghost', 1)).toThrow(/not up/)
  })

  it('wakes a stalled node to its timers before the input held for it (Node runs due timers before it reads sockets)', () => {
    const { s, b } = pair()
    b.heard.length = 0
    s.stall('b', 100)
    s.input('a', { type: 'say', to: 'b', text: 'early' }) // arrives at 6, during the pause
    s.runFor(200)
    expect(b.heard.map((h) => `${h.at} ${h.kind}${h.text ? ` ${h.text}` : ''}`)).toEqual(['105 tick', '105 app early'])
    expect(() => s.stall('ghost', 1)).toThrow(/not up/)
  })
})
