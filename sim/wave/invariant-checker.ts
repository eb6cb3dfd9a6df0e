/**
 * The wave's invariants, checked at every step of the simulation (on every event that can
 * change them), against ground truth rather than any node's view:
 *
 *  (a) never more than K lease holders in the wave;
 *  (b) never two holders of one slot;
 *  (c) a node reboots for the wave only while holding a lease whose fencing token
 *      (slot, term) is valid: granted, not released, not force-released;
 *  (d) no PG goes from active to inactive at the moment a wave reboot stops a host's OSDs
 *      (a fault that tips a PG over is the fault's doing, not the wave's);
 *  (e) liveness, at the end: once the faults have healed, the wave completes.
 *
 * Ground truth of leases: a lease exists from its holder's `lease-acquired` until its
 * release, its holder's withdraw of that (slot, term), or a force-release covering it.
 * A violation throws WaveViolation, which carries the seed and the recent trace.
 */
import type { Lease } from '../../agent/protocol/vote/vote-node.js'

export class WaveViolation extends Error {
  constructor(
    readonly invariant: 'a' | 'b' | 'c' | 'd' | 'e',
    readonly seed: number,
    readonly atMs: number,
    detail: string,
    readonly trace: string[],
    /** The command that replays this very case and seed (every flag of the case: wave-config.ts replayCommand). */
    readonly replay = `npm run sim -- --scenario wave --seeds ${seed}-${seed} --trace`,
  ) {
    super(`invariant (${invariant}) violated at ${fmtTime(atMs)} (seed ${seed}): ${detail}`)
    this.name = 'WaveViolation'
  }

  /** The readable report: what broke, the seed that reproduces it, and the trace before it. */
  report(): string {
    return [this.message, `reproduce: ${this.replay}`, 'trace (most recent last):', ...this.trace.map((l) => `  ${l}`)].join('\n')
  }
}

export function fmtTime(ms: number): string {
  const s = ms / 1000
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = (s % 60).toFixed(3).padStart(6, '0')
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${sec}`
}

const TRACE_KEEP = 400

export class InvariantChecker {
  /** Ground-truth leases by slot. */
  private readonly bySlot = new Map<number, Lease[]>()
  private count = 0
  private forced = new Map<number, number>()
  private readonly ring: string[] = []
  private ringAt = 0
  maxHolders = 0
  full: string[] | undefined

  constructor(
    readonly maxUnavailable: number,
    readonly seed: number,
    private readonly clock: () => number,
    keepFullTrace = false,
    private readonly replay?: string,
  ) {
    if (keepFullTrace) this.full = []
  }

  trace(line: string): void {
    const l = `${fmtTime(this.clock())} ${line}`
    if (this.full) this.full.push(l)
    if (this.ring.length < TRACE_KEEP) this.ring.push(l)
    else {
      this.ring[this.ringAt] = l
      this.ringAt = (this.ringAt + 1) % TRACE_KEEP
    }
  }

  recent(): string[] {
    return [...this.ring.slice(this.ringAt), ...this.ring.slice(0, this.ringAt)]
  }

  fail(inv: WaveViolation['invariant'], detail: string): never {
    this.trace(`VIOLATION (${inv}): ${detail}`)
    throw new WaveViolation(inv, this.seed, this.clock(), detail, this.recent(), this.replay)
  }

  holds(lease: Lease): boolean {
    return (this.bySlot.get(lease.slot) ?? []).some((l) => l.term === lease.term && l.holder === lease.holder)
  }

  holders(): Lease[] {
    return [...this.bySlot.values()].flat()
  }

  /** Returns false for a reclaim of a lease already held (after a memory loss). */
  acquired(lease: Lease): boolean {
    this.trace(`${lease.holder} acquires slot ${lease.slot} term ${lease.term}`)
    if (lease.term <= (this.forced.get(lease.slot) ?? 0)) this.fail('b', `${lease.holder} acquired slot ${lease.slot} term ${lease.term}, already force-released`)
    const list = this.bySlot.get(lease.slot) ?? []
    if (list.some((l) => l.term === lease.term && l.holder === lease.holder)) return false // a reclaim after memory loss
    const other = list.find((l) => l.holder !== lease.holder)
    if (other) this.fail('b', `${lease.holder} acquired slot ${lease.slot} term ${lease.term} while ${other.holder} holds it (term ${other.term})`)
    list.push({ ...lease })
    this.bySlot.set(lease.slot, list)
    this.count++
    this.maxHolders = Math.max(this.maxHolders, this.count)
    if (this.count > this.maxUnavailable) this.fail('a', `${this.count} holders with K=${this.maxUnavailable}: ${this.holders().map((l) => `${l.holder}@${l.slot}/${l.term}`).join(', ')}`)
    return true
  }

  /** A release or withdraw by `holder` of `slot` up to `term`. */
  resolved(holder: string, slot: number, term: number, how: string): void {
    const list = this.bySlot.get(slot)
    if (!list) return
    const keep = list.filter((l) => !(l.holder === holder && l.term <= term))
    if (keep.length !== list.length) this.trace(`${holder} ${how} slot ${slot} term ${term}`)
    this.count -= list.length - keep.length
    this.bySlot.set(slot, keep)
  }

  forceReleased(slot: number, term: number): void {
    this.trace(`operator force-releases slot ${slot} up to term ${term}`)
    this.forced.set(slot, Math.max(term, this.forced.get(slot) ?? 0))
    const list = this.bySlot.get(slot) ?? []
    const keep = list.filter((l) => l.term > term)
    this.count -= list.length - keep.length
    this.bySlot.set(slot, keep)
  }

  /** (c): called just before a wave reboot stops the node. */
  waveReboot(node: string, lease: Lease | undefined, fenceValid: boolean): void {
    if (!lease) this.fail('c', `${node} rebooted for the wave without a lease`)
    if (!this.holds(lease)) this.fail('c', `${node} rebooted for the wave with lease ${lease.slot}/${lease.term} that it does not hold`)
    if (!fenceValid) this.fail('c', `${node} rebooted for the wave with an invalid fencing token ${lease.slot}/${lease.term}`)
  }

  /** (d): PGs that went inactive when a wave reboot stopped `node`. */
  pgsInactivated(node: string, pgs: number[], hostsOf: (pg: number) => string[]): void {
    if (pgs.length > 0) this.fail('d', `wave reboot of ${node} made ${pgs.length} PG(s) inactive: ${pgs.slice(0, 5).map((p) => `pg ${p} on ${hostsOf(p).join(',')}`).join('; ')}`)
  }
}
