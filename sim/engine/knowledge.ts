/**
 * Who knows what, across a simulated mesh: for every (observer, subject) pair, the
 * liveness status and record version the observer holds, kept up to date from the
 * nodes' own `event` effects (member / record), so a convergence question is O(1) to
 * ask after every simulated event. Memory: 6 bytes per pair (6 MB at N=1000, 600 MB at
 * N=10,000): a status byte, a converged byte, and the index of the record version held in
 * the subject's own list of versions seen (records are shared objects, versions few).
 * False accusations are counted, with the first few kept as samples, not stored per event.
 *
 * "Converged" means what the operator relies on: every up node sees every other up node
 * alive, holding that node's current record.
 */
import type { MeshEffect } from '../../agent/protocol/mesh-types.js'
import type { MeshNode } from '../../agent/protocol/mesh-node.js'
import type { VerifiedRecord } from '../../agent/protocol/node-record.js'
import type { Simulation } from './simulation.js'

const UNKNOWN = 0
const ALIVE = 1
const SUSPECT = 2
const DEAD = 3
const CODE = { alive: ALIVE, suspect: SUSPECT, dead: DEAD } as const

export interface FalseAccusation {
  /** Virtual ms. */
  at: number
  observer: string
  subject: string
  status: 'suspect' | 'dead'
}

/** Times at which observers first held (at least) a given record of one subject. */
export class RecordWatch {
  readonly reachedAt = new Map<string, number>()
  constructor(
    readonly subject: string,
    readonly inc: number,
    readonly ver: number,
    /** The observers that count (up when the watch began, subject excluded). */
    readonly observers: ReadonlySet<string>,
    readonly startedAt: number,
  ) {}

  /** Ms from start until `fraction` of the observers held the record, or undefined if not (yet). */
  timeTo(fraction: number): number | undefined {
    const need = Math.ceil(fraction * this.observers.size)
    if (need === 0) return 0
    if (this.reachedAt.size < need) return undefined
    const times = [...this.reachedAt.values()].sort((a, b) => a - b)
    return times[need - 1]! - this.startedAt
  }
}

/** Samples of false accusations kept per status; the rest are only counted. */
const SAMPLES_KEPT = 20

/** The (inc, ver) versions of one subject's record seen in the run; index 0 is "none". */
class Versions {
  readonly inc: number[] = [0]
  readonly ver: number[] = [0]
  private readonly byKey = new Map<string, number>()
  private readonly byBody = new WeakMap<object, number>()

  /** The index of (inc, ver), added if new; `body` (a shared record object) is a fast path. */
  indexOf(inc: number, ver: number, body?: object): number {
    if (body) {
      const hit = this.byBody.get(body)
      if (hit !== undefined) return hit
    }
    const key = `${inc}:${ver}`
    let i = this.byKey.get(key)
    if (i === undefined) {
      i = this.inc.length
      this.inc.push(inc)
      this.ver.push(ver)
      this.byKey.set(key, i)
    }
    if (body) this.byBody.set(body, i)
    return i
  }
}

export class Knowledge {
  readonly n: number
  private readonly index = new Map<string, number>()
  private readonly status: Uint8Array
  /** Per pair: index into versions[subject] of the record the observer holds (0: none). */
  private readonly recIdx: Uint32Array
  private readonly versions: Versions[]
  private readonly good: Uint8Array
  private readonly up: Uint8Array
  private readonly curInc: Float64Array
  private readonly curVer: Float64Array
  private readonly lastSelf: unknown[]
  private readonly deadCount: Int32Array
  private readonly rowGood: Int32Array
  private goodCount = 0
  private upCount = 0
  private watches: RecordWatch[] = []
  /**
   * A live node marked suspect or dead by some observer (suspect: refuted later, a cost;
   * dead: a false positive): the first few of each status. The counts are `falseDead` and
   * `falseSuspect`.
   */
  readonly falseAccusations: FalseAccusation[] = []
  /** Times an observer marked a live node dead (false positives), over the run. */
  falseDead = 0
  /** Times an observer marked a live node suspect (each refuted or a false positive later). */
  falseSuspect = 0

