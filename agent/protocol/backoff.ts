/**
 * The one backoff of shoal: capped exponential growth with jitter around each delay, so a
 * rack of workers that lost the coordinator at once (or agents that all saw one API server
 * restart) do not come back in lockstep. Pure: randomness arrives as an Rng (or its `next`),
 * and the caller sleeps on its own clock, so tests record the delays instead of waiting.
 */
import type { Rng } from './ports.js'

export interface BackoffConfig {
  /** Centre of the first delay. */
  initialMs: number
  /** Ceiling of the centre of any delay (jitter spreads around it). */
  maxMs: number
  /** Growth per consecutive failure. */
  factor: number
  /** Fraction of each delay that is random, centred on it (0 = none, 0.2 = ±10%). */
  jitter: number
}

/**
 * The delay after `failures` earlier consecutive failures (0 before the first retry):
 * uniform in [c - c·jitter/2, c + c·jitter/2], c = min(maxMs, initialMs · factor^failures).
 * `random` is uniform in [0, 1) (Rng.next).
 */
export function backoffDelay(cfg: BackoffConfig, failures: number, random: () => number): number {
  const base = Math.min(cfg.maxMs, cfg.initialMs * cfg.factor ** Math.max(0, failures))
  const spread = base * cfg.jitter
  return Math.max(0, Math.round(base - spread / 2 + spread * random()))
}

/** backoffDelay with its count of failures kept: next() after each failure, reset() after a success. */
export class Backoff {
  private failures = 0
  constructor(
    private readonly cfg: BackoffConfig,
    private readonly rng: Rng,
  ) {}

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    return backoffDelay(this.cfg, this.failures++, () => this.rng.next())
  }

  /** After a success: the next failure starts from initialMs again. */
  reset(): void {
    this.failures = 0
  }

  get attempts(): number {
    return this.failures
  }
}
