/**
 * The member table (memberlist's state.go): what this node believes about every member —
 * its newest signed record and its liveness (alive, suspect, dead) with the signed claim
 * behind it — and the rules that change those beliefs: records and claims are applied if
 * newer and plausible, suspicions run out into dead claims, and claims about this node are
 * refuted with a higher incarnation (SWIM refutation).
 *
 * No claim outlives its subject: incarnations start at a node's boot second, so a signed
 * record or claim whose incarnation its subject cannot have reached yet (see
 * `incarnationBound`) is dropped and counted, and every claim a member accepts is one its
 * subject can still outbid.
 */
import { BucketHashes, LIVENESS_CODE, livenessNewer } from './anti-entropy.js'
import { aeEntry } from './anti-entropy-exchange.js'
import type { Awareness } from './awareness.js'
import { DropReason } from './errors.js'
import { MemberTable, type Member } from './member-table.js'
import type { MeshContext } from './mesh-context.js'
import type { Liveness, MemberView, SelfPatch } from './mesh-types.js'
import { claimBytes, type Claim, type Update } from './messages.js'
import { newerThan, openRecord, signRecord, type NodeRecordBody, type VerifiedRecord } from './node-record.js'
import { recordHead } from './record-head.js'
import type { SnapshotEntry } from './record-snapshot.js'
import { Suspicions } from './suspicion.js'
import { signAs, verifyAs } from './signing.js'

export type { Member } from './member-table.js'

/** What the table asks of the rest of the node. */
export interface MembershipHooks {
  /** Spread a fact that changed our state (Plumtree, from dissemination). */
  spread(u: Update, now: number): void
  isNeighbour(id: string): boolean
  /** A member declared dead: close our link to it. */
  closeLink(id: string, reason: string): void
  /** Someone else suspects a neighbour of ours: probe it next, to confirm or not. */
  probeSoon(id: string): void
}

export type ApplyResult = 'new' | 'dup' | 'bad' | 'skip'

export class Membership {
  readonly members = new MemberTable()
  /** The anti-entropy summary of the table, kept up to date with every change. */
  readonly hashes = new BucketHashes()
  private readonly suspicions: Suspicions
  private selfRec: VerifiedRecord

  constructor(
    private readonly ctx: MeshContext,
    private readonly awareness: Awareness,
    private readonly hooks: MembershipHooks,
    self: Omit<NodeRecordBody, 'key' | 'inc' | 'ver'>,
    now: number,
  ) {
    this.suspicions = new Suspicions(ctx.cfg)
    // A worker lives in RAM: it remembers no incarnation across reboots. Starting from
    // the clock's seconds makes a rebooted node's facts newer than its old ones at once;
    // refutation (below) covers a clock that went backwards.
    this.selfRec = signRecord({ ...self, key: ctx.keyring.publicKey, inc: Math.floor(now / 1000), ver: Math.max(1, Math.floor(now)) }, ctx.keyring)
    this.upsertSelf(now)
  }

  // ---------------------------------------------------------------- reading

  self(): NodeRecordBody {
    return this.selfRec.body
  }

  statusOf(id: string): Liveness | undefined {
    return this.members.statusOf(id)
  }

  view(id: string): MemberView | undefined {
    const m = this.members.get(id)
    return m ? memberView(m) : undefined
  }

  views(): MemberView[] {
    const out: MemberView[] = []
    for (const m of this.members.values()) out.push(memberView(m))
    return out
  }

  /** Other members we could link to: alive, with a record. In table order. */
  dialable(): Iterable<string> {
    const ids = this.members.aliveWithRecord()
    const self = ids.indexOf(this.ctx.id)
    if (self >= 0) ids.splice(self, 1)
    return ids
  }

  /** Members we hold dead, in table order. */
  dead(): Iterable<string> {
    return this.members.withStatus('dead')
  }

