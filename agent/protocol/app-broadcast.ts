/**
 * Application broadcasts over the mesh: payloads a node signs and spreads to every node
 * (or addresses to one, along the broadcast tree when not linked to it). Each is delivered
 * once: seen ids are remembered for APP_SEEN_TTL_MS.
 */
import { DropReason } from './errors.js'
import type { MeshContext } from './mesh-context.js'
import { appBytes, type Update, updateId } from './messages.js'
import { signAs, verifyAs } from './signing.js'

/** How long a seen broadcast id is remembered: far beyond any path through the mesh. */
const APP_SEEN_TTL_MS = 10 * 60_000

type AppUpdate = Extract<Update, { k: 'app' }>

export class AppBroadcasts {
  private readonly seen = new Map<string, number>()
  private seq = 0

  constructor(
    private readonly ctx: MeshContext,
    /** Spread a broadcast we made (Plumtree, from dissemination). */
    private readonly spread: (u: Update, now: number) => void,
  ) {}

  /** Signs and spreads a payload for every node, or (with `to`) for one. */
  broadcast(topic: string, body: Uint8Array, now: number, to?: string): void {
    const { ctx } = this
    this.seq = Math.max(this.seq + 1, Math.floor(now))
    const a = to === undefined ? { origin: ctx.id, seq: this.seq, topic, body } : { origin: ctx.id, seq: this.seq, topic, to, body }
    const u: Update = { k: 'app', ...a, sig: signAs('app', appBytes(a), ctx.keyring) }
    this.seen.set(updateId(u), now + APP_SEEN_TTL_MS)
    this.spread(u, now)
  }

  apply(a: AppUpdate, from: string, now: number): 'new' | 'dup' | 'bad' {
    const { ctx } = this
    const key = ctx.roster.keyOf(a.origin)
    if (!key) {
      ctx.drop(from, DropReason.notOnRoster, `app broadcast from ${a.origin}`)
      return 'bad'
    }
    const id = updateId(a)
    if (this.seen.has(id) || a.origin === ctx.id) return 'dup'
    if (!verifyAs('app', key, appBytes(a), a.sig, ctx.keyring)) {
      ctx.drop(from, DropReason.badSignature, `app broadcast from ${a.origin}`)
      return 'bad'
    }
    this.seen.set(id, now + APP_SEEN_TTL_MS)
    if (a.to === undefined) ctx.emit({ type: 'app', from: a.origin, topic: a.topic, body: a.body, direct: false })
    else if (a.to === ctx.id) ctx.emit({ type: 'app', from: a.origin, topic: a.topic, body: a.body, direct: true })
    return 'new'
  }

  knows(id: string): boolean {
    return this.seen.has(id)
  }

  sweep(now: number): void {
    for (const [id, exp] of this.seen) if (exp <= now) this.seen.delete(id)
  }
}
