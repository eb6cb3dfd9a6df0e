/**
 * The K=2 regression with Ceph placed by host (the host-placement seed sweep itself is the
 * N=8 K=2 host case of test/vote-sweep-a.test.ts): every host its own failure domain, any
 * two hosts share PGs, so K=2 is exactly where a per-node ok-to-stop is not enough; with
 * production's upgrade cycle (agent/protocol/upgrade-cycle) in every simulated node: the
 * joint ok-to-stop before noout and right before each reboot, the fence before every
 * action. Asserts no safety violation — never more than K holders, never two holders of a
 * slot, no reboot without a valid fence, no PG made inactive by a wave reboot — and that
 * the joint rule was exercised (holders did wait on each other). A failure prints its seed
 * and trace; `npm run sim -- --scenario wave --nodes 8 --max-unavailable 2 --domains 3 --placement host
 * --seeds S-S --trace` replays it.
 */
import { describe, expect, it } from 'vitest'
import { runWave, summarize } from '../sim/wave/run-wave.js'
import { waveSimConfig } from '../sim/wave/wave-config.js'
import type { WaveWorld } from '../sim/wave/wave-world.js'

describe('vote: Ceph placed by host, K=2, production cycle', () => {
  it('two holders whose hosts share PGs (4 hosts, size 3 / min_size 2), granted by voters that judge each node alone (the old production rule): the second waits at its joint check until the first is back and clean', () => {
    const cfg = waveSimConfig({ nodes: 4, maxUnavailable: 2, domains: 4 })
    cfg.ceph.placeBy = 'host'
    cfg.faults.enabled = false
    let bothHeldOneDown = 0
    let twoDown = 0
    const r = runWave(cfg, 21, {
      script: (w: WaveWorld) => {
        // The voters' port answers per node, against what is down now (what production's
        // MeshClusterView did): so a second holder is granted while the first still drains.
        // Without the cycle's re-check right before the reboot, the second one went down
        // beside the first: invariant (d), 134 PGs inactive at this seed.
        ;(w as unknown as { okToStop(hosts: readonly string[]): boolean }).okToStop = (hosts) => hosts.every((h) => w.ceph.okToStop([h]))
        const sample = () => {
          const down = w.order.filter((n) => !n.up).length
          if (down > 1) twoDown++
          if (down === 1 && w.checker.holders().length === 2) bothHeldOneDown++
          if (w.completedAt === undefined) w.after(250, sample)
        }
        w.at(w.waveStartAt, sample)
      },
    })
    if (r.violation) throw new Error(r.violation.report())
    expect(r.completed).toBe(true)
    expect(r.maxHolders).toBe(2) // K=2 slots were both taken...
    expect(bothHeldOneDown).toBeGreaterThan(0) // ...while one holder was down,
    expect(r.jointWaits).toBeGreaterThan(0) // the other waited on the joint question,
    expect(twoDown).toBe(0) // and never went down beside it.
  })
})
