/**
 * The stall clock of the newest wave: how long its progress key (node states, slot holders;
 * wave-watch.ts stallKey) has stood still while nothing excused it. Time held back (paused,
 * outside the window, alerts, a node-timeout halt) or with a node down (the node timeout's
 * to judge) does not count: those say why already. Pure bookkeeping on the coordinator's clock.
 */
export class StallClock {
  private key = ''
  private since = 0

  /** The clock starts again at `now` (a pause, a resume, a halt already written). */
  restart(now: number): void {
    this.since = now
  }

  /**
   * One look at a running wave. `excused` is asked only when the key stood still (it may
   * have effects: the gate's observation). Returns how long it has stood still once that
   * reaches `limitMs`, else undefined.
   */
  observe(key: string, excused: () => boolean, now: number, limitMs: number): number | undefined {
    if (key !== this.key || excused()) {
      this.key = key
      this.since = now
      return undefined
    }
    const stalledMs = now - this.since
    return stalledMs < limitMs ? undefined : stalledMs
  }
}
