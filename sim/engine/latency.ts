/**
 * One-way message latency models. A model draws from the run's RNG, so latencies
 * reproduce with the seed. Units: milliseconds.
 */
import type { SimRng } from './rng.js'

export type LatencyModel = (rng: SimRng) => number

/** Uniform in [minMs, maxMs). */
export function uniformLatency(minMs: number, maxMs: number): LatencyModel {
  if (!(minMs >= 0 && maxMs >= minMs)) throw new RangeError(`latency range must satisfy 0 <= min <= max, got ${minMs}..${maxMs}`)
  return (rng) => rng.uniform(minMs, maxMs)
}

/** A fixed latency: handy in unit tests that reason about exact times. */
export function fixedLatency(ms: number): LatencyModel {
  if (!(ms >= 0)) throw new RangeError(`latency must be >= 0, got ${ms}`)
  return () => ms
}

export const latencyPresets = {
  /** One switched provisioning LAN: 0.1–1 ms one way (the model). */
  lan: uniformLatency(0.1, 1),
  /** Racks behind a routed core: 0.5–5 ms. */
  campus: uniformLatency(0.5, 5),
  /** Sites over a WAN: 20–80 ms (not a deployment shoal targets; a stress case). */
  wan: uniformLatency(20, 80),
} as const satisfies Record<string, LatencyModel>

export type LatencyPreset = keyof typeof latencyPresets
