/**
 * MemberTable: a node's table of every member it knows, kept in columns rather than one
 * object per member. Every agent holds the whole cluster, so this table is the cost that
 * grows with N: as a Map of objects it was ~200 bytes a member (an object, two boxed
 * doubles, a map entry), ~2 MB for an agent at N=10,000 and 20 GB for the simulator's
 * 10,000 agents in one process. In columns it is ~41 bytes a member.
 *
 * It behaves as the Map<string, Member> it replaces, so MeshNode's code reads the same:
 * - `get(id)` returns a small view whose fields read and write the columns (a view is
 *   cheap and short-lived; keep the id, not the view, across steps);
 * - `set(id, init)` adds (or overwrites) and returns the view to go on mutating;
 * - `values()` yields members in insertion order, a deleted id re-added goes last: the
 *   order a Map gives, so every walk (digests, overlay candidates) is unchanged.
 *
 * Ids are numbered once per process (`MemberIds`), so all tables of one process (the
 * simulator runs thousands) index their columns by the same small number and no table
 * keeps its own id map. Only ids a table stores are numbered: the mesh stores roster
 * members only, so the numbering is bounded by the roster. Claims, rare (a suspect or dead
 * member's proof), live in a small side map.
 */
import type { Liveness } from './mesh-types.js'
import type { Claim } from './messages.js'
import type { VerifiedRecord } from './node-record.js'

/** What a node knows about one member. */
export interface Member {
  readonly id: string
  status: Liveness
  statusInc: number
  statusSince: number
  /** The signed proof of a suspect/dead status (absent while alive). */
  claim: Claim | undefined
  record: VerifiedRecord | undefined
  updatedAt: number
}

/** The process-wide numbering of member ids: id <-> a small dense number. */
class MemberIds {
  private readonly byId = new Map<string, number>()
  readonly ids: string[] = []

  number(id: string): number {
    let g = this.byId.get(id)
    if (g === undefined) {
      g = this.ids.length
      this.byId.set(id, g)
      this.ids.push(id)
    }
    return g
  }

  find(id: string): number | undefined {
    return this.byId.get(id)
  }
}

const memberIds = new MemberIds()

/** The process-wide number of member id `id` (numbered now if new): what the columns of every table, and BucketHashes, are indexed by. */
export function memberNumber(id: string): number {
  return memberIds.number(id)
}

/** How many ids are numbered (in a process running one agent, about the roster). */
export function memberNumbers(): number {
  return memberIds.ids.length
}

/** The number of `id` if it has one (a table or BucketHashes stored it once), else undefined. */
export function findMemberNumber(id: string): number | undefined {
  return memberIds.find(id)
}

const STATUS: readonly Liveness[] = ['alive', 'suspect', 'dead']
const CODE: Readonly<Record<Liveness, number>> = { alive: 1, suspect: 2, dead: 3 }

class MemberRef implements Member {
  constructor(
    private readonly t: MemberTable,
    readonly g: number,
  ) {}
  get id(): string {
    return memberIds.ids[this.g]!
  }
  get status(): Liveness {
    return STATUS[this.t.code[this.g]! - 1]!
  }
  set status(s: Liveness) {
    this.t.code[this.g] = CODE[s]
  }
  get statusInc(): number {
    return this.t.statusInc[this.g]!
  }
  set statusInc(v: number) {
    this.t.statusInc[this.g] = v
  }
  get statusSince(): number {
    return this.t.statusSince[this.g]!
  }
  set statusSince(v: number) {
    this.t.statusSince[this.g] = v
  }
  get updatedAt(): number {
    return this.t.updatedAt[this.g]!
  }
  set updatedAt(v: number) {
    this.t.updatedAt[this.g] = v
  }
  get record(): VerifiedRecord | undefined {
    return this.t.records[this.g]
  }
  set record(r: VerifiedRecord | undefined) {
    this.t.records[this.g] = r
  }
  get claim(): Claim | undefined {
    return this.t.claims.get(this.g)
  }
  set claim(c: Claim | undefined) {
    if (c === undefined) this.t.claims.delete(this.g)
    else this.t.claims.set(this.g, c)
  }
}

export class MemberTable {
  /** Per id number: 0 absent, else 1 + the liveness code. */
  code = new Uint8Array(0)
  statusInc = new Float64Array(0)
  statusSince = new Float64Array(0)
  updatedAt = new Float64Array(0)
  records: (VerifiedRecord | undefined)[] = []
  readonly claims = new Map<number, Claim>()
  /** Id numbers in insertion order; -1 marks a deleted one (skipped, compacted on growth). */
  private order = new Int32Array(16)
  private orderLen = 0
  /** Per id number: its position in `order`. */
  private pos = new Int32Array(0)
  private count = 0

  get size(): number {
    return this.count
  }

  has(id: string): boolean {
    const g = memberIds.find(id)
    return g !== undefined && g < this.code.length && this.code[g] !== 0
  }

