/**
 * How the kube client and the drain retry: a bounded number of tries, each delay from the
 * one backoff (agent/protocol/backoff.ts) with "equal jitter" — uniform in [d/2, d] — and
 * the sleep, clock and randomness injected so tests record the delays instead of waiting.
 */
import { backoffDelay, type BackoffConfig } from '../protocol/backoff.js'

export interface BackoffPolicy {
  /** First delay; 200 ms lets a restarting API server (or a PDB's next pod) come back. */
  baseMs: number
  /** Cap per delay; 5 s matches kubectl's eviction retry period. */
  maxMs: number
  /** Tries in all, the first included. */
  attempts: number
}

export const defaultBackoff: Readonly<BackoffPolicy> = Object.freeze({ baseMs: 200, maxMs: 5000, attempts: 5 })

export interface RetryEnv {
  sleep(ms: number): Promise<void>
  now(): number
  random(): number
}

export const realRetryEnv: RetryEnv = {
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  now: () => Date.now(),
  random: () => Math.random(),
}

/**
 * The policy as a BackoffConfig: uniform in [d/2, d] is centred on 3/4·d with a spread of
 * 2/3 of that centre, d = min(maxMs, baseMs · 2^(n-1)).
 */
export function backoffConfigOf(p: BackoffPolicy): BackoffConfig {
  return { initialMs: (p.baseMs * 3) / 4, maxMs: (p.maxMs * 3) / 4, factor: 2, jitter: 2 / 3 }
}

/** Delay before retry number `n` (1-based): uniform in [d/2, d], d = min(maxMs, baseMs · 2^(n-1)). */
export function retryDelay(p: BackoffPolicy, n: number, random: () => number): number {
  return backoffDelay(backoffConfigOf(p), n - 1, random)
}
