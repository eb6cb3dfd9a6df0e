/**
 * What a scenario is: a module in sim/scenarios/<name>.ts, registered in index.ts, that
 * declares its own command-line options and runs one seeded simulation. The CLI
 * (sim/cli.ts) parses the common flags and the chosen scenario's flags, then calls `run`.
 *
 * Output must be a function of the arguments alone (no wall-clock time), so the same
 * seed prints byte-identical text: `log` lines for people, `summary` for scripts.
 */
import type { MeshConfig } from '../../agent/protocol/mesh-config.js'
import type { MeshCluster } from '../engine/mesh-cluster.js'
import type { NetworkConfig } from '../engine/network.js'

export type OptionSpec =
  | { type: 'int'; description: string; default?: number; min?: number; max?: number }
  | { type: 'number'; description: string; default?: number; min?: number; max?: number }
  | { type: 'string'; description: string; default?: string; choices?: readonly string[] }
  | { type: 'boolean'; description: string }
  /** "A-B" or "A": an inclusive range of non-negative integers, e.g. `--seeds 1-10000`. */
  | { type: 'range'; description: string; default?: string }

export interface IntRange {
  from: number
  to: number
}

export type OptionValue = number | string | boolean | IntRange

export interface ScenarioContext {
  nodes: number
  seed: number
  /** Network model chosen by the common flags (--latency, --loss, --dup, --reorder). */
  network: Partial<NetworkConfig>
  /** Overrides of the mesh's `sim` preset (--mesh key=value,...), already validated. */
  mesh: Partial<MeshConfig>
  /** The common --latency preset name, for the summary. */
  latency: string
  /** `warm`: nodes start with the cluster's records (see MeshCluster.warmStart); `cold`: all power on at once knowing nothing. */
  start: 'warm' | 'cold'
  /** This scenario's own options, parsed and defaulted (keys as declared, e.g. "joins"). */
  options: Record<string, OptionValue | undefined>
  /** A line for people (table output). Never include wall-clock time. */
  log(line: string): void
  /** Called with the mesh cluster a scenario builds, before it runs (a benchmark samples memory through it). */
  onCluster?(cluster: MeshCluster): void
}

export interface ScenarioResult {
  /** Flat figures; ms values end in `Ms`. The CLI adds scenario, nodes, seed. */
  summary: Record<string, number | string | boolean | null>
  /** False when a figure could not be measured (e.g. no convergence before the deadline): exit code 1. */
  ok: boolean
}

export interface Scenario {
  readonly name: string
  /** One line for --help. */
  readonly summary: string
  readonly options: Readonly<Record<string, OptionSpec>>
  /** Default for --nodes when the user gives none. */
  readonly defaultNodes?: number
  /** The scenario prints its own first line (the common one, with --nodes/--seed/--latency, would mislead: e.g. a wave matrix). */
  readonly describesItself?: boolean
  run(ctx: ScenarioContext): ScenarioResult | Promise<ScenarioResult>
}
