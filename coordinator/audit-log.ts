/**
 * The coordinator's audit log in level (`audit!<time>!<seq>`): entries written in the same
 * batch as the change they record (op), or on their own (append); refusals written at most
 * once a minute per kind and subject with a count (refusal); bounded, the noisy kinds
 * pruned first so they never evict enrollment and admin history.
 */
import type { Clock, Logger } from '../agent/protocol/ports.js'
import { AuditEntry, keys, type Op, type StateStore } from './state-store.js'

/** Audit kinds written on unauthenticated or refused requests: pruned first, so they never evict enrollment and admin history. */
const NOISY_AUDIT = new Set<AuditEntry['kind']>(['boot-script', 'image', 'refused'])
/** A refusal of one kind and subject is written to the audit log at most this often (with a count); the rest are counted. */
export const REFUSAL_AUDIT_MS = 60_000
const MAX_REFUSAL_SUBJECTS = 1024

export interface AuditLogDeps {
  store: StateStore
  clock: Clock
  log: Logger
}

export class AuditLog {
  private seq = 0
  private count = 0
  private readonly refusals = new Map<string, { writtenAt: number; unwritten: number }>()
  /** Refusal entries being written (not awaited by the refused request): a list waits for them. */
  private readonly writing = new Set<Promise<void>>()

  private constructor(
    private readonly deps: AuditLogDeps,
    /** Entries kept; pruned back to it once 10% over. */
    private readonly maxEntries: number,
  ) {}

  /** Counts the stored entries and continues their sequence. */
  static async open(deps: AuditLogDeps, maxEntries: number): Promise<AuditLog> {
    const log = new AuditLog(deps, maxEntries)
    const auditKeys = await deps.store.keysWithPrefix('audit!')
    log.count = auditKeys.length
    // Keys are time + a sequence that never restarts, so entries of one millisecond never collide across restarts.
    const last = auditKeys[auditKeys.length - 1]
    log.seq = last ? Number(last.split('!')[2]) || 0 : 0
    return log
  }

  /** The write of one entry, for the caller's batch. */
  op(entry: AuditEntry): Op {
    this.count++
    return { type: 'put', key: keys.audit(entry.at, ++this.seq), value: AuditEntry.parse(entry) }
  }

  /** Appends one entry on its own (image downloads, boot scripts). */
  async append(entry: Omit<AuditEntry, 'at'>): Promise<void> {
    const op = this.op({ ...entry, at: this.deps.clock.now() })
    await this.deps.store.batch([op])
    if (this.count > this.maxEntries * 1.1) await this.prune()
  }

  /**
   * A refused request worth a trace (a clone, an unauthenticated write): one entry per kind
   * and subject per REFUSAL_AUDIT_MS, carrying how many were refused since the last one;
   * the others are only counted. Never throws (the refusal is the answer).
   */
  refusal(what: string, subject: string, entry: Omit<AuditEntry, 'at' | 'kind' | 'detail'> & { detail?: Record<string, unknown> }, kind: AuditEntry['kind'] = 'refused'): void {
    const now = this.deps.clock.now()
    let k = `${what}|${subject}`
    if (!this.refusals.has(k) && this.refusals.size >= MAX_REFUSAL_SUBJECTS) k = `${what}|*`
    const slot = this.refusals.get(k) ?? { writtenAt: -Infinity, unwritten: 0 }
    slot.unwritten++
    this.refusals.set(k, slot)
    if (now - slot.writtenAt < REFUSAL_AUDIT_MS) return
    const count = slot.unwritten
    slot.writtenAt = now
    slot.unwritten = 0
    const write: Promise<void> = this.append({ ...entry, kind, detail: { what, subject, count, ...entry.detail } })
      .catch((err) => this.deps.log.warn({ component: 'audit', err: (err as Error).message }, 'audit write failed'))
      .finally(() => this.writing.delete(write))
    this.writing.add(write)
  }

  /** Entries oldest first (newest `limit` without `sinceMs`); includes every refusal noted before the call. */
  async list(opts: { limit: number; sinceMs?: number; kind?: string }): Promise<AuditEntry[]> {
    if (this.writing.size > 0) await Promise.all(this.writing)
    const gte = opts.sinceMs !== undefined ? keys.audit(opts.sinceMs, 0) : undefined
    const rows = await this.deps.store.scan('audit!', AuditEntry, { gte, reverse: gte === undefined, limit: opts.kind ? -1 : opts.limit })
    let out = rows.map(([, e]) => e)
    if (opts.kind) out = out.filter((e) => e.kind === opts.kind)
    out = out.slice(0, opts.limit)
    return gte === undefined ? out.reverse() : out
  }

  /** Oldest noisy entries (boot scripts, downloads, refusals) go first; history only when it alone is past the cap. */
  private async prune(): Promise<void> {
    const all = await this.deps.store.scan('audit!', AuditEntry)
    let excess = all.length - this.maxEntries
    const drop: string[] = []
    const noisy = (e: AuditEntry) => NOISY_AUDIT.has(e.kind) || e.detail?.refused !== undefined
    for (const [k, e] of all) {
      if (excess <= 0) break
      if (noisy(e)) {
        drop.push(k)
        excess--
      }
    }
    for (const [k, e] of all) {
      if (excess <= 0) break
      if (!noisy(e)) {
        drop.push(k)
        excess--
      }
    }
    await this.deps.store.batch(drop.map((key) => ({ type: 'del' as const, key })))
    this.count = all.length - drop.length
  }
}
