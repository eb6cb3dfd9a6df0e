/**
 * The seed sweep: a matrix of cases (nodes, K, domains, Ceph placement, seeds), each seed
 * one wave (run-wave.ts), run across cores on worker threads (node:worker_threads) and
 * summarised per case. The same seed gives the same outcome whichever thread runs it:
 * every run is a pure function of (case, seed).
 *
 *   const [r] = await runSweep([{ nodes: 50, maxUnavailable: 2, seeds: { from: 1, to: 10_000 } }])
 *
 * Used by `npm run sim -- --scenario wave`, the sweep tests (test/vote-sweep*.ts) and
 * `npm run bench -- vote`.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { DomainPolicy } from '../../agent/protocol/vote/vote-messages.js'
import { runWave, summarize, type SweepSummary } from './run-wave.js'
import { waveSimConfig, type WaveSimConfig } from './wave-config.js'
import { defaultCephConfig } from '../models/ceph-model.js'

export interface SweepCase {
  nodes: number
  /** The wave's K (WaveSimConfig.maxUnavailable). */
  maxUnavailable: number
  /** Failure domains (racks). Default 4. */
  domains?: number
  /** Ceph's CRUSH failure domain: the rack (domain) or the host. Default domain. */
  placeBy?: 'domain' | 'host'
  /** Ceph pool size and min_size (defaults 3 and 2). */
  poolSize?: number
  minSize?: number
  policy?: DomainPolicy
  /** Seeded fault schedules (default) or a clean wave. */
  faults?: boolean
  /** Once faults heal, the operator retires what never came back (default true). */
  operator?: boolean
  /** Overrides of the per-run message fault bounds (the CLI's --loss/--dup/--reorder). */
  maxLoss?: number
  maxDuplicate?: number
  maxReorder?: number
  seeds: { from: number; to: number }
}

/** What one seed reports back (a WaveResult without its trace; the report is kept for failures). */
export interface SeedOutcome {
  seed: number
  completed: boolean
  makespanMs: number | undefined
  ratio: number | undefined
  leases: number
  voteMessages: number
  maxHolders: number
  /** Times a holder's joint ok-to-stop said no and it waited. */
  jointWaits: number
  halted: string | undefined
  /** The coordinator's start check refused the wave (it could never finish): why. */
  refused: string | undefined
  violation: { invariant: 'a' | 'b' | 'c' | 'd' | 'e'; message: string; report: string } | undefined
}

export interface SweepCaseResult {
  case: SweepCase
  summary: SweepSummary
  /** Every seed's outcome, in seed order. */
  outcomes: SeedOutcome[]
}

export interface SweepOptions {
  /** Worker threads; 1 runs in this thread. Default: the cores available. */
  workers?: number
  /** Called as each seed finishes (any order). */
  onOutcome?: (caseIndex: number, o: SeedOutcome) => void
}

/** The wave config a case stands for (as `npm run sim -- --scenario wave` builds it). */
export function caseConfig(c: SweepCase): WaveSimConfig {
  const cfg = waveSimConfig({ nodes: c.nodes, maxUnavailable: c.maxUnavailable, domains: c.domains ?? 4, policy: c.policy ?? 'rank', ceph: { ...defaultCephConfig, size: c.poolSize ?? defaultCephConfig.size, minSize: c.minSize ?? defaultCephConfig.minSize } })
  cfg.ceph.placeBy = c.placeBy ?? 'domain'
  cfg.faults.enabled = c.faults ?? true
  cfg.faults.operator = c.operator ?? true
  if (c.maxLoss !== undefined) cfg.faults.maxLoss = c.maxLoss
  if (c.maxDuplicate !== undefined) cfg.faults.maxDuplicate = c.maxDuplicate
  if (c.maxReorder !== undefined) cfg.faults.maxReorder = c.maxReorder
  return cfg
}

