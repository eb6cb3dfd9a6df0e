/**
 * scheduleChurn's account of a slow crash: where its time went (first declared dead, by
 * half, by all) and who still held it otherwise at the target. The day at N=1000 logs one
 * line per crash over 3 s from this, so a slow one explains itself without a re-run.
 */
import { describe, expect, it } from 'vitest'
import { latencyPresets } from '../engine/latency.js'
import { MeshCluster } from '../engine/mesh-cluster.js'
import { scheduleChurn, slowLine } from './soak.js'

const SEED = 11

describe('scheduleChurn', () => {
  it('times each crash from first declared dead to dead everywhere, and records the crashes over the target with their holdouts', () => {
    const cluster = new MeshCluster({ seed: SEED, rosterSize: 40, network: { latency: latencyPresets.lan, lossProbability: 0.01 }, mesh: {} })
    cluster.warmStart(40)
    cluster.sim.runFor(5_000)
    // A target no crash can meet (a probe alone takes longer), so every crash is "slow".
    const churn = scheduleChurn(cluster, 20_000, 10_000, cluster.sim.now + 60_500, 30_000, 500)
    cluster.sim.runFor(90_000)
    expect(churn.count(), `seed ${SEED}`).toBe(3)
    expect(churn.missed(), `seed ${SEED}`).toBe(0)
    expect(churn.deadAtAll).toHaveLength(3)
    expect(churn.firstDead).toHaveLength(3)
    expect(churn.slow).toHaveLength(3)
    for (const [i, c] of churn.slow.entries()) {
      expect(c.allDeadMs).toBe(churn.deadAtAll[i])
      expect(c.firstDeadMs).toBe(churn.firstDead[i])
      expect(c.firstDeadMs).toBeLessThanOrEqual(c.halfDeadMs)
      expect(c.halfDeadMs).toBeLessThanOrEqual(c.allDeadMs)
      // At 500 ms nobody can have declared it dead yet: every other up node is a holdout.
      expect(c.holdouts.alive + c.holdouts.suspect + c.holdouts.unknown, `seed ${SEED}`).toBe(39)
      expect(churn.deadAtRunning[i]!).toBeGreaterThanOrEqual(c.firstDeadMs)
      expect(churn.deadAtRunning[i]!).toBeLessThanOrEqual(c.allDeadMs)
      expect(slowLine(c)).toMatch(new RegExp(`^slow crash: ${c.victim} off at .*by all \\+${c.allDeadMs} ms; at \\+500 ms 39 nodes`))
    }
  })

  it('tells a crash the protocol was slow on from one a frozen node could not see in time', () => {
    const cluster = new MeshCluster({ seed: SEED, rosterSize: 40, network: { latency: latencyPresets.lan, lossProbability: 0 }, mesh: {} })
    cluster.warmStart(40)
    cluster.sim.runFor(5_000)
    const crashAt = cluster.sim.now + 20_000
    const churn = scheduleChurn(cluster, 20_000, 10_000, crashAt + 1)
    // 100 ms after the power-off, one live node freezes for 5 s (a long GC pause).
    let frozen = ''
    cluster.sim.at(crashAt + 100, () => cluster.sim.stall((frozen = cluster.sim.upIds()[0]!), 5_000))
    cluster.sim.runFor(40_000)
    expect(churn.count(), `seed ${SEED}`).toBe(1)
    expect(frozen).not.toBe('')
    const [all] = churn.deadAtAll
    const [running] = churn.deadAtRunning
    // The frozen node learns only when it thaws; everyone else well before.
    expect(all!, `seed ${SEED}`).toBeGreaterThanOrEqual(5_100)
    expect(running!, `seed ${SEED}`).toBeLessThan(3_000)
    expect(churn.slow).toHaveLength(1)
    expect(churn.slow[0]!.holdouts.frozen, `seed ${SEED}`).toBe(1)
  })
})
