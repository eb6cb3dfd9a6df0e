/**
 * Epidemic broadcast tree (Plumtree, Leitão et al. 2007). Every neighbour starts eager.
 * A new update is pushed at once to eager neighbours and announced by id (batched) to
 * lazy ones. A duplicate arrival prunes that link to lazy; an id announced but not
 * received in time is grafted, which makes that link eager again. The tree therefore
 * settles on first-arrival (lowest latency) paths, at about one full copy per node.
 *
 * One addition to the paper: an update a neighbour is known to hold (it sent us the update
 * or announced it, or it is the update's origin) is not announced to it. While a whole
 * mesh forms, IHAVE batches cross on every lazy link, most naming what the other side
 * already announced. Eager copies still go to every eager neighbour: a duplicate is what
 * prunes a link, and skipping it kept redundant links eager (more copies, not fewer).
 *
 * This class only keeps the bookkeeping; MeshNode decides what is new and sends.
 */
import type { Update } from './messages.js'

/** Ids remembered per neighbour as held by it: enough for the updates of one burst (a whole cluster's records). */
const HELD_MAX = 2048

interface Missing {
  announcers: string[]
  deadline: number
}

export class Plumtree {
  readonly eager = new Set<string>()
  readonly lazy = new Set<string>()
  private readonly lazyQueue = new Map<string, string[]>()
  private readonly missing = new Map<string, Missing>()
  /** Per neighbour, ids it is known to hold (oldest first). */
  private readonly held = new Map<string, Set<string>>()
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
    let ids = this.held.get(peer)
    if (!ids) this.held.set(peer, (ids = new Set()))
    else if (ids.size >= HELD_MAX && !ids.has(id)) ids.delete(ids.values().next().value!)
    ids.add(id)
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
      const held = this.held.get(peer)
      const left = held ? ids.filter((id) => !held.has(id)) : ids
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
      this.missing.set(id, { announcers: [from], deadline: now + this.graftTimeoutMs })
    }
  }

  /** Ids whose eager copy is overdue, grouped by the announcer to GRAFT from. */
  dueGrafts(now: number): Map<string, string[]> {
    const out = new Map<string, string[]>()
    for (const [id, m] of this.missing) {
      if (m.deadline > now) continue
      const peer = m.announcers.shift()
      if (!peer) {
        this.missing.delete(id)
        continue
      }
      // Try the next announcer if this graft is not answered either.
      m.deadline = now + this.graftTimeoutMs
      let ids = out.get(peer)
      if (!ids) out.set(peer, (ids = []))
      ids.push(id)
    }
    return out
  }

  nextDeadline(): number {
    let min = Infinity
    for (const m of this.missing.values()) if (m.deadline < min) min = m.deadline
    return min
  }

  /** Forget cached updates past their TTL. */
  expire(now: number): void {
    for (const [id, c] of this.cache) {
      if (now - c.at <= this.cacheTtlMs) break
      this.cache.delete(id)
    }
  }
}
