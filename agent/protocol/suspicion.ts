/**
 * Lifeguard's suspicion timeout: long when only one node suspects (it may be the slow
 * one), shrinking toward the minimum as independent confirmations arrive.
 *   min = alpha * log10(max(N, 10)) * probeInterval
 *   max = beta * min
 *   timeout(C) = max(min, max - (max - min) * log(C + 1) / log(K + 1))
 */
export function suspicionTimeoutMs(opts: {
  clusterSize: number
  probeIntervalMs: number
  minMult: number
  maxMult: number
  confirmationsWanted: number
  confirmations: number
}): number {
  const min = opts.minMult * Math.log10(Math.max(opts.clusterSize, 10)) * opts.probeIntervalMs
  const max = opts.maxMult * min
  const frac = Math.log(opts.confirmations + 1) / Math.log(opts.confirmationsWanted + 1)
  return Math.max(min, Math.round(max - (max - min) * Math.min(1, frac)))
}

/** One member held suspect at one incarnation. */
export interface Suspicion {
  start: number
  deadline: number
  /** Distinct nodes that signed a suspect claim at this incarnation (Lifeguard's confirmations). */
  accusers: Set<string>
  /** We are one of the accusers: we time out on Lifeguard's schedule, not the backstop. */
  mine: boolean
}

export interface SuspicionTiming {
  probeIntervalMs: number
  suspicionMinMult: number
  suspicionMaxMult: number
  suspicionConfirmations: number
}

/**
 * Every member this node holds suspect (memberlist's suspicion.go, one per member): when
 * each suspicion runs out, and who confirmed it. A suspicion stays while its member is
 * suspect at that incarnation; once it has run out (and the dead claim is out) it no
 * longer wakes the node, but still counts its accusers.
 */
export class Suspicions {
  private readonly byId = new Map<string, Suspicion>()
  /** Suspicions still running, in the order they started. */
  private readonly running = new Set<string>()

  constructor(private readonly cfg: SuspicionTiming) {}

  get(id: string): Suspicion | undefined {
    return this.byId.get(id)
  }

  /** A new suspicion of `id` (replacing one of an older incarnation), first accused by `by`. */
  start(id: string, by: string, mine: boolean, clusterSize: number, now: number): void {
    const s: Suspicion = { start: now, deadline: 0, accusers: new Set([by]), mine }
    s.deadline = this.deadline(s, clusterSize)
    this.byId.set(id, s)
    this.running.add(id)
  }

  /** An independent suspect claim of the same incarnation: a Lifeguard confirmation. */
  confirm(s: Suspicion, by: string, self: string, clusterSize: number): void {
    s.accusers.add(by)
    if (by === self) s.mine = true
    s.deadline = this.deadline(s, clusterSize)
  }

  /** The member is no longer suspect (refuted, or declared dead). */
  end(id: string): void {
    if (!this.byId.delete(id)) return
    this.running.delete(id)
  }

  /** Ids whose suspicion ran out by `now`, in the order they started; each is returned once. */
  due(now: number): string[] {
    const out: string[] = []
    if (this.running.size === 0) return out
    for (const id of [...this.running]) {
      const s = this.byId.get(id)
      if (!s) {
        this.running.delete(id)
        continue
      }
      if (s.deadline > now) continue
      this.running.delete(id)
      s.deadline = Infinity
      out.push(id)
    }
    return out
  }

  nextWakeAt(): number {
    let t = Infinity
    if (this.running.size === 0) return t
    for (const id of this.running) {
      const s = this.byId.get(id)
      if (s) t = Math.min(t, s.deadline)
    }
    return t
  }

  private deadline(s: Suspicion, clusterSize: number): number {
    const base = {
      clusterSize,
      probeIntervalMs: this.cfg.probeIntervalMs,
      minMult: this.cfg.suspicionMinMult,
      maxMult: this.cfg.suspicionMaxMult,
      confirmationsWanted: this.cfg.suspicionConfirmations,
    }
    // Accusers time out on Lifeguard's schedule; everyone else waits the longest time, as
    // a backstop, so a crash yields a handful of dead claims rather than one per node.
    const ms = s.mine
      ? suspicionTimeoutMs({ ...base, confirmations: s.accusers.size - 1 })
      : suspicionTimeoutMs({ ...base, confirmations: 0 }) + this.cfg.probeIntervalMs
    return s.start + ms
  }
}