  /** Do we already hold the fact a record or claim id names (`r:…`, `c:…`), or a newer one? */
  knows(parts: string[]): boolean {
    if (parts[0] === 'r') {
      const m = this.members.get(parts[1] ?? '')
      const r = m?.record?.body
      if (parts[1] === this.ctx.id) return true
      return !!r && !newerThan({ inc: Number(parts[2]), ver: Number(parts[3]) }, r)
    }
    if (parts[1] === this.ctx.id) return true
    const m = this.members.get(parts[1] ?? '')
    if (!m) return false
    const code = parts[3] === 'dead' ? 2 : 1
    const inc = Number(parts[2])
    if (livenessNewer({ status: code, statusInc: inc }, { status: LIVENESS_CODE[m.status], statusInc: m.statusInc })) return false
    const s = this.suspicions.get(m.id)
    if (code === 1 && m.status === 'suspect' && m.statusInc === inc && s && !s.accusers.has(parts[4] ?? '')) return false
    return true
  }

  /** For a GRAFT of an id no longer cached: our current fact about that node, if any. */
  current(parts: string[]): Update | undefined {
    const m = this.members.get(parts[1] ?? '')
    if (!m) return undefined
    if (parts[0] === 'r' && m.record) return { k: 'rec', rec: m.record.signed }
    if (parts[0] === 'c' && m.claim) return m.claim
    return undefined
  }

  // ---------------------------------------------------------------- self

  updateSelf(patch: SelfPatch, now: number): void {
    const body = { ...this.selfRec.body, ...patch, ver: Math.max(this.selfRec.body.ver + 1, Math.floor(now)) }
    this.publishSelf(body, now)
  }

  private publishSelf(body: NodeRecordBody, now: number): void {
    this.selfRec = signRecord(body, this.ctx.keyring)
    this.upsertSelf(now)
    this.hooks.spread({ k: 'rec', rec: this.selfRec.signed }, now)
  }

  private upsertSelf(now: number): void {
    let m = this.members.get(this.ctx.id)
    if (!m) {
      m = this.members.set(this.ctx.id, { status: 'alive', statusInc: 0, statusSince: now, claim: undefined, record: undefined, updatedAt: now })
    }
    m.record = this.selfRec
    m.status = 'alive'
    m.statusInc = this.selfRec.body.inc
    m.claim = undefined
    m.updatedAt = now
    this.hashes.set(aeEntry(m))
  }

  /**
   * The highest plausible incarnation, by the receiver's clock (`now`), with S the allowed
   * clock skew in seconds. A node's first incarnation is its boot second (the constructor)
   * and only refutation raises it, one above the claim it answers:
   * - 'claim' (about another node): its subject booted by now, on a clock at most S ahead: now + S.
   * - 'own-claim' (about this node): what any member — whose clock may be S ahead of ours —
   *   accepts as a claim: now + 2S. We refute everything up to it.
   * - 'record': our refutation of such a claim, seen from a clock up to S behind ours:
   *   now + 3S + 1. So every claim a member accepts is outbid by a record every member accepts.
   */
  private incarnationBound(kind: 'claim' | 'own-claim' | 'record', now: number): number {
    const s = Math.ceil(this.ctx.cfg.maxClockSkewMs / 1000)
    const nowS = Math.floor(now / 1000)
    return kind === 'claim' ? nowS + s : kind === 'own-claim' ? nowS + 2 * s : nowS + 3 * s + 1
  }

  /** Someone holds a fact about us at least as new as ours: outbid it (SWIM refutation). */
  private refute(inc: number, ver: number, now: number): void {
    const b = this.selfRec.body
    const newInc = Math.max(b.inc, inc + 1)
    if (newInc > Number.MAX_SAFE_INTEGER) {
      // Unreachable behind incarnationBound; a record there would not even encode.
      this.ctx.count('refutations-impossible')
      return
    }
    this.ctx.log.info({ component: 'mesh', node: this.ctx.id, inc: newInc }, 'refuting a claim about this node')
    this.ctx.count('refutations')
    this.awareness.worse()
    this.publishSelf({ ...b, inc: newInc, ver: Math.max(b.ver + 1, ver + 1, Math.floor(now)) }, now)
  }

  // ---------------------------------------------------------------- facts

