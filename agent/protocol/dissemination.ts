/**
 * Dissemination (Plumtree, on plumtree.ts's bookkeeping): every new fact — a signed
 * NodeRecord, a claim, an app broadcast — is pushed at once along the broadcast tree and
 * announced lazily (IHAVE, batched every ihaveIntervalMs) to the other neighbours; an
 * announced fact that does not arrive in time is GRAFTed. What is new is for the facts'
 * owners to say (the member table, the app broadcasts): this part only moves them.
 */
import type { MeshContext } from './mesh-context.js'
import type { MeshMessage, Update } from './messages.js'
import { updateId } from './messages.js'
import { Plumtree } from './plumtree.js'
import { recordHead } from './record-head.js'

/** Where the facts live: applies them, and answers for ids. */
export interface Facts {
  /** 'new' means it changed our state and should travel on, 'dup' that we held it already. */
  apply(u: Update, from: string, now: number): 'new' | 'dup' | 'bad' | 'skip'
  /** Do we already hold the fact an IHAVE id names (or a newer one)? */
  knows(id: string): boolean
  /** For a GRAFT of an id we no longer cache: our current fact about that node, if any. */
  current(id: string): Update | undefined
}

type Msg<T extends MeshMessage['t']> = Extract<MeshMessage, { t: T }>

/**
 * Eager links a node keeps while catching up (new links past these start lazy). 3: in the
 * simulator's cold start of 50 nodes (seeds 7-10, campus and wan latency, shared timing),
 * record copies per record learned fell 15-20% and convergence was no slower; 2 saved a
 * little more but converged slower on some seeds. A warm cluster's joins are unchanged
 * (only the joiner is catching up, and its record still enters the tree at every link).
 */
const CATCH_UP_EAGER_LINKS = 3

/**
 * A burst: this node pushed BURST_RECORDS second-hand records within BURST_WINDOW_MS. Many
 * records from many origins at once (a cluster or a rack powering on) is where the eager tree
 * cannot settle: each record floods the eager links, the PRUNEs its duplicates send arrive a
 * round trip later, and meanwhile the next records cross the same links (live, 50 agents on 2
 * cores: ~3 copies of each record, two thirds of all frames). In a burst, second-hand records
 * are announced instead (IHAVE to every neighbour; a node that lacks one GRAFTs it from one
 * announcer: one copy), and announcement batches wait BURST_IHAVE_MULT x ihaveIntervalMs. In
 * the simulator's cold start of 50 nodes (seeds 7-8, shared timing): copies per record 1.6 ->
 * 1.2 (campus latency) and 2.1 -> 1.7 (wan), frames per node -20% and -28%, convergence 10-20%
 * slower. A lone change (a join, a node's phase) is pushed as before; so are claims (a
 * suspicion or a death must not wait) and a record its origin handed us itself.
 */
const BURST_RECORDS = 3
const BURST_WINDOW_MS = 1000
const BURST_IHAVE_MULT = 3

export class Dissemination {
  private readonly tree: Plumtree
  private nextIhaveAt = Infinity
  /** When the last BURST_RECORDS second-hand records were pushed (a ring; `pushedNext` is the oldest). */
  private readonly pushedAt: number[] = new Array<number>(BURST_RECORDS).fill(-Infinity)
  private pushedNext = 0

  constructor(
    private readonly ctx: MeshContext,
    private readonly facts: Facts,
    private readonly isNeighbour: (peer: string) => boolean,
  ) {
    this.tree = new Plumtree(ctx.cfg.graftTimeoutMs)
  }

  /** Plumtree: eager push now (or, for second-hand repairs, only an announcement to all), lazy announcement soon. */
  spread(u: Update, from: string | undefined, hops: number, now: number, mode: 'eager' | 'lazy' = 'eager'): void {
    const id = idOf(u)
    this.tree.delivered(id, u, now)
    // Its origin holds it (or newer), and so does a neighbour that sent or announced it: no copy goes there.
    const origin = originOf(u)
    if (origin !== undefined && origin !== from && this.isNeighbour(origin)) this.tree.holds(origin, id)
    const relayed = u.k === 'rec' && from !== undefined && origin !== from
    if (mode === 'eager' && relayed) {
      if (this.inBurst(now)) {
        mode = 'lazy'
        this.ctx.count('records-announced-in-burst')
      } else {
        this.pushedAt[this.pushedNext] = now
        this.pushedNext = (this.pushedNext + 1) % BURST_RECORDS
      }
    }
    if (mode === 'eager') {
      // One message object for every neighbour: the transport encodes it once.
      const msg = { t: 'gossip' as const, h: Math.min(hops, 255), u }
      for (const p of this.tree.eager) if (p !== from && !this.tree.knownAt(p, id)) this.ctx.send(p, msg)
      this.tree.announce(id, from)
    } else {
      this.tree.announce(id, from, true)
    }
    if (this.tree.hasQueuedAnnouncements() && this.nextIhaveAt === Infinity) {
      this.nextIhaveAt = now + this.ctx.cfg.ihaveIntervalMs * (this.inBurst(now) ? BURST_IHAVE_MULT : 1)
    }
  }

