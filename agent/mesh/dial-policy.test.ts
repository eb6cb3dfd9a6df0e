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
