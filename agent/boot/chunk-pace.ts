/**
 * How long chunk transfers take right now, and the waits of the layer fetch that scale
 * with it (docs/layers.md). Fixed waits were right for one host load and wrong for
 * another: on a quiet host a 1 MiB chunk crosses loopback in tens of ms, on a loaded one
 * in 1-9 s, and a 2 s wait then sent chunks to the coordinator that peers were about to
 * serve (each one a quarter second of a 4 MiB/s uplink, so the storm became as slow as
 * the coordinator) and cut peers off as "stalled" that were only descheduled.
 */
export class ChunkPace {
  private readonly recent: number[] = []

  /** `keep`: transfers remembered (the median of the last 16 follows load changes within a few seconds). */
  constructor(private readonly keep = 16) {}

  /** One chunk arrived `ms` after it was asked for (a run of k chunks counts its time / k each). */
  add(ms: number): void {
    if (!(ms >= 0)) return
    this.recent.push(ms)
    if (this.recent.length > this.keep) this.recent.shift()
  }

  /** Median of the recent transfers; undefined before the first. */
  median(): number | undefined {
    if (this.recent.length === 0) return undefined
    const s = [...this.recent].sort((a, b) => a - b)
    return s[Math.floor(s.length / 2)]!
  }

  /** `factor` x the median, never below `floor` (also before any transfer) nor above `cap`. */
  scaled(floor: number, factor: number, cap: number): number {
    const m = this.median()
    return Math.min(cap, Math.max(floor, m === undefined ? 0 : factor * m))
  }
}