/** Runs one seed of one case here. */
export function runSeed(cfg: WaveSimConfig, seed: number): SeedOutcome {
  const r = runWave(cfg, seed)
  return {
    seed,
    completed: r.completed,
    makespanMs: r.makespanMs,
    ratio: r.ratio,
    leases: r.leases,
    voteMessages: r.voteMessages,
    maxHolders: r.maxHolders,
    jointWaits: r.jointWaits,
    halted: r.halted,
    refused: r.refused,
    violation: r.violation ? { invariant: r.violation.invariant, message: r.violation.message, report: r.violation.report() } : undefined,
  }
}

/** A task for a worker: seeds [from, to] of case `ci`. */
interface Task {
  ci: number
  from: number
  to: number
}

/** Seeds per task: small enough to balance the cores, big enough that messaging is noise. */
function batchSize(c: SweepCase): number {
  return Math.max(1, Math.min(50, Math.round(400 / c.nodes)))
}

export async function runSweep(cases: SweepCase[], opts: SweepOptions = {}): Promise<SweepCaseResult[]> {
  for (const c of cases) {
    if (!Number.isSafeInteger(c.seeds.from) || !Number.isSafeInteger(c.seeds.to) || c.seeds.to < c.seeds.from) throw new RangeError(`sweep case: seeds ${c.seeds.from}-${c.seeds.to} is not an ascending range`)
    caseConfig(c) // validates nodes, maxUnavailable, domains
  }
  const t0 = performance.now()
  const tasks: Task[] = []
  cases.forEach((c, ci) => {
    const b = batchSize(c)
    for (let s = c.seeds.from; s <= c.seeds.to; s += b) tasks.push({ ci, from: s, to: Math.min(c.seeds.to, s + b - 1) })
  })
  const byCase: SeedOutcome[][] = cases.map(() => [])
  const take = (ci: number, o: SeedOutcome) => {
    byCase[ci]!.push(o)
    opts.onOutcome?.(ci, o)
  }
  const workers = Math.max(1, Math.min(opts.workers ?? availableParallelism(), tasks.length))
  if (workers === 1) {
    const cfgs = cases.map(caseConfig)
    for (const t of tasks) for (let s = t.from; s <= t.to; s++) take(t.ci, runSeed(cfgs[t.ci]!, s))
  } else {
    await runOnWorkers(cases, tasks, workers, take)
  }
  const wallMs = performance.now() - t0
  return cases.map((c, ci) => {
    const outcomes = byCase[ci]!.sort((a, b) => a.seed - b.seed)
    return { case: c, outcomes, summary: summarize(caseConfig(c), c.seeds.from, c.seeds.to, outcomes, wallMs) }
  })
}

const WORKER_URL = new URL('./wave-sweep-worker.ts', import.meta.url).href

async function runOnWorkers(cases: SweepCase[], tasks: Task[], n: number, take: (ci: number, o: SeedOutcome) => void): Promise<void> {
  let next = 0
  const pool: Worker[] = []
  try {
    await new Promise<void>((resolve, reject) => {
      let busy = 0
      const feed = (w: Worker) => {
        const t = tasks[next++]
        if (!t) {
          if (--busy === 0) resolve()
          return
        }
        w.postMessage(t)
      }
      for (let i = 0; i < n; i++) {
        // The worker loads TypeScript through tsx, as every entry point of this repository does.
        const w = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL)}) })`, { eval: true, workerData: { cases } })
        pool.push(w)
        busy++
        w.on('message', (m: { ci: number; outcomes: SeedOutcome[]; done: boolean } | { ready: true }) => {
          if ('ready' in m) return feed(w)
          for (const o of m.outcomes) take(m.ci, o)
          if (m.done) feed(w)
        })
        w.on('error', reject)
        w.on('exit', (code) => {
          if (code !== 0) reject(new Error(`sweep worker exited with code ${code}`))
        })
      }
    })
  } finally {
    await Promise.all(pool.map((w) => w.terminate()))
  }
}
