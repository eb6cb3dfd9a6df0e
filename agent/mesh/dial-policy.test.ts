import type Hyperswarm from 'hyperswarm'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { silentLogger, type Rng } from '../protocol/ports.js'
import { DialPolicy } from './dial-policy.js'
import { newTransportStats } from './transport-stats.js'

const SELF = '5'.repeat(64)
const SMALLER = '1'.repeat(64)
const GREATER = '9'.repeat(64)

/** An Rng whose next() always answers `x`: the hold-off is then h/2 + x*h/2. */
const fixedRng = (x: number): Rng => ({ next: () => x, int: (n) => Math.floor(x * n) })

function setup(opts: { rng: Rng; inboundAt?: () => number | undefined }) {
  const joined: string[] = []
  const left: string[] = []
  const events: string[] = []
  const linked = new Set<string>()
  const swarm = {
    joinPeer: (k: Uint8Array) => joined.push(Buffer.from(k).toString('hex')),
    leavePeer: (k: Uint8Array) => left.push(Buffer.from(k).toString('hex')),
  } as unknown as Hyperswarm
  const stats = newTransportStats()
  const dials = new DialPolicy({
    selfId: 'self',
    selfKey: SELF,
    greaterKeyHoldOffMs: 600,
    dialTimeoutMs: 8000,
    rng: opts.rng,
    stats,
    log: silentLogger,
    emit: (event, ...args) => void events.push(`${event} ${String(args[0])}`),
    linked: (p) => linked.has(p),
    lastInboundAttempt: () => opts.inboundAt?.(),
  })
  dials.attach(swarm)
  return { dials, joined, left, events, linked, stats }
}

describe('dial policy', () => {
  beforeEach(() => void vi.useFakeTimers())
  afterEach(() => void vi.useRealTimers())

  it('dials a smaller key at once', () => {
    const t = setup({ rng: fixedRng(0) })
    t.dials.request('small', SMALLER)
    expect(t.joined).toEqual([SMALLER])
    expect(t.stats.dials).toBe(1)
  })

  it('holds a greater key off for a random time in [h/2, h] drawn from the injected Rng', () => {
    const early = setup({ rng: fixedRng(0) })
    early.dials.request('big', GREATER)
    vi.advanceTimersByTime(299)
    expect(early.joined).toEqual([])
    expect(early.dials.busy('big')).toBe(true)
    vi.advanceTimersByTime(1)
    expect(early.joined).toEqual([GREATER])

    const late = setup({ rng: fixedRng(0.99) })
    late.dials.request('big', GREATER)
    vi.advanceTimersByTime(590)
    expect(late.joined).toEqual([])
    vi.advanceTimersByTime(10)
    expect(late.joined).toEqual([GREATER])
  })

  it('leaves a greater key be when it dialled us during the hold-off, and reports nothing', () => {
    let inboundAt: number | undefined
    const t = setup({ rng: fixedRng(0), inboundAt: () => inboundAt })
    t.dials.request('big', GREATER)
    vi.advanceTimersByTime(100)
    inboundAt = Date.now()
    vi.advanceTimersByTime(20_000)
    expect(t.joined).toEqual([])
    expect(t.events).toEqual([])
    expect(t.dials.busy('big')).toBe(false)
  })

  it('lets a held-off dial go when enough links came up meanwhile: tells the mesh, counts it; a dial still wanted goes', () => {
    let links = 7
    const wanted = () => links < 8
    const t = setup({ rng: fixedRng(0) })
    t.dials.request('big', GREATER, wanted)
    vi.advanceTimersByTime(100)
    links = 8 // peers dialled us during the hold-off
    vi.advanceTimersByTime(200)
    expect(t.joined).toEqual([])
    expect(t.events).toEqual(['disconnected big'])
    expect(t.stats.dialsDropped).toBe(1)
    expect(t.dials.busy('big')).toBe(false)

    // Still short when the hold-off ends: it dials, whatever the count was when asked.
    links = 9
    const u = setup({ rng: fixedRng(0) })
    u.dials.request('big', GREATER, wanted)
    links = 7
    vi.advanceTimersByTime(300)
    expect(u.joined).toEqual([GREATER])
    expect(u.events).toEqual([])
    expect(u.stats.dialsDropped).toBe(0)

    // A smaller key is dialled at once: nothing to wait for, so nothing is let go.
    links = 20
    const v = setup({ rng: fixedRng(0) })
    v.dials.request('small', SMALLER, wanted)
    expect(v.joined).toEqual([SMALLER])
  })

  it('a held-off dial the transport started itself (a seed) is let go silently: the mesh never asked', () => {
    const t = setup({ rng: fixedRng(0) })
    t.dials.reach('big', GREATER, () => false)
    vi.advanceTimersByTime(300)
    expect(t.joined).toEqual([])
    expect(t.events).toEqual([])
    expect(t.stats.dialsDropped).toBe(1)
  })

  it('gives up a dial after the timeout: leaves the peer and tells the mesh it is disconnected', () => {
    const t = setup({ rng: fixedRng(0) })
    t.dials.request('small', SMALLER)
    vi.advanceTimersByTime(7999)
    expect(t.events).toEqual([])
    vi.advanceTimersByTime(1)
    expect(t.left).toEqual([SMALLER])
    expect(t.events).toEqual(['disconnected small'])
  })

  it('a link that comes up cancels the pending dial: no give-up, no disconnected', () => {
    const t = setup({ rng: fixedRng(0) })
    t.dials.request('small', SMALLER)
    t.linked.add('small')
    t.dials.connected('small')
    vi.advanceTimersByTime(20_000)
    expect(t.left).toEqual([])
    expect(t.events).toEqual([])
  })
})
