/**
 * Capped exponential backoff with jitter, for a booting worker retrying the coordinator.
 * Jitter spreads a rack of workers that all lost the coordinator at once, so they do not
 * come back in lockstep when it restarts. Pure: randomness arrives as an Rng.
 */
import type { Rng } from '../protocol/ports.js'

export interface BackoffConfig {
  /** First delay. */
  initialMs: number
  /** Ceiling of any delay. */
  maxMs: number
  /** Growth per consecutive failure. */
  factor: number
  /** Fraction of each delay that is random (0 = none, 0.2 = ±10%). */
  jitter: number
}

export class Backoff {
  private failures = 0
  constructor(
    private readonly cfg: BackoffConfig,
    private readonly rng: Rng,
  ) {}

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const base = Math.min(this.cfg.maxMs, this.cfg.initialMs * this.cfg.factor ** this.failures)
    this.failures++
    const spread = base * this.cfg.jitter
    return Math.max(0, Math.round(base - spread / 2 + spread * this.rng.next()))
  }

  /** After a success: the next failure starts from initialMs again. */
  reset(): void {
    this.failures = 0
  }

  get attempts(): number {
    return this.failures
  }
}
