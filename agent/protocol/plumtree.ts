/**
 * Epidemic broadcast tree (Plumtree, Leitão et al. 2007). Every neighbour starts eager.
 * A new update is pushed at once to eager neighbours and announced by id (batched) to
 * lazy ones. A duplicate arrival prunes that link to lazy; an id announced but not
 * received in time is grafted, which makes that link eager again. The tree therefore
 * settles on first-arrival (lowest latency) paths, at about one full copy per node.
 *
 * One addition to the paper: an update a neighbour is known to hold (it sent us the update
 * or announced it, or it is the update's origin) is neither pushed nor announced to it.
 * While a whole mesh forms, IHAVE batches cross on every lazy link, most naming what the
 * other side already announced, and eager copies cross while PRUNEs are on their way.
 * Skipping a copy can only save one: a link it would have pruned is pruned by the next
 * duplicate instead.
 *
 * This class only keeps the bookkeeping; MeshNode decides what is new and sends.
 */
import type { Update } from './messages.js'

/** Ids remembered per neighbour as held by it: enough for the updates of one burst (a whole cluster's records). */
const HELD_MAX = 2048
/**
 * How long an id stays remembered as held: 30–60 s (two generations, turned at the sweep).
 * Knowing who holds an update only saves copies while it spreads (seconds); kept longer, the
 * sets filled to HELD_MAX per neighbour with ids that never come again (suspicions, refutations,
 * record versions long superseded): ~20 M entries in a simulated day at N=1000, whose marking
 * made each simulated hour cost more than the last.
 */
const HELD_GENERATION_MS = 30_000

/** A neighbour's held ids: this generation (oldest first, capped) and the previous one. */
interface Held {
  cur: Set<string>
  old: Set<string> | undefined
}

interface Missing {
  announcers: string[]
  deadline: number
  /** When it entered `missing` (its place in the map's order: grafts go out in that order). */
  seq: number
}

/** A graft deadline in the queue; stale once its entry was delivered or re-armed. */
interface Due {
  id: string
  m: Missing
  deadline: number
}

export class Plumtree {
  readonly eager = new Set<string>()
  readonly lazy = new Set<string>()
  private readonly lazyQueue = new Map<string, string[]>()
  private readonly missing = new Map<string, Missing>()
  /**
   * The graft deadlines of `missing`, soonest first (deadlines are now + graftTimeoutMs, so
   * nearly always appended): a step reads only the due ones, not every id announced and
   * not yet received (hundreds while a whole mesh forms, each step).
   */
  private dueQueue: Due[] = []
  private dueHead = 0
  private nextSeq = 0
  /** Per neighbour, ids it is known to hold, in two generations. */
  private readonly held = new Map<string, Held>()
  private heldTurnedAt = -Infinity
  /** Recently delivered updates by id, kept so a GRAFT can be answered. */
  private readonly cache = new Map<string, { u: Update; at: number }>()

  constructor(
    private readonly graftTimeoutMs: number,
    private readonly cacheTtlMs = 30_000,
    private readonly cacheMax = 8192,
  ) {}

  addNeighbour(peer: string): void {
    if (!this.lazy.has(peer)) this.eager.add(peer)
  }

  removeNeighbour(peer: string): void {
    this.eager.delete(peer)
    this.lazy.delete(peer)
    this.lazyQueue.delete(peer)
    this.held.delete(peer)
    for (const m of this.missing.values()) m.announcers = m.announcers.filter((a) => a !== peer)
  }

  /** A duplicate came from `peer`: that link is redundant for the tree. */
  demote(peer: string): void {
    if (this.eager.delete(peer)) this.lazy.add(peer)
  }

  promote(peer: string): void {
    if (this.lazy.delete(peer) || !this.eager.has(peer)) this.eager.add(peer)
  }

  /**
   * Records a delivered update: stop waiting for it, and cache it unless it is a record.
   * A GRAFT for a record is answered from the member table (the record held now: the one
   * asked for, or newer), so caching records would keep a second copy of the table's
   * newest entries: after a burst (a joiner's sync, a warm start) up to `cacheMax` per
   * node for `cacheTtlMs`, which at N=10,000 was most of the simulator's memory.
   */
  delivered(id: string, u: Update, now: number): void {
    this.missing.delete(id)
    if (u.k === 'rec') return
    this.cache.set(id, { u, at: now })
    if (this.cache.size > this.cacheMax) {
      const first = this.cache.keys().next().value
      if (first !== undefined) this.cache.delete(first)
    }
  }

  /** `peer` holds the update `id` (it sent or announced it to us). */
  holds(peer: string, id: string): void {
    let h = this.held.get(peer)
    if (!h) this.held.set(peer, (h = { cur: new Set(), old: undefined }))
    const ids = h.cur
    if (ids.size >= HELD_MAX && !ids.has(id)) ids.delete(ids.values().next().value!)
    ids.add(id)
  }

