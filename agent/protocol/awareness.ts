/**
 * Lifeguard's local health (memberlist's awareness.go): 0 = healthy, up to a maximum.
 * Raised when our own probes fail with no helper answering, or when someone suspects us;
 * lowered by each answered probe. Our probe interval and timeout stretch by (score + 1):
 * a node that is itself slow (GC, a loaded CPU) stops accusing its peers of its own
 * slowness.
 */

/** The highest score: a node this unhealthy probes 9x slower than a healthy one. */
export const AWARENESS_MAX = 8

export class Awareness {
  private score = 0

  constructor(private readonly max = AWARENESS_MAX) {}

  /** Something points at us being the slow one: a silent failed probe, or a claim about us. */
  worse(): void {
    this.score = Math.min(this.max, this.score + 1)
  }

  /** A probe of ours was answered: we are healthy enough to hear back. */
  better(): void {
    this.score = Math.max(0, this.score - 1)
  }

  /** `ms` stretched by our health: the interval or timeout a node in this state should use. */
  scale(ms: number): number {
    return ms * (this.score + 1)
  }

  value(): number {
    return this.score
  }
}
