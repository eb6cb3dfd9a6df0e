/**
 * When anti-entropy runs (the exchange itself is anti-entropy-exchange.ts): with one
 * random neighbour every antiEntropyIntervalMs, and with every new neighbour at once (a
 * joiner learns the cluster, the cluster the joiner). Anything dissemination lost is
 * repaired this way.
 *
 * A fresh node greets one link at a time: a joiner's links come up together, and
 * exchanging with each at once had every neighbour send it the whole table (each record
 * once per link, and each neighbour that learned the joiner's record from it started its
 * own eager flood). So while this node is catching up (it knows fewer than half the
 * roster), a fresh link's first exchange waits for the running one's first delta (at most
 * `aeSpacingMs`), and then runs against the table it brought: usually nothing is left to
 * send. A node that knows the cluster greets every link at once, as before (a healing
 * partition's links must not queue), and the periodic rounds never wait.
 */
import type { AeMember } from './anti-entropy-exchange.js'
import { answerDigest, digestMessages } from './anti-entropy-exchange.js'
import type { BucketHashes } from './anti-entropy.js'
import { catchingUp, type MeshContext } from './mesh-context.js'
import type { MeshMessage } from './messages.js'
import { pick } from './random.js'

/** The member table as the exchange reads it. */
export interface AeTable {
  /** The member table (Membership's MemberTable; any id-keyed map of members will do). */
  readonly members: { get(id: string): AeMember | undefined; values(): Iterable<AeMember>; readonly size: number }
  readonly hashes: BucketHashes
}

type Msg<T extends MeshMessage['t']> = Extract<MeshMessage, { t: T }>

export class AntiEntropyRounds {
  private nextRoundAt: number
  /** Until when the last greeting we opened or answered keeps other greetings waiting... */
  private busyUntil = -Infinity
  /** ...unless the peer it was with sends its delta first. */
  private busyWith: string | undefined
  /** Fresh links whose greeting (their summary) we still expect. */
  private readonly fresh = new Set<string>()
  /** Exchanges waiting for that: peer -> its summary to answer, or undefined for a greeting to send. */
  private readonly waiting = new Map<string, Uint8Array | undefined>()

  constructor(
    private readonly ctx: MeshContext,
    private readonly table: AeTable,
    private readonly peers: () => string[],
    now: number,
  ) {
    this.nextRoundAt = now + ctx.rng.int(ctx.cfg.antiEntropyIntervalMs)
  }

  /** A fresh link starts with an exchange, opened by one side only: both would run it twice. */
  greet(peer: string, now: number): void {
    if (this.ctx.id > peer) {
      this.fresh.add(peer)
      return
    }
    if (now < this.busyUntil) this.wait(peer, undefined)
    else {
      if (this.catchingUp()) this.busy(peer, now)
      this.open(peer)
    }
  }

  /** A delta arrived: if it is the running greeting's, the greetings waiting for it may go. */
  onDelta(from: string, now: number): void {
    if (from === this.busyWith) {
      this.busyWith = undefined
      this.busyUntil = now
    }
  }

  /** A link is gone: an exchange waiting for it is moot. */
  forget(peer: string): void {
    this.waiting.delete(peer)
    this.fresh.delete(peer)
    if (peer === this.busyWith) {
      // The running greeting will never deliver: the waiting ones may go at the next tick.
      this.busyWith = undefined
      this.busyUntil = -Infinity
    }
  }

  tick(now: number): void {
    if (this.waiting.size > 0 && now >= this.busyUntil) {
      const due = [...this.waiting]
      this.waiting.clear()
      for (const [peer, summary] of due) {
        if (summary) this.answer(peer, summary)
        else this.open(peer)
      }
    }
    if (now < this.nextRoundAt) return
    this.nextRoundAt = now + this.ctx.cfg.antiEntropyIntervalMs
    const peer = pick(this.peers(), 1, this.ctx.rng)[0]
    if (peer) {
      this.ctx.count('anti-entropy-rounds')
      this.open(peer)
    }
  }

  nextWakeAt(): number {
    return this.waiting.size > 0 ? Math.min(this.nextRoundAt, this.busyUntil) : this.nextRoundAt
  }

  onSummary(from: string, msg: Msg<'ae-sum'>, now: number): void {
    const greeting = this.fresh.delete(from)
    if (greeting && now < this.busyUntil) {
      this.wait(from, msg.b)
      return
    }
    if (this.answer(from, msg.b) && greeting && this.catchingUp()) this.busy(from, now)
  }

  /**
   * A greeting waits; our own record goes at once (one record, not the table): the peer
   * spreads it as news, as it would have after the exchange, so a joiner's record still
   * enters the tree at every link.
   */
  private wait(peer: string, summary: Uint8Array | undefined): void {
    this.ctx.count('anti-entropy-greetings-deferred')
    this.waiting.set(peer, summary)
    const own = this.table.members.get(this.ctx.id)?.record
    if (own) this.ctx.send(peer, { t: 'ae-delta', u: [{ k: 'rec', rec: own.signed }] })
  }

  /** This node knows fewer than half the roster (it has just started, or the cluster has). */
  private catchingUp(): boolean {
    return catchingUp(this.table.members.size, this.ctx.roster.size)
  }

  private busy(peer: string, now: number): void {
    this.busyWith = peer
    this.busyUntil = now + this.ctx.cfg.aeSpacingMs
  }

  private open(peer: string): void {
    this.ctx.send(peer, { t: 'ae-sum', b: this.table.hashes.toBytes() })
  }

  /** Our digests of the buckets that differ from a peer's summary; false when none differ. */
  private answer(peer: string, summary: Uint8Array): boolean {
    const buckets = this.table.hashes.differing(summary)
    if (buckets.length > 0) this.sendDigests(peer, buckets, true)
    return buckets.length > 0
  }

  onDigest(from: string, msg: Msg<'ae-dig'>): void {
    const { members } = this.table
    const { deltas, digestBack } = answerDigest(members.values(), (id) => members.get(id), msg.buckets, msg.e, msg.reply)
    for (const m of deltas) this.ctx.send(from, m)
    if (digestBack) this.sendDigests(from, digestBack, false)
  }

  private sendDigests(to: string, buckets: number[], reply: boolean): void {
    for (const m of digestMessages(this.table.members.values(), buckets, reply)) this.ctx.send(to, m)
  }
}
