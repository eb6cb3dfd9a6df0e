/**
 * Token buckets per request source (the peer's IP address): `burst` requests at once, then
 * `perMinute` a minute. The table of sources is bounded: past `maxSources` the bucket that
 * was idle longest is forgotten (its source just starts full again), so a spoofing flood
 * cannot grow memory. Time comes from the injected clock.
 */
import type { Clock } from '../agent/protocol/ports.js'

export interface SourceRateLimitOptions {
  burst: number
  perMinute: number
  maxSources?: number
}

export class SourceRateLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()
  private readonly maxSources: number

  constructor(
    private readonly opts: SourceRateLimitOptions,
    private readonly clock: Clock,
  ) {
    this.maxSources = opts.maxSources ?? 4096
  }

  /** Takes one request's worth for `source`; returns the ms to wait when there is none (0: allowed). */
  take(source: string): number {
    const now = this.clock.now()
    const rate = this.opts.perMinute / 60_000
    let b = this.buckets.get(source)
    if (b) {
      this.buckets.delete(source) // re-inserted below: Map order is least recently used first
      b.tokens = Math.min(this.opts.burst, b.tokens + (now - b.at) * rate)
      b.at = now
    } else {
      if (this.buckets.size >= this.maxSources) this.buckets.delete(this.buckets.keys().next().value!)
      b = { tokens: this.opts.burst, at: now }
    }
    this.buckets.set(source, b)
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return rate > 0 ? Math.ceil((1 - b.tokens) / rate) : Infinity
  }
}
