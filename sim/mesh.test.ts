/**
 * The production MeshNode on the simulator: the deterministic sim tests.
 * Every run prints its seed on failure (in the assertion message), and the seed reproduces it.
 */
import { describe, expect, it } from 'vitest'
import { DropReason } from '../agent/protocol/errors.js'
import { pack } from '../agent/protocol/frame.js'
import { claimBytes } from '../agent/protocol/messages.js'
import { suspicionTimeoutMs } from '../agent/protocol/suspicion.js'
import { MeshCluster } from './engine/mesh-cluster.js'

const SEED = 7

describe('mesh on the simulator (LAN latencies)', () => {
  it('N=100 powered on at once, knowing nothing, converges; a new node then reaches everyone', () => {
    const c = new MeshCluster({ seed: SEED, rosterSize: 101 })
    c.startFirst(100)
    const convergeMs = c.runToConvergence(10_000)
    expect(convergeMs, `seed ${SEED}: converged fraction ${c.knowledge.convergedFraction()}`).toBeDefined()
    c.sim.runFor(2000)
    c.sim.start('w0101')
    const w = c.knowledge.watchRecord('w0101')
    c.sim.runUntilTrue(() => w.reachedAt.size === w.observers.size && c.knowledge.informed('w0101'), c.sim.now + 5000)
    expect(w.timeTo(1), `seed ${SEED}`).toBeDefined()
    expect(c.knowledge.informed('w0101')).toBe(true)
    expect(c.knowledge.converged()).toBe(true)
  })

  it('a silent crash is detected by every live node, with no live node marked dead', () => {
    const c = new MeshCluster({ seed: SEED, rosterSize: 100 })
    c.warmStart(100)
    c.sim.runFor(5000)
    c.sim.crash('w0042')
    const from = c.sim.now
    const at = c.sim.runUntilTrue(() => c.knowledge.deadEverywhere('w0042'), from + 30_000)
    expect(at, `seed ${SEED}: dead at ${c.knowledge.deadAt('w0042')} of 99`).toBeDefined()
    c.sim.runFor(10_000)
    expect(c.knowledge.falseAccusations.filter((f) => f.status === 'dead'), `seed ${SEED}`).toEqual([])
    expect(c.knowledge.falseDead, `seed ${SEED}`).toBe(0)
    // The survivors still agree on everything else.
    expect(c.knowledge.converged()).toBe(true)
  })

  it('a partition that outlasts the link timeout heals: everyone alive and current again', () => {
    const c = new MeshCluster({ seed: SEED, rosterSize: 40 })
    c.warmStart(40)
    c.sim.runFor(5000)
    const side = c.ids.filter((_, i) => i % 2 === 0)
    c.sim.partition([side])
    c.sim.runFor(20_000) // past the 13 s link timeout: connections across break
    // The split was real: each side holds the other dead.
    expect(c.knowledge.held(c.ids[0]!, c.ids[1]!).status).toBe('dead')
    expect(c.knowledge.held(c.ids[1]!, c.ids[0]!).status).toBe('dead')
    c.sim.heal()
    const healMs = c.runToConvergence(60_000)
    expect(healMs, `seed ${SEED}: ${(c.knowledge.convergedFraction() * 100).toFixed(2)}% of pairs converged`).toBeDefined()
  })

  it('a restarted node (RAM only: it remembers nothing) is alive and current everywhere again', () => {
    const c = new MeshCluster({ seed: SEED, rosterSize: 50 })
    c.warmStart(50)
    c.sim.runFor(3000)
    c.sim.crash('w0007')
    c.sim.runUntilTrue(() => c.knowledge.deadEverywhere('w0007'), c.sim.now + 30_000)
    expect(c.knowledge.deadEverywhere('w0007')).toBe(true)
    c.sim.start('w0007')
    const ms = c.runToConvergence(30_000)
    expect(ms, `seed ${SEED}`).toBeDefined()
  })

  it('drops and counts frames that are not valid messages, and carries on', () => {
    const c = new MeshCluster({ seed: SEED, rosterSize: 10 })
    c.warmStart(10)
    c.sim.runFor(1000)
    const [peer] = c.sim.linksOf('w0001')
    c.sim.injectBytes('w0001', peer!, pack({ v: 99, t: 'ping', seq: 1 }))
    c.sim.injectBytes('w0001', peer!, pack({ v: 1, t: 'ping', seq: -5 }))
    c.sim.injectBytes('w0001', peer!, new Uint8Array([0x92, 0x01]))
    c.sim.runFor(100)
    const counters = c.sim.process(peer!)!.counters
    expect(counters['dropped.bad-version']).toBe(1)
    expect(counters['dropped.schema']).toBe(1)
    expect(c.sim.stats.badFrames).toBe(3)
    expect(c.knowledge.converged()).toBe(true)
  })

  it('an insider\'s signed dead claim cannot outlive its subject: at 2^53-1 it is dropped, at the highest plausible incarnation it is refuted within the suspicion time', () => {
    const c = new MeshCluster({ seed: SEED, rosterSize: 20 })
    c.warmStart(20)
    c.sim.runFor(3000)
    // The longest a suspicion lasts here (nobody confirms it): Lifeguard's maximum plus a probe interval.
    const cfg = c.config
    const suspicionMs = suspicionTimeoutMs({ clusterSize: 20, probeIntervalMs: cfg.probeIntervalMs, minMult: cfg.suspicionMinMult, maxMult: cfg.suspicionMaxMult, confirmationsWanted: cfg.suspicionConfirmations, confirmations: 0 }) + cfg.probeIntervalMs
    const lie = (inc: number) => {
      const claim = { about: 'w0009', inc, status: 'dead' as const, by: 'w0003' }
      return { v: 1 as const, t: 'gossip' as const, h: 0, u: { k: 'claim' as const, ...claim, sig: c.keyringOf('w0003').sign(claimBytes(claim)) } }
    }
    const aliveEverywhere = () => c.sim.ids().every((id) => c.sim.process(id)!.member('w0009')?.status === 'alive')
    const [peer] = c.sim.linksOf('w0003')
    c.sim.input(peer!, { type: 'message', from: 'w0003', msg: lie(Number.MAX_SAFE_INTEGER) })
    c.sim.runFor(suspicionMs)
    expect(c.sim.process(peer!)!.counters[`dropped.${DropReason.implausibleIncarnation}`], `seed ${SEED}`).toBe(1)
    expect(aliveEverywhere(), `seed ${SEED}`).toBe(true)
    // The highest value a receiver accepts (its clock + the allowed skew): believed, then outbid.
    const inc = Math.floor(c.sim.clock / 1000) + cfg.maxClockSkewMs / 1000
    const from = c.sim.now
    c.sim.input(peer!, { type: 'message', from: 'w0003', msg: lie(inc) })
    expect(c.sim.runUntilTrue(() => c.sim.process(peer!)!.member('w0009')!.status === 'dead', from + 1000), `seed ${SEED}: the claim was believed`).toBeDefined()
    const at = c.sim.runUntilTrue(() => aliveEverywhere() && c.sim.ids().every((id) => c.sim.process(id)!.member('w0009')!.inc > inc), from + suspicionMs)
    expect(at, `seed ${SEED}: w0009 not alive everywhere again within ${suspicionMs} ms`).toBeDefined()
  })
})
