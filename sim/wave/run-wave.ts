/**
 * One seeded wave, start to finish, and a sweep over many seeds.
 */
import { WaveViolation } from './invariant-checker.js'
import { scheduleFaults } from './fault-schedule.js'
import { lowerBoundMs, meanCycleMs, type WaveSimConfig } from './wave-config.js'
import { WaveWorld, type WaveResult, type WaveRunOptions } from './wave-world.js'

/** Runs one wave; a broken invariant ends the run and is returned in `violation`. */
export function runWave(cfg: WaveSimConfig, seed: number, opts: WaveRunOptions = {}): WaveResult {
  const w = new WaveWorld(cfg, seed, opts)
  scheduleFaults(w)
  const lb = lowerBoundMs(cfg)
  // Generous: once the faults heal, time for every node one at a time (Ceph may serialise
  // the wave completely), plus a Ceph down-out interval and backfill.
  const deadline = (Number.isFinite(w.healAt) ? w.healAt : w.waveStartAt) + Math.max(3 * lb, 1.5 * cfg.nodes * meanCycleMs(cfg)) + cfg.ceph.downOutMs + cfg.ceph.backfillMs + 600_000
  try {
    w.run(deadline)
    if (w.refused !== undefined) return w.result()
    if (w.completedAt === undefined) {
      // A fault that by design never heals (a node that never came back and that nobody
      // retired): the wave cannot finish, and must not — it halts, keeping what the dead
      // node holds. Correct behaviour, reported apart from liveness failures.
      const unhealed = w.order.filter((n) => n.permanentlyDead && !n.retired)
      if (unhealed.length > 0) {
        const left = w.order.filter((n) => !n.permanentlyDead && (n.image !== 'v2' || !n.facts.healthy)).length
        const held = w.checker.holders().filter((l) => unhealed.some((n) => n.id === l.holder))
        const why = `halted: ${unhealed.map((n) => n.id).join(', ')} never came back and nobody retired ${unhealed.length > 1 ? 'them' : 'it'}${held.length ? `; still holding ${held.map((l) => `slot ${l.slot}`).join(', ')}` : ''}; ${left} live node(s) not done`
        w.checker.trace(why)
        return w.result(undefined, why)
      }
      const waiting = w.order.filter((n) => !n.retired && (n.image !== 'v2' || !n.facts.healthy)).map((n) => n.id)
      const since = Number.isFinite(w.healAt) ? `${((deadline - w.healAt) / 60_000).toFixed(0)} min after the faults healed` : `${((deadline - w.waveStartAt) / 60_000).toFixed(0)} min after it started (no faults)`
      w.checker.fail('e', `the wave did not complete ${since}; ${waiting.length} node(s) not done: ${waiting.slice(0, 8).join(', ')}; holders: ${w.checker.holders().map((l) => `${l.holder}@${l.slot}/${l.term}`).join(', ') || 'none'}`)
    }
    return w.result()
  } catch (err) {
    if (err instanceof WaveViolation) return w.result(err)
    throw err
  }
}

export interface SweepSummary {
  scenario: 'wave'
  nodes: number
  maxUnavailable: number
  domains: number
  placeBy: 'domain' | 'host'
  seeds: number
  seedRange: [number, number]
  violations: number
  safetyViolations: number
  incomplete: number
  /** Waves that stopped short because of a fault that by design never heals (correct; not violations). */
  halted: number
  /** Waves the coordinator's start check refused because they could never finish (correct; not violations). */
  refused: number
  makespanRatio: number | undefined
  makespanSec: { p50: number; p90: number; p99: number; max: number } | undefined
  ratio: { p50: number; p90: number; p99: number; max: number } | undefined
  lowerBoundSec: number
  messagesPerLease: number | undefined
  maxHolders: number
  failedSeeds: number[]
  wallMs: number
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

/** What summarize reads of a run (a WaveResult, or a sweep worker's SeedOutcome). */
export type RunOutcome = Pick<WaveResult, 'seed' | 'makespanMs' | 'ratio' | 'leases' | 'voteMessages' | 'maxHolders' | 'halted' | 'refused'> & { violation: { invariant: string } | undefined }

export function summarize(cfg: WaveSimConfig, from: number, to: number, results: RunOutcome[], wallMs: number): SweepSummary {
  const ms = results.filter((r) => r.makespanMs !== undefined).map((r) => r.makespanMs!).sort((a, b) => a - b)
  const ratios = results.filter((r) => r.ratio !== undefined).map((r) => r.ratio!).sort((a, b) => a - b)
  const failed = results.filter((r) => r.violation)
  const leases = results.reduce((a, r) => a + r.leases, 0)
  const msgs = results.reduce((a, r) => a + r.voteMessages, 0)
  const q = (xs: number[], f: (x: number) => number) => (xs.length ? { p50: f(quantile(xs, 0.5)), p90: f(quantile(xs, 0.9)), p99: f(quantile(xs, 0.99)), max: f(xs[xs.length - 1]!) } : undefined)
  return {
    scenario: 'wave',
    nodes: cfg.nodes,
    maxUnavailable: cfg.maxUnavailable,
    domains: cfg.domains,
    placeBy: cfg.ceph.placeBy ?? 'domain',
    seeds: results.length,
    seedRange: [from, to],
    violations: failed.length,
    safetyViolations: failed.filter((r) => r.violation!.invariant !== 'e').length,
    incomplete: failed.filter((r) => r.violation!.invariant === 'e').length,
    halted: results.filter((r) => r.halted !== undefined).length,
    refused: results.filter((r) => r.refused !== undefined).length,
    makespanRatio: ratios.length ? round(quantile(ratios, 0.5), 4) : undefined,
    makespanSec: q(ms, (x) => round(x / 1000, 1)),
    ratio: q(ratios, (x) => round(x, 4)),
    lowerBoundSec: round(lowerBoundMs(cfg) / 1000, 1),
    messagesPerLease: leases ? round(msgs / leases, 1) : undefined,
    maxHolders: results.reduce((a, r) => Math.max(a, r.maxHolders), 0),
    failedSeeds: failed.map((r) => r.seed).slice(0, 50),
    wallMs: Math.round(wallMs),
  }
}

function round(x: number, d: number): number {
  const p = 10 ** d
  return Math.round(x * p) / p
}