  applyRecord(signed: VerifiedRecord['signed'], from: string, now: number): 'new' | 'dup' | 'bad' {
    const { ctx } = this
    // Most copies are duplicates: compare the unverified head first, verify only news.
    const head = recordHead({ k: 'rec', rec: signed })
    const held = head && head.id !== ctx.id ? this.members.get(head.id)?.record?.body : undefined
    if (head && held && !newerThan(head, held)) return 'dup'
    const check = openRecord(signed, ctx.keyring)
    if (!check.ok) {
      ctx.drop(from, check.reason, 'record')
      return 'bad'
    }
    const body = check.record.body
    if (!ctx.roster.admits(body.id, body.key)) {
      ctx.drop(from, DropReason.notOnRoster, `record of ${body.id}`)
      return 'bad'
    }
    if (body.inc > this.incarnationBound('record', now)) {
      ctx.dropImplausible(from, `record of ${body.id} at incarnation ${body.inc}`)
      return 'bad'
    }
    if (body.id === ctx.id) {
      if (body.key === ctx.keyring.publicKey && newerThan(body, this.selfRec.body)) this.refute(body.inc, body.ver, now)
      return 'dup'
    }
    let m = this.members.get(body.id)
    if (m?.record && !newerThan(body, m.record.body)) return 'dup'
    const previous = m?.record?.body
    if (!m) {
      m = this.members.set(body.id, { status: 'alive', statusInc: body.inc, statusSince: now, claim: undefined, record: undefined, updatedAt: now })
      ctx.emit({ type: 'member', id: body.id, status: 'alive', previous: undefined, inc: body.inc })
    } else if (body.inc > m.statusInc || (m.status === 'alive' && body.inc >= m.statusInc)) {
      this.setStatus(m, 'alive', body.inc, undefined, now)
    }
    m.record = check.record
    m.updatedAt = now
    this.hashes.set(aeEntry(m))
    ctx.emit({ type: 'record', id: body.id, record: body, previous })
    return 'new'
  }

  /**
   * Takes a snapshot's records whole (record-snapshot.ts: already checked), each member
   * alive at its record's incarnation since `now` — what applyRecord would leave for a
   * member it did not hold. For a fresh node: members already held (ourselves, say) keep
   * what they hold, and nothing is spread or emitted (no link is up to spread on, and the
   * caller knows what it handed over). Returns how many members were added.
   */
  adopt(entries: readonly SnapshotEntry[], now: number): number {
    const bound = this.incarnationBound('record', now)
    let added = 0
    for (const e of entries) {
      if (e.id === this.ctx.id || this.members.has(e.id)) continue
      if (e.record.body.inc > bound) {
        this.ctx.dropImplausible(this.ctx.id, `record of ${e.id} at incarnation ${e.record.body.inc}`)
        continue
      }
      this.members.addAlive(e.g, e.record.body.inc, now, e.record)
      this.hashes.setHash(e.id, e.hash, e.bucket)
      added++
    }
    if (added > 0) this.ctx.count('records-adopted', added)
    return added
  }

