/**
 * The coordinator's operator decisions (a wave, a force-release, a retirement) are
 * broadcast at once and again after 1, 4, 16, 64, 256 s: a member that missed the wave
 * would never ask for a slot, and a lost retire would stall budgets.
 */
import type { VoteMessage } from './vote-messages.js'

export interface Announcement {
  msg: VoteMessage
  at: number
  gapMs: number
  left: number
}

export class Announcements {
  list: Announcement[] = []

  add(msg: VoteMessage, now: number): void {
    this.list.push({ msg, at: now + 1000, gapMs: 1000, left: 5 })
  }

  /** The ones due at `now`, each rescheduled (4x the gap) or dropped when spent. */
  due(now: number): VoteMessage[] {
    const out: VoteMessage[] = []
    for (const a of this.list) {
      if (now < a.at) continue
      out.push(a.msg)
      a.left--
      a.gapMs *= 4
      a.at = now + a.gapMs
    }
    this.list = this.list.filter((a) => a.left > 0)
    return out
  }

  nextAt(): number {
    let w = Infinity
    for (const a of this.list) w = Math.min(w, a.at)
    return w
  }
}