  /** Is `peer` known to hold `id`? */
  knownAt(peer: string, id: string): boolean {
    const h = this.held.get(peer)
    return h !== undefined && (h.cur.has(id) || h.old?.has(id) === true)
  }

  cached(id: string): Update | undefined {
    return this.cache.get(id)?.u
  }

  /** Queue an id announcement for every lazy neighbour (or, with `all`, every neighbour) except `except`. */
  announce(id: string, except: string | undefined, all = false): void {
    for (const p of all ? [...this.lazy, ...this.eager] : this.lazy) {
      if (p === except) continue
      let q = this.lazyQueue.get(p)
      if (!q) this.lazyQueue.set(p, (q = []))
      if (q.length < 512) q.push(id)
    }
  }

  hasQueuedAnnouncements(): boolean {
    return this.lazyQueue.size > 0
  }

  /** Drains the queued announcements: peer -> ids, without those the peer told us of meanwhile. */
  takeAnnouncements(): Map<string, string[]> {
    const out = new Map<string, string[]>()
    for (const [peer, ids] of this.lazyQueue) {
      const left = this.held.has(peer) ? ids.filter((id) => !this.knownAt(peer, id)) : ids
      if (left.length > 0) out.set(peer, left)
    }
    this.lazyQueue.clear()
    return out
  }

  /** An IHAVE for an id we have not delivered. */
  heardOf(id: string, from: string, now: number): void {
    const m = this.missing.get(id)
    if (m) {
      if (!m.announcers.includes(from)) m.announcers.push(from)
    } else {
      const fresh = { announcers: [from], deadline: now + this.graftTimeoutMs, seq: this.nextSeq++ }
      this.missing.set(id, fresh)
      this.queueDeadline(id, fresh)
    }
  }

  /** Ids whose eager copy is overdue, grouped by the announcer to GRAFT from. */
  dueGrafts(now: number): Map<string, string[]> {
    const due: Due[] = []
    const seen = new Set<Missing>()
    while (this.dueHead < this.dueQueue.length) {
      const d = this.dueQueue[this.dueHead]!
      if (this.isLive(d) && d.deadline > now) break
      this.dueHead++
      if (this.isLive(d) && !seen.has(d.m)) {
        seen.add(d.m)
        due.push(d)
      }
    }
    this.compactQueue()
    const out = new Map<string, string[]>()
    if (due.length === 0) return out
    due.sort((a, b) => a.m.seq - b.m.seq)
    for (const { id, m } of due) {
      const peer = m.announcers.shift()
      if (!peer) {
        this.missing.delete(id)
        continue
      }
      // Try the next announcer if this graft is not answered either.
      m.deadline = now + this.graftTimeoutMs
      this.queueDeadline(id, m)
      let ids = out.get(peer)
      if (!ids) out.set(peer, (ids = []))
      ids.push(id)
    }
    return out
  }

  nextDeadline(): number {
    while (this.dueHead < this.dueQueue.length) {
      const d = this.dueQueue[this.dueHead]!
      if (this.isLive(d)) return d.deadline
      this.dueHead++
    }
    this.compactQueue()
    return Infinity
  }

  /** A queued deadline still stands: its id is still missing with that very deadline. */
  private isLive(d: Due): boolean {
    return d.m.deadline === d.deadline && this.missing.get(d.id) === d.m
  }

  /** Queues `m`'s deadline in order (from the back: a clock step back is the only way it is not last). */
  private queueDeadline(id: string, m: Missing): void {
    const q = this.dueQueue
    let i = q.length
    while (i > this.dueHead && q[i - 1]!.deadline > m.deadline) i--
    if (i === q.length) q.push({ id, m, deadline: m.deadline })
    else q.splice(i, 0, { id, m, deadline: m.deadline })
  }

  /** Drops the consumed head of the queue once it is most of the array (and the stale entries with it when empty). */
  private compactQueue(): void {
    if (this.dueHead === this.dueQueue.length) {
      this.dueQueue = []
      this.dueHead = 0
    } else if (this.dueHead > 1024 && this.dueHead * 2 > this.dueQueue.length) {
      this.dueQueue = this.dueQueue.slice(this.dueHead)
      this.dueHead = 0
    }
  }

  /** Forget cached updates past their TTL, and held ids a generation old. */
  expire(now: number): void {
    for (const [id, c] of this.cache) {
      if (now - c.at <= this.cacheTtlMs) break
      this.cache.delete(id)
    }
    if (now - this.heldTurnedAt < HELD_GENERATION_MS) return
    this.heldTurnedAt = now
    for (const [peer, h] of this.held) {
      if (h.cur.size === 0 && !h.old) this.held.delete(peer)
      else this.held.set(peer, { cur: new Set(), old: h.cur.size > 0 ? h.cur : undefined })
    }
  }
}
