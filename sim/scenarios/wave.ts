/**
 * wave: upgrade waves under seeded fault schedules, with the reboot-lease vote
 * (agent/protocol/vote) in every node. Each seed runs one wave to completion; the
 * invariant checker runs at every step and a violation prints the seed and a readable
 * trace. Prints violations (expected: none) and the makespan distribution.
 *
 *   npm run sim -- --scenario wave --nodes 200 --max-unavailable 2 --seeds 1-10000 [--domains D] [-o json]
 */
import { ShoalError } from '../../agent/protocol/errors.js'
import { MAX_UNAVAILABLE_LIMIT } from '../../agent/protocol/max-unavailable.js'
import type { SweepSummary } from '../wave/run-wave.js'
import { runWave, summarize } from '../wave/run-wave.js'
import { caseConfig, runSweep, type SweepCase } from '../wave/wave-sweep.js'
import type { WaveResult } from '../wave/wave-world.js'
import type { IntRange, Scenario, ScenarioContext } from './scenario.js'

export const wave: Scenario = {
  name: 'wave',
  summary: 'upgrade waves with the reboot-lease vote under seeded faults; invariants checked at every step; makespan vs ceil(N/K) x cycle',
  defaultNodes: 200,
  describesItself: true,
  options: {
    seeds: { type: 'range', description: 'seeds to run, A-B inclusive (default: --seed alone)' },
    'max-unavailable': { type: 'int', description: 'the wave\'s K: at most this many nodes down at once (as in shoal upgrade start)', default: 2, min: 1, max: MAX_UNAVAILABLE_LIMIT },
    domains: { type: 'int', description: 'failure domains (racks); nodes spread round-robin', default: 4, min: 1 },
    policy: { type: 'string', description: 'rank: domains order the ranking; one-at-a-time: slots never span two domains', default: 'rank', choices: ['rank', 'one-at-a-time'] },
    'pool-size': { type: 'int', description: 'Ceph pool size: replicas per PG', default: 3, min: 1, max: 10 },
    'min-size': { type: 'int', description: 'Ceph pool min_size: replicas a PG needs to stay active (at most --pool-size)', default: 2, min: 1, max: 10 },
    placement: { type: 'string', description: 'Ceph CRUSH failure domain: domain (rack) or host', default: 'domain', choices: ['domain', 'host'] },
    faults: { type: 'string', description: 'on: seeded fault schedules; off: a clean wave', default: 'on', choices: ['on', 'off'] },
    operator: { type: 'string', description: 'on: once faults heal, the operator retires nodes that never came back; off: nobody does (such waves must halt, counted as halted)', default: 'on', choices: ['on', 'off'] },
    trace: { type: 'boolean', description: 'print the whole trace of each seed (use with one seed)' },
    workers: { type: 'int', description: 'worker threads for a range of seeds (default: the cores available; 1: this thread)', min: 1, max: 256 },
    matrix: { type: 'string', description: 'a case matrix instead of one case, e.g. "nodes=4,8,16 max-unavailable=1,2 placement=host,domain" (keys nodes, max-unavailable, domains, placement); each case runs --seeds' },
  },
  async run(ctx) {
    const range = (ctx.options.seeds as IntRange | undefined) ?? { from: ctx.seed, to: ctx.seed }
    const poolSize = ctx.options['pool-size'] as number
    const minSize = ctx.options['min-size'] as number
    if (minSize > poolSize) throw new ShoalError('usage', `--min-size ${minSize} is above --pool-size ${poolSize}: Ceph refuses min_size above size`)
    const base: SweepCase = {
      nodes: ctx.nodes,
      maxUnavailable: ctx.options['max-unavailable'] as number,
      domains: ctx.options.domains as number,
      policy: ctx.options.policy as 'rank' | 'one-at-a-time',
      placeBy: ctx.options.placement as 'domain' | 'host',
      poolSize,
      minSize,
      faults: ctx.options.faults === 'on',
      operator: ctx.options.operator !== 'off',
      ...(ctx.network.lossProbability ? { maxLoss: ctx.network.lossProbability } : {}),
      ...(ctx.network.duplicateProbability ? { maxDuplicate: ctx.network.duplicateProbability } : {}),
      ...(ctx.network.reorderProbability ? { maxReorder: ctx.network.reorderProbability } : {}),
      seeds: range,
    }
    const trace = ctx.options.trace === true
    const matrix = ctx.options.matrix as string | undefined
    const cases = matrix ? expandMatrix(base, matrix) : [base]
    let summaries: SweepSummary[]
    if (trace || (cases.length === 1 && range.from === range.to)) {
      summaries = cases.map((c) => runHere(ctx, c, trace))
    } else {
      for (const c of cases) ctx.log(describeCase(c))
      const results = await runSweep(cases, { workers: ctx.options.workers as number | undefined })
      summaries = []
      for (const r of results) {
        if (cases.length > 1) ctx.log(`case ${describeCase(r.case)}`)
        for (const o of r.outcomes) {
          if (o.halted) ctx.log(`seed ${o.seed} ${o.halted}`)
          // One refusal says it for all: the start check does not depend on the seed's faults.
          if (o.refused && o === r.outcomes.find((x) => x.refused)) ctx.log(`seed ${o.seed} ${o.refused}`)
          if (o.violation) {
            ctx.log(o.violation.report)
            ctx.log('')
          }
        }
        printSummary(ctx, r.summary)
        summaries.push(r.summary)
      }
    }
    const s = summaries[0]!
    const violations = summaries.reduce((a, x) => a + x.violations, 0)
    return {
      ok: violations === 0,
      summary: {
        seeds: s.seeds,
        seedFrom: range.from,
        seedTo: range.to,
        // The flag's own name: the same key the options echo carries (a matrix: the first case's).
        'max-unavailable': s.maxUnavailable,
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
        // A matrix: every case's counts, as one JSON text (the summary is flat).
        ...(cases.length > 1
          ? { totalSeeds: summaries.reduce((a, x) => a + x.seeds, 0), totalViolations: violations, cases: JSON.stringify(summaries.map((x) => ({ nodes: x.nodes, maxUnavailable: x.maxUnavailable, domains: x.domains, placeBy: x.placeBy, seeds: x.seeds, violations: x.violations, safetyViolations: x.safetyViolations, incomplete: x.incomplete, halted: x.halted, refused: x.refused, makespanRatio: x.makespanRatio ?? null, failedSeeds: x.failedSeeds.join(' ') }))) }
          : {}),
      },
    }
  },
}