  /** Has this node pushed BURST_RECORDS second-hand records within the last BURST_WINDOW_MS? */
  private inBurst(now: number): boolean {
    return this.pushedAt[this.pushedNext]! > now - BURST_WINDOW_MS
  }

  onGossip(from: string, msg: Msg<'gossip'>, now: number): void {
    const result = this.facts.apply(msg.u, from, now)
    this.countCopy(msg.u, result, 'gossip')
    if (result === 'new' || result === 'dup') this.tree.holds(from, idOf(msg.u))
    if (result === 'new') this.spread(msg.u, from, msg.h + 1, now)
    else if (result === 'dup' && this.tree.eager.has(from)) {
      this.tree.demote(from)
      this.ctx.send(from, { t: 'prune' })
    }
  }

  onIhave(from: string, msg: Msg<'ihave'>, now: number): void {
    for (const id of msg.ids) {
      this.tree.holds(from, id)
      if (!this.facts.knows(id)) this.tree.heardOf(id, from, now)
    }
  }

  onGraft(from: string, msg: Msg<'graft'>): void {
    this.tree.promote(from)
    for (const id of msg.ids) {
      const u = this.tree.cached(id) ?? this.facts.current(id)
      if (u) this.ctx.send(from, { t: 'gossip', h: 0, u })
    }
  }

  onPrune(from: string): void {
    this.tree.demote(from)
  }

  /**
   * Facts an anti-entropy exchange repaired. Those the sender holds about itself (a
   * joiner's record) are news for everyone: push them eagerly. Second-hand repairs go out
   * lazily (IHAVE): the neighbours are likely repairing the same facts by anti-entropy,
   * and eager copies would storm.
   */
  onRepairs(from: string, msg: Msg<'ae-delta'>, now: number): void {
    for (const u of msg.u) {
      const result = this.facts.apply(u, from, now)
      this.countCopy(u, result, 'ae-delta')
      if (result === 'dup') this.tree.holds(from, idOf(u))
      if (result !== 'new') continue
      this.tree.holds(from, idOf(u))
      this.spread(u, from, 1, now, originOf(u) === from ? 'eager' : 'lazy')
    }
  }

  /** Copies of node records that arrived, new or already held: their ratio is what a join's duplicate deliveries cost. */
  private countCopy(u: Update, result: 'new' | 'dup' | 'bad' | 'skip', via: 'gossip' | 'ae-delta'): void {
    if (u.k !== 'rec') return
    if (result === 'new') {
      this.ctx.count('record-copies-new')
      this.ctx.count(`record-copies-new.${via}`)
    } else if (result === 'dup') {
      this.ctx.count('record-copies-dup')
      this.ctx.count(`record-copies-dup.${via}`)
    }
  }

  /**
   * A new link is eager (Plumtree), except while this node is catching up and already has
   * CATCH_UP_EAGER_LINKS eager ones: then it starts lazy (IHAVE only; a GRAFT makes it eager
   * when it is the faster path). When a whole cluster powers on at once every link is new,
   * and with every link eager each record crossed most of them before PRUNEs cut the tree.
   */
  linkUp(peer: string, catchingUp: boolean): void {
    this.tree.addNeighbour(peer)
    if (catchingUp && this.tree.eager.size > CATCH_UP_EAGER_LINKS) this.tree.demote(peer)
  }

  linkDown(peer: string): void {
    this.tree.removeNeighbour(peer)
  }

  /** GRAFTs for announced facts that did not arrive in time, then the batched IHAVEs. */
  tick(now: number): void {
    for (const [peer, ids] of this.tree.dueGrafts(now)) {
      this.tree.promote(peer)
      this.ctx.send(peer, { t: 'graft', ids })
    }
    if (now >= this.nextIhaveAt) {
      this.nextIhaveAt = Infinity
      for (const [peer, ids] of this.tree.takeAnnouncements()) if (this.isNeighbour(peer)) this.ctx.send(peer, { t: 'ihave', ids })
    }
  }

  nextWakeAt(): number {
    return Math.min(this.nextIhaveAt, this.tree.nextDeadline())
  }

  sweep(now: number): void {
    this.tree.expire(now)
  }
}

function originOf(u: Update): string | undefined {
  if (u.k === 'rec') return recordHead(u)?.id
  return u.k === 'claim' ? u.by : u.origin
}

function idOf(u: Update): string {
  if (u.k !== 'rec') return updateId(u)
  return updateId(u, recordHead(u))
}
