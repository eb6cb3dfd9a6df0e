/**
 * Cold start: every member's vote started within maxClockSkewMs of the moment the wave was
 * asked for (the whole cluster powered on together, then `shoal upgrade start` at once).
 * Had the wave started then, each member might have voted in it in a life it forgot, so
 * each would relearn — from members with whole memory, of which there are none: all
 * abstain for good (seen live: three agents abstaining for 150 s). The coordinator's vote
 * holds such a wave back until the newest member's boot second + BOOT_SLACK_MS +
 * maxClockSkewMs (agent/protocol/vote/cold-start.ts), so no member up now relearns.
 */
import { describe, expect, it } from 'vitest'
import { BOOT_SLACK_MS, waveStartNotBefore } from '../agent/protocol/vote/cold-start.js'
import { VoteNet } from '../agent/protocol/vote/vote-testing.js'

describe('cold start', () => {
  it('three members booted together with the wave: one of them gets the slot within a minute', () => {
    const net = new VoteNet({ ids: ['a', 'b', 'c'], bootedBeforeWave: false })
    const asked = net.now
    net.startWave()
    expect(net.node('coord').currentWave()).toBeUndefined() // held back, not refused
    net.poke()
    net.advance(60_000)
    expect(net.holders()).toHaveLength(1)
    const w = net.node('a').currentWave()!
    expect(w.startedAt).toBeGreaterThan(asked + net.cfg.maxClockSkewMs)
    for (const id of ['a', 'b', 'c']) expect(net.node(id).abstaining).toBe(false)
  })

  it('a wave asked for long after every boot starts at once', () => {
    const net = new VoteNet({ ids: ['a', 'b', 'c'] })
    for (const id of ['a', 'b', 'c']) net.view.boots.set(id, Math.floor(net.now / 1000) - 3600)
    net.startWave()
    expect(net.node('coord').currentWave()?.startedAt).toBe(net.now)
  })
})

describe('waveStartNotBefore', () => {
  it('starts the wave late enough that no member up now relearns (the vote relearns when bootAt + skew >= startedAt)', () => {
    const skew = 5000
    const bootAts = [1_795_000_000_123, 1_795_000_003_999, 1_795_000_001_500]
    const incs = bootAts.map((t) => Math.floor(t / 1000)) // a record's first incarnation: its boot second
    const at = waveStartNotBefore(incs, skew)
    // The agent's own start (the vote's memory) may lag its incarnation by up to BOOT_SLACK_MS.
    for (const bootAt of bootAts) expect(bootAt + BOOT_SLACK_MS - 1000 + skew < at).toBe(true)
    // Not much later than needed.
    expect(at - (Math.max(...bootAts) + skew)).toBeLessThanOrEqual(BOOT_SLACK_MS + 1001)
    // A refutation bumps an incarnation: later, never earlier.
    expect(waveStartNotBefore([...incs, incs[1]! + 3], skew)).toBeGreaterThan(at)
  })

  it('does not hold back a wave when nothing is known', () => {
    expect(waveStartNotBefore([], 5000)).toBe(0)
    expect(waveStartNotBefore([0, 0], 5000)).toBe(0)
  })
})

describe('cold start in the wave simulator (the production vote, every node just restarted)', () => {
  it('every agent started 2 s before the wave was asked for: the coordinator holds it back for seconds, then it completes', async () => {
    const { runWave } = await import('../sim/wave/run-wave.js')
    const { waveSimConfig } = await import('../sim/wave/wave-config.js')
    const cfg = waveSimConfig({ nodes: 5, maxUnavailable: 1, domains: 2 })
    cfg.faults.enabled = false
    const seed = 3
    const r = runWave(cfg, seed, {
      fullTrace: true,
      script: (w) => w.at(w.waveStartAt - 2000, () => { for (const n of w.order) w.restartProcess(n) }),
    })
    expect(r.violation?.report(), `seed ${seed}`).toBeUndefined()
    expect(r.completed).toBe(true)
    expect(r.leases).toBe(5)
  })
})