function describeCase(c: SweepCase): string {
  return `wave: ${c.nodes} nodes, K=${c.maxUnavailable}, ${c.domains ?? 4} domain(s), policy ${c.policy ?? 'rank'}, Ceph placement by ${c.placeBy ?? 'domain'}, pool size ${c.poolSize ?? 3} / min_size ${c.minSize ?? 2}, faults ${c.faults === false ? 'off' : 'on'}, seeds ${c.seeds.from}-${c.seeds.to}`
}

/** One case in this thread, seed by seed (and the traces, with --trace). */
function runHere(ctx: ScenarioContext, c: SweepCase, trace: boolean): SweepSummary {
  const cfg = caseConfig(c)
  ctx.log(`wave: ${c.nodes} nodes, K=${cfg.maxUnavailable}, ${cfg.domains} domain(s), policy ${cfg.policy}, Ceph placement by ${cfg.ceph.placeBy}, pool size ${cfg.ceph.size} / min_size ${cfg.ceph.minSize}, faults ${cfg.faults.enabled ? 'on' : 'off'}, seeds ${c.seeds.from}-${c.seeds.to}`)
  const results: WaveResult[] = []
  // Wall time is measured but never printed in table output (the same seed prints the same text).
  const t0 = performance.now()
  for (let seed = c.seeds.from; seed <= c.seeds.to; seed++) {
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
  const s = summarize(cfg, c.seeds.from, c.seeds.to, results, performance.now() - t0)
  printSummary(ctx, s)
  return s
}

function printSummary(ctx: ScenarioContext, s: SweepSummary): void {
  ctx.log(`seeds ${s.seeds}: violations ${s.violations} (safety ${s.safetyViolations}, incomplete ${s.incomplete}); halted by a fault that never heals: ${s.halted}; refused (can never finish): ${s.refused}`)
  if (s.makespanSec) ctx.log(`makespan s: p50 ${s.makespanSec.p50}  p90 ${s.makespanSec.p90}  p99 ${s.makespanSec.p99}  max ${s.makespanSec.max}  (lower bound ceil(N/K) x mean cycle = ${s.lowerBoundSec})`)
  if (s.ratio) ctx.log(`makespan / lower bound: p50 ${s.ratio.p50}  p90 ${s.ratio.p90}  p99 ${s.ratio.p99}  max ${s.ratio.max}`)
  ctx.log(`vote messages per granted lease: ${s.messagesPerLease ?? '-'}; most holders at once: ${s.maxHolders}`)
  if (s.failedSeeds.length > 0) ctx.log(`failed seeds: ${s.failedSeeds.join(' ')}`)
}

/** "nodes=4,8 max-unavailable=1,2 placement=host,domain" over `base`: every combination. */
export function expandMatrix(base: SweepCase, text: string): SweepCase[] {
  const axes: [string, string[]][] = []
  for (const part of text.trim().split(/\s+/)) {
    const m = /^(nodes|max-unavailable|domains|placement)=([\w,]+)$/.exec(part)
    if (!m) throw new ShoalError('usage', `--matrix takes key=v1,v2 pairs (keys nodes, max-unavailable, domains, placement) separated by spaces, not "${part}"`)
    axes.push([m[1]!, m[2]!.split(',').filter((v) => v !== '')])
  }
  let out: SweepCase[] = [base]
  for (const [key, values] of axes) {
    const next: SweepCase[] = []
    for (const c of out) {
      for (const v of values) {
        if (key === 'placement') {
          if (v !== 'host' && v !== 'domain') throw new ShoalError('usage', `--matrix placement must be host or domain, not "${v}"`)
          next.push({ ...c, placeBy: v })
          continue
        }
        const n = Number(v)
        if (!Number.isSafeInteger(n) || n < 1) throw new ShoalError('usage', `--matrix ${key} must be whole numbers >= 1, not "${v}"`)
        next.push({ ...c, [key === 'max-unavailable' ? 'maxUnavailable' : key]: n })
      }
    }
    out = next
  }
  return out
}
