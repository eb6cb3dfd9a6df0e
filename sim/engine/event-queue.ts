/**
 * The virtual clock's agenda: a binary min-heap of events ordered by (time, insertion
 * sequence). Two events due at the same virtual instant run in the order they were
 * scheduled, so a run never depends on heap layout or on anything but the seed.
 */

interface Entry<T> {
  at: number
  seq: number
  item: T
}

export class EventQueue<T> {
  private readonly heap: Entry<T>[] = []
  private seq = 0

  get size(): number {
    return this.heap.length
  }

  /** Schedules `item` at virtual time `at` (ms). */
  push(at: number, item: T): void {
    if (Number.isNaN(at)) throw new RangeError('event time is NaN')
    const e: Entry<T> = { at, seq: this.seq++, item }
    const h = this.heap
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(e, h[p]!)) break
      h[i] = h[p]!
      i = p
    }
    h[i] = e
  }

  /** Time of the earliest event, or Infinity when empty. */
  peekAt(): number {
    return this.heap.length > 0 ? this.heap[0]!.at : Infinity
  }

  /** Removes and returns the earliest event (the queue's own entry: no allocation per event). */
  pop(): { readonly at: number; readonly item: T } | undefined {
    const h = this.heap
    if (h.length === 0) return undefined
    const top = h[0]!
    const last = h.pop()!
    if (h.length > 0) {
      let i = 0
      const n = h.length
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && before(h[r]!, h[l]!) ? r : l
        if (!before(h[c]!, last)) break
        h[i] = h[c]!
        i = c
      }
      h[i] = last
    }
    return top
  }
}

function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}
