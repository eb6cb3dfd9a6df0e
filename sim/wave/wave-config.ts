/**
 * Parameters of one simulated upgrade wave. Times in ms. Distributions are uniform
 * ranges [min, max]; a fixed value is [x, x].
 */
import type { CephConfig } from '../models/ceph-model.js'
import { defaultCephConfig } from '../models/ceph-model.js'
import type { KubeConfig } from '../models/kube-model.js'
import { defaultKubeConfig } from '../models/kube-model.js'
import type { VoteConfig } from '../../agent/protocol/vote/vote-config.js'
import type { DomainPolicy } from '../../agent/protocol/vote/vote-messages.js'
import { MAX_UNAVAILABLE_LIMIT } from '../../agent/protocol/max-unavailable.js'

export type Range = readonly [number, number]

export interface WaveSimConfig {
  nodes: number
  /**
   * The wave's K: how many nodes may be down at once. The product's one name for it
   * (agent/protocol/max-unavailable.ts: `--max-unavailable`, `maxUnavailable`); the signed
   * wave carries it as `slots`.
   */
  maxUnavailable: number
  /** Failure domains (racks); nodes are spread round-robin. */
  domains: number
  policy: DomainPolicy
  /** Pod termination grace + the drain's tail after the last eviction. */
  drainGraceMs: Range
  /** Power cycle + firmware + netboot until the OS runs. */
  rebootMs: Range
  /** Boot until kubelet reports Ready. */
  kubeletMs: Range
  /** OSD recovery of the host's stale replicas after boot. */
  recoveryMs: Range
  /** Evicted pod until ready elsewhere. */
  podStartMs: Range
  /** How stale a node's view of another node is (gossip reaching 99.9%: see DESIGN). */
  gossipDelayMs: number
  /** One-way latency of a vote message (a few mesh hops). */
  latencyMs: Range
  ceph: CephConfig
  kube: KubeConfig
  vote: Partial<VoteConfig>
  faults: FaultKnobs
}

export interface FaultKnobs {
  enabled: boolean
  /** Faults are injected in [waveStart, waveStart + this fraction of the lower bound]; then all heal. */
  windowFraction: number
  /** Up to this many discrete faults per run. */
  maxFaults: number
  /** Upper bounds for the per-run message fault probabilities (each run draws in [0, max]). */
  maxLoss: number
  maxDuplicate: number
  maxReorder: number
  /** Clock rate error bound (ratio) and offset bound (ms). */
  maxDriftRatio: number
  maxOffsetMs: number
  /**
   * Once the faults heal, the operator retires the nodes that never came back (and
   * force-releases what they held). False: nobody does — those faults never heal, and the
   * wave must halt with a reason (reported as `halted`, not as a liveness failure).
   */
  operator: boolean
}

export const defaultFaultKnobs: Readonly<FaultKnobs> = Object.freeze({
  enabled: true,
  windowFraction: 0.5,
  maxFaults: 6,
  maxLoss: 0.05,
  maxDuplicate: 0.03,
  maxReorder: 0.1,
  maxDriftRatio: 2e-4,
  maxOffsetMs: 1000,
  operator: true,
})

export function waveSimConfig(p: Partial<WaveSimConfig> = {}): WaveSimConfig {
  const c: WaveSimConfig = {
    nodes: 200,
    maxUnavailable: 2,
    domains: 4,
    policy: 'rank',
    drainGraceMs: [5_000, 30_000],
    rebootMs: [60_000, 180_000],
    kubeletMs: [10_000, 30_000],
    recoveryMs: [10_000, 60_000],
    podStartMs: [3_000, 15_000],
    gossipDelayMs: 300,
    latencyMs: [0.2, 3],
    ceph: { ...defaultCephConfig },
    kube: { ...defaultKubeConfig },
    vote: {},
    faults: { ...defaultFaultKnobs },
    ...p,
  }
  if (!Number.isInteger(c.nodes) || c.nodes < 1) throw new RangeError(`--nodes must be a whole number >= 1, got ${c.nodes}`)
  if (!Number.isInteger(c.maxUnavailable) || c.maxUnavailable < 1 || c.maxUnavailable > MAX_UNAVAILABLE_LIMIT) throw new RangeError(`--max-unavailable must be a whole number in 1..${MAX_UNAVAILABLE_LIMIT}, got ${c.maxUnavailable}`)
  if (!Number.isInteger(c.domains) || c.domains < 1) throw new RangeError(`--domains must be a whole number >= 1, got ${c.domains}`)
  if (!Number.isInteger(c.ceph.size) || c.ceph.size < 1 || c.ceph.size > 10) throw new RangeError(`--pool-size must be a whole number in 1..10, got ${c.ceph.size}`)
  if (!Number.isInteger(c.ceph.minSize) || c.ceph.minSize < 1 || c.ceph.minSize > c.ceph.size) throw new RangeError(`--min-size must be a whole number in 1..pool size (${c.ceph.size}), got ${c.ceph.minSize} (Ceph refuses min_size above size)`)
  return c
}

const mid = (r: Range) => (r[0] + r[1]) / 2

/** Mean per-node cycle (drain tail + reboot + the slower of kubelet and OSD recovery). */
export function meanCycleMs(c: WaveSimConfig): number {
  return mid(c.drainGraceMs) + mid(c.rebootMs) + Math.max(mid(c.kubeletMs), mid(c.recoveryMs))
}

/** The lower bound on a wave: ceil(N/K) x cycle. */
export function lowerBoundMs(c: WaveSimConfig): number {
  return Math.ceil(c.nodes / c.maxUnavailable) * meanCycleMs(c)
}

/**
 * The command that replays `seed` of this very case: every flag the wave scenario maps into
 * the config (sim/scenarios/wave.ts, wave-sweep.ts caseConfig), so a pasted line runs
 * exactly the failing run. Network fault ceilings only when they differ from the defaults
 * (the CLI sets them only when given).
 */
export function replayCommand(c: WaveSimConfig, seed: number): string {
  const f = c.faults
  const flags = [
    `--nodes ${c.nodes}`,
    `--max-unavailable ${c.maxUnavailable}`,
    `--domains ${c.domains}`,
    `--policy ${c.policy}`,
    `--placement ${c.ceph.placeBy}`,
    `--pool-size ${c.ceph.size}`,
    `--min-size ${c.ceph.minSize}`,
    `--faults ${f.enabled ? 'on' : 'off'}`,
    `--operator ${f.operator ? 'on' : 'off'}`,
  ]
  if (f.maxLoss !== defaultFaultKnobs.maxLoss) flags.push(`--loss ${f.maxLoss}`)
  if (f.maxDuplicate !== defaultFaultKnobs.maxDuplicate) flags.push(`--dup ${f.maxDuplicate}`)
  if (f.maxReorder !== defaultFaultKnobs.maxReorder) flags.push(`--reorder ${f.maxReorder}`)
  return `npm run sim -- --scenario wave ${flags.join(' ')} --seeds ${seed}-${seed} --trace`
}
