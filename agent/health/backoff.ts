/**
 * Exponential backoff with full jitter, and a retry loop bounded by attempts and a deadline.
 * Time and randomness are injected so tests can record the delays instead of waiting.
 */
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

/** Delay before retry number `n` (1-based): uniform in [d/2, d], d = min(max, base * 2^(n-1)). */
export function backoffDelay(p: BackoffPolicy, n: number, random: () => number): number {
  const d = Math.min(p.maxMs, p.baseMs * 2 ** Math.max(0, n - 1))
  return Math.round(d / 2 + (random() * d) / 2)
}
