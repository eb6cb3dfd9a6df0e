/**
 * A token bucket of bytes: `bytesPerSec` refill, at most `burstBytes` saved up. The upload
 * cap of a worker that runs workloads (its chunk server must not eat the NIC its pods
 * need) and of the storm benchmark's coordinator uplink. `take(n)` books n bytes and says
 * how long to wait before sending them; bookings queue up, so concurrent senders share
 * the rate fairly in arrival order. Time comes from the injected clock.
 */
import type { Clock } from './ports.js'

export class ByteBucket {
  private tokens: number
  private at: number

  constructor(
    readonly bytesPerSec: number,
    readonly burstBytes: number,
    private readonly clock: Clock,
  ) {
    if (!(bytesPerSec > 0) || !(burstBytes > 0)) throw new RangeError('ByteBucket: bytesPerSec and burstBytes must be positive')
    this.tokens = burstBytes
    this.at = clock.now()
  }

  /** The ms `n` bytes would wait if booked now; books nothing. */
  peek(n: number): number {
    const tokens = Math.min(this.burstBytes, this.tokens + ((this.clock.now() - this.at) * this.bytesPerSec) / 1000) - n
    return tokens >= 0 ? 0 : Math.ceil((-tokens * 1000) / this.bytesPerSec)
  }

  /** Books `n` bytes; returns the ms to wait before sending them (0: now). May go into debt. */
  take(n: number): number {
    const now = this.clock.now()
    this.tokens = Math.min(this.burstBytes, this.tokens + ((now - this.at) * this.bytesPerSec) / 1000)
    this.at = now
    this.tokens -= n
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.bytesPerSec)
  }
}
