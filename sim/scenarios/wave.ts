/**
 * wave: upgrade waves under seeded fault schedules, with the reboot-lease vote
 * (agent/protocol/vote) in every node. Each seed runs one wave to completion; the
 * invariant checker runs at every step and a violation prints the seed and a readable
 * trace. Prints violations (expected: none) and the makespan distribution.
 *
 *   npm run sim -- --scenario wave --nodes 200 --k 2 --seeds 1-10000 [--domains D] [-o json]
 */
import { runWave, summarize } from '../wave/run-wave.js'
import { waveSimConfig } from '../wave/wave-config.js'
import { defaultCephConfig } from '../models/ceph-model.js'
import { ShoalError } from '../../agent/protocol/errors.js'
import type { WaveResult } from '../wave/wave-world.js'
import type { IntRange, Scenario } from './scenario.js'

export const wave: Scenario = {
  name: 'wave',
  summary: 'upgrade waves with the reboot-lease vote under seeded faults; invariants checked at every step; makespan vs ceil(N/K) x cycle',
  defaultNodes: 200,
  options: {
    seeds: { type: 'range', description: 'seeds to run, A-B inclusive (default: --seed alone)' },
    k: { type: 'int', description: 'slots: the wave\'s max-unavailable K', default: 2, min: 1, max: 1024 },
    domains: { type: 'int', description: 'failure domains (racks); nodes spread round-robin', default: 4, min: 1 },
    policy: { type: 'string', description: 'rank: domains order the ranking; one-at-a-time: slots never span two domains', default: 'rank', choices: ['rank', 'one-at-a-time'] },
    'pool-size': { type: 'int', description: 'Ceph pool size: replicas per PG', default: 3, min: 1, max: 10 },
    'min-size': { type: 'int', description: 'Ceph pool min_size: replicas a PG needs to stay active (at most --pool-size)', default: 2, min: 1, max: 10 },
    placement: { type: 'string', description: 'Ceph CRUSH failure domain: domain (rack) or host', default: 'domain', choices: ['domain', 'host'] },
    faults: { type: 'string', description: 'on: seeded fault schedules; off: a clean wave', default: 'on', choices: ['on', 'off'] },
    operator: { type: 'string', description: 'on: once faults heal, the operator retires nodes that never came back; off: nobody does (such waves must halt, counted as halted)', default: 'on', choices: ['on', 'off'] },
    trace: { type: 'boolean', description: 'print the whole trace of each seed (use with one seed)' },
  },
  run(ctx) {
    const range = (ctx.options.seeds as IntRange | undefined) ?? { from: ctx.seed, to: ctx.seed }
    const size = ctx.options['pool-size'] as number
    const minSize = ctx.options['min-size'] as number
    if (minSize > size) throw new ShoalError('usage', `--min-size ${minSize} is above --pool-size ${size}: Ceph refuses min_size above size`)
    const cfg = waveSimConfig({
      nodes: ctx.nodes,
      k: ctx.options.k as number,
      domains: ctx.options.domains as number,
      policy: ctx.options.policy as 'rank' | 'one-at-a-time',
      ceph: { ...defaultCephConfig, size, minSize },
    })
    cfg.ceph.placeBy = ctx.options.placement as 'domain' | 'host'
    cfg.faults.enabled = ctx.options.faults === 'on'
    cfg.faults.operator = ctx.options.operator !== 'off'
    if (ctx.network.lossProbability) cfg.faults.maxLoss = ctx.network.lossProbability
    if (ctx.network.duplicateProbability) cfg.faults.maxDuplicate = ctx.network.duplicateProbability
    if (ctx.network.reorderProbability) cfg.faults.maxReorder = ctx.network.reorderProbability
    const trace = ctx.options.trace === true
    ctx.log(`wave: K=${cfg.k}, ${cfg.domains} domain(s), policy ${cfg.policy}, Ceph placement by ${cfg.ceph.placeBy}, pool size ${cfg.ceph.size} / min_size ${cfg.ceph.minSize}, faults ${ctx.options.faults}, seeds ${range.from}-${range.to}`)
    const results: WaveResult[] = []
    // Wall time is measured but never printed in table output (the same seed prints the same text).
    const t0 = performance.now()
    for (let seed = range.from; seed <= range.to; seed++) {
      const r = runWave(cfg, seed, { fullTrace: trace })
      results.push(r)
      if (trace && r.trace) for (const l of r.trace) ctx.log(l)
      if (r.halted) ctx.log(`seed ${seed} ${r.halted}`)
      // One refusal says it for all: the start check does not depend on the seed's faults.
      if (r.refused && results.filter((x) => x.refused).length === 1) ctx.log(`seed ${seed} ${r.refused}`)
      if (r.violation) {
        ctx.log(r.violation.report())
        ctx.log('')
      }
    }
    const s = summarize(cfg, range.from, range.to, results, performance.now() - t0)
    ctx.log(`seeds ${s.seeds}: violations ${s.violations} (safety ${s.safetyViolations}, incomplete ${s.incomplete}); halted by a fault that never heals: ${s.halted}; refused (can never finish): ${s.refused}`)
    if (s.makespanSec) ctx.log(`makespan s: p50 ${s.makespanSec.p50}  p90 ${s.makespanSec.p90}  p99 ${s.makespanSec.p99}  max ${s.makespanSec.max}  (lower bound ceil(N/K) x mean cycle = ${s.lowerBoundSec})`)
    if (s.ratio) ctx.log(`makespan / lower bound: p50 ${s.ratio.p50}  p90 ${s.ratio.p90}  p99 ${s.ratio.p99}  max ${s.ratio.max}`)
    ctx.log(`vote messages per granted lease: ${s.messagesPerLease ?? '-'}; most holders at once: ${s.maxHolders}`)
    if (s.failedSeeds.length > 0) ctx.log(`failed seeds: ${s.failedSeeds.join(' ')}`)
    return {
      ok: s.violations === 0,
      summary: {
        seeds: s.seeds,
        seedFrom: range.from,
        seedTo: range.to,
        k: s.k,
        domains: s.domains,
        violations: s.violations,
        safetyViolations: s.safetyViolations,
        incomplete: s.incomplete,
        halted: s.halted,
        refused: s.refused,
        makespanRatio: s.makespanRatio ?? null,
        makespanP50Sec: s.makespanSec?.p50 ?? null,
        makespanP90Sec: s.makespanSec?.p90 ?? null,
        makespanP99Sec: s.makespanSec?.p99 ?? null,
        makespanMaxSec: s.makespanSec?.max ?? null,
        ratioP90: s.ratio?.p90 ?? null,
        ratioMax: s.ratio?.max ?? null,
        lowerBoundSec: s.lowerBoundSec,
        messagesPerLease: s.messagesPerLease ?? null,
        maxHolders: s.maxHolders,
        failedSeeds: s.failedSeeds.join(' '),
      },
    }
  },
}
