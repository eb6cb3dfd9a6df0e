/**
 * The simulator names, in each `view-changed`, whose facts turned visible since its last
 * poke; a vote skips a view change that names nobody it watches (agent/protocol/vote/
 * view-change.ts). That is only an optimisation: the same seeds with every view change
 * run in full (the names stripped) must give the very same waves. Seed 7 at N=50 once
 * differed by one event — a change named a hair before `facts` showed it (floating point:
 * (t + delay) - t < delay) — before node-views.ts named a change only once it is visible.
 */
import { describe, expect, it } from 'vitest'
import { runWave } from '../sim/wave/run-wave.js'
import { waveSimConfig } from '../sim/wave/wave-config.js'
import type { WaveWorld } from '../sim/wave/wave-world.js'

function outcome(r: ReturnType<typeof runWave>) {
  return { makespanMs: r.makespanMs, leases: r.leases, messagesByKind: r.messagesByKind, events: r.events, maxUnavailable: r.maxUnavailable, violation: r.violation?.message, jointWaits: r.jointWaits }
}

/** Every view change in full: the `changed` names stripped before the vote sees them. */
const unnamed = (w: WaveWorld) => {
  const step = w.stepVote.bind(w)
  w.stepVote = (n, input) => step(n, input.type === 'view-changed' ? { type: 'view-changed' } : input)
}

describe('quiet view changes change no seeded outcome', () => {
  const cases = [
    { nodes: 50, k: 2, placeBy: 'domain' as const, seeds: [7] },
    { nodes: 16, k: 3, placeBy: 'host' as const, seeds: [1, 2, 3, 4] },
    { nodes: 8, k: 2, placeBy: 'domain' as const, seeds: [1, 2, 3, 4, 5, 6] },
  ]
  for (const c of cases) {
    it(`N=${c.nodes} K=${c.k} ${c.placeBy}, seeds ${c.seeds.join(',')}: the same waves with and without the names`, () => {
      const cfg = waveSimConfig({ nodes: c.nodes, maxUnavailable: c.k, domains: 4 })
      cfg.ceph.placeBy = c.placeBy
      for (const seed of c.seeds) {
        const named = runWave(cfg, seed)
        const full = runWave(cfg, seed, { script: unnamed })
        expect(named.completed, `seed ${seed}`).toBe(true)
        expect(outcome(named), `seed ${seed}`).toEqual(outcome(full))
      }
    })
  }
})