  applyClaim(c: Claim, from: string, now: number): ApplyResult {
    const { ctx } = this
    const key = ctx.roster.keyOf(c.by)
    if (!key || !ctx.roster.keyOf(c.about)) {
      ctx.drop(from, DropReason.notOnRoster, `claim by ${c.by} about ${c.about}`)
      return 'bad'
    }
    // Most copies of a claim are duplicates: verify only one that would change something.
    const verified = (): boolean => {
      if (verifyAs('claim', key, claimBytes(c), c.sig, ctx.keyring)) return true
      ctx.drop(from, DropReason.badSignature, `claim by ${c.by}`)
      return false
    }
    if (c.about === ctx.id) {
      if (c.inc < this.selfRec.body.inc) return 'dup'
      // Above what any member within the clock skew accepts: nobody believes it, and
      // outbidding it would put our own records out of everyone's reach.
      if (c.inc > this.incarnationBound('own-claim', now)) {
        ctx.dropImplausible(from, `claim by ${c.by} about this node at incarnation ${c.inc}`)
        return 'bad'
      }
      if (!verified()) return 'bad'
      this.refute(c.inc, 0, now)
      return 'dup'
    }
    const m = this.members.get(c.about)
    // A claim at the subject's own signed incarnation is always plausible; above it, only
    // up to what the subject could have reached by now.
    if (c.inc > Math.max(this.incarnationBound('claim', now), m?.record?.body.inc ?? 0)) {
      ctx.dropImplausible(from, `claim by ${c.by} about ${c.about} at incarnation ${c.inc}`)
      return 'bad'
    }
    // A claim about a node whose record we have not seen yet: keep nothing (a member
    // without a record would never be announced to watchers); anti-entropy delivers the
    // record and, if still current, the claim.
    if (!m) return verified() ? 'skip' : 'bad'
    const code = LIVENESS_CODE[c.status]
    if (livenessNewer({ status: code, statusInc: c.inc }, { status: LIVENESS_CODE[m.status], statusInc: m.statusInc })) {
      if (!verified()) return 'bad'
      this.setStatus(m, c.status, c.inc, c, now)
      if (c.status === 'suspect') {
        const mine = c.by === ctx.id
        this.suspicions.start(m.id, c.by, mine, this.members.size, now)
        if (!mine && this.hooks.isNeighbour(m.id)) this.hooks.probeSoon(m.id)
      }
      this.hashes.set(aeEntry(m))
      return 'new'
    }
    const s = this.suspicions.get(m.id)
    if (c.status === 'suspect' && m.status === 'suspect' && m.statusInc === c.inc && s && !s.accusers.has(c.by)) {
      if (!verified()) return 'bad'
      // An independent suspicion of the same incarnation: a Lifeguard confirmation.
      this.suspicions.confirm(s, c.by, ctx.id, this.members.size)
      return 'new'
    }
    return 'dup'
  }

  private setStatus(m: Member, status: Liveness, inc: number, claim: Claim | undefined, now: number): void {
    const previous = m.status
    m.statusInc = inc
    m.claim = claim
    if (status !== 'suspect') this.suspicions.end(m.id)
    if (previous === status) return
    m.status = status
    m.statusSince = now
    this.ctx.log.info({ component: 'mesh', node: this.ctx.id, member: m.id, status, inc }, `member ${status}`)
    this.ctx.emit({ type: 'member', id: m.id, status, previous, inc })
    if (status === 'dead' && this.hooks.isNeighbour(m.id)) this.hooks.closeLink(m.id, 'declared dead')
  }

  // ---------------------------------------------------------------- claims we make

  /** Our own check of `id` failed (a probe, or a redial after a broken link): sign a suspect claim and spread it. */
  accuse(id: string, now: number): void {
    const m = this.members.get(id)
    if (!m || m.status === 'dead') return
    this.originate(this.signClaim(m.id, Math.max(m.statusInc, m.record?.body.inc ?? 0), 'suspect'), now)
  }

  /** Suspicions that ran out become our dead claims. */
  expireSuspicions(now: number): void {
    for (const id of this.suspicions.due(now)) {
      const m = this.members.get(id)
      if (m) this.originate(this.signClaim(id, m.statusInc, 'dead'), now)
    }
  }

  nextWakeAt(): number {
    return this.suspicions.nextWakeAt()
  }

  private signClaim(about: string, inc: number, status: 'suspect' | 'dead'): Claim {
    const c = { about, inc, status, by: this.ctx.id }
    return { k: 'claim', ...c, sig: signAs('claim', claimBytes(c), this.ctx.keyring) }
  }

  /** Applies a claim we made ourselves and, if it changed anything, spreads it. */
  private originate(c: Claim, now: number): void {
    if (this.applyClaim(c, this.ctx.id, now) === 'new') this.hooks.spread(c, now)
  }

  /** Forgets members dead for longer than the retention (their tombstones). */
  sweep(now: number): void {
    const retention = this.ctx.cfg.deadRetentionMs
    if (retention <= 0) return
    for (const id of this.members.withStatus('dead')) {
      if (now - this.members.get(id)!.statusSince > retention) {
        this.members.delete(id)
        this.hashes.delete(id)
      }
    }
  }
}

function memberView(m: Member): MemberView {
  return { id: m.id, status: m.status, inc: m.statusInc, updatedAt: m.updatedAt, statusSince: m.statusSince, record: m.record?.body }
}
