/**
 * When anti-entropy runs (the exchange itself is anti-entropy-exchange.ts): with one
 * random neighbour every antiEntropyIntervalMs, and with every new neighbour at once (a
 * joiner learns the cluster, the cluster the joiner). Anything dissemination lost is
 * repaired this way.
 */
import type { AeMember } from './anti-entropy-exchange.js'
import { answerDigest, digestMessages } from './anti-entropy-exchange.js'
import type { BucketHashes } from './anti-entropy.js'
import type { MeshContext } from './mesh-context.js'
import type { MeshMessage } from './messages.js'
import { pick } from './random.js'

/** The member table as the exchange reads it. */
export interface AeTable {
  /** The member table (Membership's MemberTable; any id-keyed map of members will do). */
  readonly members: { get(id: string): AeMember | undefined; values(): Iterable<AeMember> }
  readonly hashes: BucketHashes
}

type Msg<T extends MeshMessage['t']> = Extract<MeshMessage, { t: T }>

export class AntiEntropyRounds {
  private nextRoundAt: number

  constructor(
    private readonly ctx: MeshContext,
    private readonly table: AeTable,
    private readonly peers: () => string[],
    now: number,
  ) {
    this.nextRoundAt = now + ctx.rng.int(ctx.cfg.antiEntropyIntervalMs)
  }

  /** A fresh link starts with an exchange, opened by one side only: both would run it twice. */
  greet(peer: string): void {
    if (this.ctx.id < peer) this.ctx.send(peer, { t: 'ae-sum', b: this.table.hashes.toBytes() })
  }

  tick(now: number): void {
    if (now < this.nextRoundAt) return
    this.nextRoundAt = now + this.ctx.cfg.antiEntropyIntervalMs
    const peer = pick(this.peers(), 1, this.ctx.rng)[0]
    if (peer) {
      this.ctx.count('anti-entropy-rounds')
      this.ctx.send(peer, { t: 'ae-sum', b: this.table.hashes.toBytes() })
    }
  }

  nextWakeAt(): number {
    return this.nextRoundAt
  }

  onSummary(from: string, msg: Msg<'ae-sum'>): void {
    const buckets = this.table.hashes.differing(msg.b)
    if (buckets.length > 0) this.sendDigests(from, buckets, true)
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