  /** `ids`: every id that may ever run in this simulation (the roster). */
  constructor(
    private readonly sim: Simulation<MeshNode>,
    readonly ids: readonly string[],
  ) {
    this.n = ids.length
    ids.forEach((id, i) => this.index.set(id, i))
    const pairs = this.n * this.n
    this.status = new Uint8Array(pairs)
    this.recIdx = new Uint32Array(pairs)
    this.versions = Array.from({ length: this.n }, () => new Versions())
    this.good = new Uint8Array(pairs)
    this.up = new Uint8Array(this.n)
    this.curInc = new Float64Array(this.n)
    this.curVer = new Float64Array(this.n)
    this.lastSelf = new Array(this.n).fill(undefined)
    this.deadCount = new Int32Array(this.n)
    this.rowGood = new Int32Array(this.n)
    sim.onEffect((node, eff, now) => this.onEffect(node, eff, now))
    sim.onStep((node, proc) => this.checkSelf(this.idx(node), proc))
    sim.onLifecycle((node, change, proc) => (change === 'up' ? this.onUp(this.idx(node), proc) : this.onDown(this.idx(node))))
  }

  private idx(id: string): number {
    const i = this.index.get(id)
    if (i === undefined) throw new RangeError(`node ${id} is not on the roster the knowledge tracker was built with`)
    return i
  }

  /** Every up node sees every other up node alive with its current record. */
  converged(): boolean {
    return this.goodCount === this.upCount * (this.upCount - 1)
  }

  /** Fraction of (observer, subject) pairs of up nodes that are converged. */
  convergedFraction(): number {
    const want = this.upCount * (this.upCount - 1)
    return want === 0 ? 1 : this.goodCount / want
  }

  /** `observer` sees every other up node alive with its current record. */
  informed(observer: string): boolean {
    const o = this.idx(observer)
    return this.up[o] === 1 && this.rowGood[o] === this.upCount - 1
  }

  /** How many up nodes (other than `subject`) hold `subject` dead. */
  deadAt(subject: string): number {
    return this.deadCount[this.idx(subject)]!
  }

  /** True when every up node other than `subject` holds it dead. */
  deadEverywhere(subject: string): boolean {
    const s = this.idx(subject)
    return this.deadCount[s] === this.upCount - (this.up[s] ? 1 : 0)
  }

  /** What `observer` holds about `subject`. */
  held(observer: string, subject: string): { status: 'unknown' | 'alive' | 'suspect' | 'dead'; inc: number; ver: number } {
    const p = this.idx(observer) * this.n + this.idx(subject)
    const st = (['unknown', 'alive', 'suspect', 'dead'] as const)[this.status[p]!]!
    const v = this.versions[this.idx(subject)]!
    return { status: st, inc: v.inc[this.recIdx[p]!]!, ver: v.ver[this.recIdx[p]!]! }
  }

  /** Starts timing how fast `subject`'s current record reaches the other up nodes. */
  watchRecord(subject: string): RecordWatch {
    const s = this.idx(subject)
    const observers = new Set<string>()
    for (let o = 0; o < this.n; o++) if (o !== s && this.up[o]) observers.add(this.ids[o]!)
    const w = new RecordWatch(subject, this.curInc[s]!, this.curVer[s]!, observers, this.sim.now)
    const v = this.versions[s]!
    for (const o of observers) {
      const r = this.recIdx[this.idx(o) * this.n + s]!
      if (this.newerOrSame(v.inc[r]!, v.ver[r]!, w.inc, w.ver)) w.reachedAt.set(o, this.sim.now)
    }
    this.watches.push(w)
    return w
  }

  unwatch(w: RecordWatch): void {
    this.watches = this.watches.filter((x) => x !== w)
  }

  // ---- bookkeeping -------------------------------------------------------------------