  /** `get(id)?.status` without making a view: the prober asks it of every neighbour each round. */
  statusOf(id: string): Liveness | undefined {
    const g = memberIds.find(id)
    if (g === undefined || g >= this.code.length) return undefined
    const c = this.code[g]!
    return c === 0 ? undefined : STATUS[c - 1]
  }

  get(id: string): Member | undefined {
    const g = memberIds.find(id)
    if (g === undefined || g >= this.code.length || this.code[g] === 0) return undefined
    return new MemberRef(this, g)
  }

  /** Adds `id` (or overwrites its fields) and returns the live view of it. */
  set(id: string, init: Omit<Member, 'id'>): Member {
    const g = memberIds.number(id)
    if (g >= this.code.length) this.grow(g + 1)
    if (this.code[g] === 0) {
      if (this.orderLen === this.order.length) this.compactOrGrowOrder()
      this.pos[g] = this.orderLen
      this.order[this.orderLen++] = g
      this.count++
    }
    const m = new MemberRef(this, g)
    m.status = init.status
    m.statusInc = init.statusInc
    m.statusSince = init.statusSince
    m.updatedAt = init.updatedAt
    m.record = init.record
    m.claim = init.claim
    return m
  }

  /**
   * Adds member number `g` (see memberNumber) alive since `now` with `record`, without
   * making a view: the bulk path of Membership.adopt, which at N=10,000 runs 10^8 times in
   * the simulator. The same columns as `set(id, { status: 'alive', statusInc, statusSince:
   * now, updatedAt: now, record, claim: undefined })`; `g` must not be in the table yet.
   */
  addAlive(g: number, statusInc: number, now: number, record: VerifiedRecord): void {
    if (g >= this.code.length) this.grow(g + 1)
    if (this.code[g] !== 0) throw new RangeError(`member ${memberIds.ids[g]} is already in the table`)
    if (this.orderLen === this.order.length) this.compactOrGrowOrder()
    this.pos[g] = this.orderLen
    this.order[this.orderLen++] = g
    this.count++
    this.code[g] = CODE.alive
    this.statusInc[g] = statusInc
    this.statusSince[g] = now
    this.updatedAt[g] = now
    this.records[g] = record
  }

  delete(id: string): boolean {
    const g = memberIds.find(id)
    if (g === undefined || g >= this.code.length || this.code[g] === 0) return false
    this.code[g] = 0
    this.records[g] = undefined
    this.claims.delete(g)
    this.order[this.pos[g]!] = -1
    this.count--
    return true
  }

  /** Members in insertion order (a Map's order). Deleting while iterating is safe; adding is not. */
  *values(): IterableIterator<Member> {
    for (let i = 0; i < this.orderLen; i++) {
      const g = this.order[i]!
      if (g >= 0) yield new MemberRef(this, g)
    }
  }

  /** Ids of the members held alive with a record, in insertion order: a scan of the columns, no views (the overlay reads it every round it lacks links). */
  aliveWithRecord(): string[] {
    const out: string[] = []
    const alive = CODE.alive
    for (let i = 0; i < this.orderLen; i++) {
      const g = this.order[i]!
      if (g >= 0 && this.code[g] === alive && this.records[g] !== undefined) out.push(memberIds.ids[g]!)
    }
    return out
  }

  /** Ids of the members held with `status`, in insertion order (a scan of the columns, no views). */
  withStatus(status: Liveness): string[] {
    const out: string[] = []
    const code = CODE[status]
    for (let i = 0; i < this.orderLen; i++) {
      const g = this.order[i]!
      if (g >= 0 && this.code[g] === code) out.push(memberIds.ids[g]!)
    }
    return out
  }

  private grow(min: number): void {
    // Every id of the process is likely a member soon (the roster): size for all of them.
    const cap = Math.max(min, Math.ceil(this.code.length * 1.5), memberIds.ids.length, 16)
    const code = new Uint8Array(cap)
    code.set(this.code)
    this.code = code
    for (const k of ['statusInc', 'statusSince', 'updatedAt'] as const) {
      const a = new Float64Array(cap)
      a.set(this[k])
      this[k] = a
    }
    const pos = new Int32Array(cap)
    pos.set(this.pos)
    this.pos = pos
    const records = new Array<VerifiedRecord | undefined>(cap).fill(undefined)
    for (let g = 0; g < this.records.length; g++) records[g] = this.records[g]
    this.records = records
  }

  private compactOrGrowOrder(): void {
    if (this.count < this.orderLen / 2) {
      // Mostly deleted entries: squeeze them out (the order of the rest is kept).
      let j = 0
      for (let i = 0; i < this.orderLen; i++) {
        const g = this.order[i]!
        if (g < 0) continue
        this.order[j] = g
        this.pos[g] = j++
      }
      this.orderLen = j
      return
    }
    // First to the columns' size (every numbered id: usually the roster), then doubling.
    const order = new Int32Array(this.order.length < this.code.length ? this.code.length : this.order.length * 2)
    order.set(this.order)
    this.order = order
  }
}