  private onEffect(node: string, eff: MeshEffect, now: number): void {
    if (eff.type !== 'event') return
    const ev = eff.event
    if (ev.type !== 'member' && ev.type !== 'record') return
    const o = this.idx(node)
    const s = this.index.get(ev.id)
    if (s === undefined || s === o) return
    const p = o * this.n + s
    if (ev.type === 'member') {
      const before = this.status[p]!
      const after = CODE[ev.status]
      this.status[p] = after
      if (this.up[o] && before !== after) {
        if (before === DEAD) this.deadCount[s]!--
        if (after === DEAD) this.deadCount[s]!++
      }
      if (after !== ALIVE && this.up[s] && this.up[o]) this.accused(now, node, ev.id, ev.status as 'suspect' | 'dead')
    } else {
      this.recIdx[p] = this.versions[s]!.indexOf(ev.record.inc, ev.record.ver, ev.record)
      if (this.status[p] === UNKNOWN) this.status[p] = ALIVE
      for (const w of this.watches) {
        if (w.subject === ev.id && w.observers.has(node) && !w.reachedAt.has(node) && this.newerOrSame(ev.record.inc, ev.record.ver, w.inc, w.ver)) {
          w.reachedAt.set(node, now)
        }
      }
    }
    this.refresh(o, s)
  }

  /**
   * `observer` took these records whole (MeshNode.adopt; no events are emitted for
   * that): it holds each subject alive with that record, as the member and record events
   * of the receive path would have said. Subjects it already held keep what they hold.
   */
  adopted(observer: string, records: readonly { id: string; record: VerifiedRecord }[], now: number): void {
    const o = this.idx(observer)
    for (const { id, record } of records) {
      const s = this.index.get(id)
      if (s === undefined || s === o) continue
      const p = o * this.n + s
      if (this.status[p] !== UNKNOWN) continue
      this.status[p] = ALIVE
      this.recIdx[p] = this.versions[s]!.indexOf(record.body.inc, record.body.ver, record.body)
      for (const w of this.watches) {
        if (w.subject === id && w.observers.has(observer) && !w.reachedAt.has(observer) && this.newerOrSame(record.body.inc, record.body.ver, w.inc, w.ver)) w.reachedAt.set(observer, now)
      }
      this.refresh(o, s)
    }
  }

  private accused(at: number, observer: string, subject: string, status: 'suspect' | 'dead'): void {
    const n = status === 'dead' ? ++this.falseDead : ++this.falseSuspect
    if (n <= SAMPLES_KEPT) this.falseAccusations.push({ at, observer, subject, status })
  }

  private newerOrSame(inc: number, ver: number, wInc: number, wVer: number): boolean {
    return inc > wInc || (inc === wInc && ver >= wVer)
  }

  private refresh(o: number, s: number): void {
    const p = o * this.n + s
    const v = this.versions[s]!
    const r = this.recIdx[p]!
    const g = this.up[o] && this.up[s] && this.status[p] === ALIVE && this.newerOrSame(v.inc[r]!, v.ver[r]!, this.curInc[s]!, this.curVer[s]!) ? 1 : 0
    if (g !== this.good[p]) {
      this.goodCount += g ? 1 : -1
      this.rowGood[o]! += g ? 1 : -1
      this.good[p] = g
    }
  }

  private checkSelf(s: number, proc: MeshNode): void {
    const self = proc.self()
    if (self === this.lastSelf[s]) return
    this.lastSelf[s] = self
    this.curInc[s] = self.inc
    this.curVer[s] = self.ver
    for (let o = 0; o < this.n; o++) if (this.good[o * this.n + s]) this.refresh(o, s)
  }

  private onUp(i: number, proc: MeshNode): void {
    // A fresh instance knows nothing (RAM only): clear its row.
    for (let s = 0; s < this.n; s++) {
      const p = i * this.n + s
      this.status[p] = UNKNOWN
      this.recIdx[p] = 0
    }
    this.up[i] = 1
    this.upCount++
    this.lastSelf[i] = undefined
    this.checkSelf(i, proc)
    for (let o = 0; o < this.n; o++) if (o !== i) this.refresh(o, i)
    this.recountDead(i)
    for (let s = 0; s < this.n; s++) this.refresh(i, s)
  }

  private onDown(i: number): void {
    this.up[i] = 0
    this.upCount--
    for (let s = 0; s < this.n; s++) {
      this.refresh(i, s)
      this.refresh(s, i)
      if (this.status[i * this.n + s] === DEAD) this.deadCount[s]!--
    }
  }

  private recountDead(s: number): void {
    let c = 0
    for (let o = 0; o < this.n; o++) if (o !== s && this.up[o] && this.status[o * this.n + s] === DEAD) c++
    this.deadCount[s] = c
  }
}
