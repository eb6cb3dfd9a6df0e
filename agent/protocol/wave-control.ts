/**
 * Wave control: whether a running wave may hand out NEW slots right now, as each node
 * judges it from its own view — so the answer holds while the coordinator is down.
 *
 * Two sources:
 * - The coordinator's signed control message (topic WAVE_CONTROL_TOPIC), re-broadcast
 *   every few seconds so a node that missed one (or just booted) learns it: the operator's
 *   state (running / paused / aborted / done), the maintenance window, firing alerts, and
 *   the wave's node timeout.
 * - The halt rule, evaluated locally on gossiped records: a wave halts by itself when any
 *   roster node is phase `failed`, or has been unavailable (availability.ts, the rule
 *   every view counts against K: draining, rebooting, verifying, joining, dead, suspect,
 *   missing, health critical) for longer than the node timeout — a node that did not come
 *   back, or did not pass its gate, in time. A holder waiting at its joint check for the
 *   others (WAITING_CONDITION) is unavailable but not late: its clock does not run while it
 *   waits. New slots stop; holders finish.
 *
 * A hold never takes a slot away and never stops a holder from reclaiming its own lease
 * after its reboot: it only makes this node refuse to ask for, or vote for, a new one
 * (the agent's ClusterView reports every candidate as not drainable while held).
 */
import { z } from 'zod'
import { memberAvailability, unavailableWhy } from './availability.js'
import { Bytes, keepUnknown, pack } from './frame.js'
import type { MemberView } from './mesh-types.js'
import type { Keyring } from './ports.js'
import { signAs, verifyAs } from './signing.js'
import { heldKind, NodeVerbs, verbImage, verbsBytes, type HeldKind, type VerbKind } from './node-verbs.js'
import { currentOrNext, durationText, nextOpening, WindowRule, windowRuleText, windowsOpen } from './maintenance-window.js'

export const WAVE_CONTROL_TOPIC = 'wave-ctl'

/**
 * The health condition a holder publishes while its cycle waits on others — at its joint
 * check (phase draining) or its pre-gate (phase ready): not safe to stop jointly with the
 * nodes down or holding a slot. Such a node is unavailable (it counts against K), but it is
 * not late: the halt clock does not run while it only waits.
 */
export const WAITING_CONDITION = 'upgrade-waiting'

export const WaveState = z.enum(['running', 'paused', 'aborted', 'done'])
export type WaveState = z.infer<typeof WaveState>

/** A daily maintenance window in UTC minutes of the day; from > to wraps midnight. */
export const MaintenanceWindow = keepUnknown(z.object({ fromMinute: z.number().int().min(0).max(1439), toMinute: z.number().int().min(0).max(1440) }))
export type MaintenanceWindow = z.infer<typeof MaintenanceWindow>

/**
 * The site's schedule (issue 16), additive: windows with days and time zones, a start time,
 * a settle delay. Signed apart (`ssig`) so that an agent that predates it still verifies
 * `sig` over the fields it knows, and judges by the legacy `window` the coordinator keeps
 * projecting for it (today's window in UTC, re-signed as the days go by).
 */
export const WaveSchedule = keepUnknown(
  z.object({
    /** Open when any is (maintenance-window.ts); none: always. */
    windows: z.array(WindowRule).max(16).optional(),
    /** No new slot before this instant (`shoal upgrade start --at`), ms since the epoch. */
    notBefore: z.number().int().nonnegative().optional(),
    /** After a roster node comes back available, no new slot for this long (ms). */
    settleMs: z.number().int().nonnegative().max(86_400_000).optional(),
    /**
     * The nodes this wave may take now (a node selector, or a canary's first N): the others
     * stay voters and count against K as ever, but are never drainable for it. Absent: all.
     */
    only: z.array(z.string().max(64)).max(100_000).optional(),
  }),
)
export type WaveSchedule = z.infer<typeof WaveSchedule>

export const WaveControlMsg = keepUnknown(
  z.object({
    k: z.literal('ctl'),
    v: z.literal(1),
    wave: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/),
    /** Coordinator clock (ms) at signing: the newest message wins. */
    seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    state: WaveState,
    nodeTimeoutMs: z.number().int().positive(),
    window: MaintenanceWindow.optional(),
    /** Names of firing alerts the coordinator's alert source reported (hold while any). */
    alerts: z.array(z.string().max(128)).max(16),
    /** What a holder does when its drain is still blocked at the deadline. */
    drainPolicy: z.enum(['halt', 'force']).optional(),
    /** Nodes the operator wrote off for this wave: they no longer halt it. */
    retired: z.array(z.string().max(64)).max(100_000).optional(),
    sig: Bytes,
    sched: WaveSchedule.optional(),
    /** The coordinator's signature over scheduleBytes (present exactly when `sched` is). */
    ssig: Bytes.optional(),
    /** Node verbs (node-verbs.ts), additive: signed apart as `nvsig` over verbsBytes; older agents ignore both. */
    nv: NodeVerbs.optional(),
    nvsig: Bytes.optional(),
  }),
)
export type WaveControlMsg = z.infer<typeof WaveControlMsg>
export type UnsignedControl = Omit<WaveControlMsg, 'sig' | 'k' | 'v' | 'ssig' | 'nvsig'>

/** What `ssig` covers: the schedule bound to its message (wave, seq). */
export function scheduleBytes(m: Pick<UnsignedControl, 'wave' | 'seq'>, s: WaveSchedule): Uint8Array {
  const windows = (s.windows ?? []).map((w) => [w.days ?? null, w.from, w.to, w.tz ?? null])
  return pack(['ctl-sched', 1, m.wave, m.seq, windows, s.notBefore ?? null, s.settleMs ?? null, s.only ?? null])
}

export function controlBytes(m: UnsignedControl): Uint8Array {
  return pack(['ctl', 1, m.wave, m.seq, m.state, m.nodeTimeoutMs, m.window ? [m.window.fromMinute, m.window.toMinute] : null, m.alerts, m.drainPolicy ?? null, m.retired ?? []])
}

export function signControl(m: UnsignedControl, keyring: Keyring): WaveControlMsg {
  const { sched, nv, ...rest } = m
  return {
    k: 'ctl',
    v: 1,
    ...rest,
    sig: signAs('control', controlBytes(m), keyring),
    ...(sched ? { sched, ssig: signAs('control-schedule', scheduleBytes(m, sched), keyring) } : {}),
    ...(nv ? { nv, nvsig: signAs('control-verbs', verbsBytes(m, nv), keyring) } : {}),
  }
}

/**
 * The legacy daily UTC window that stands for a schedule in front of agents that predate
 * it: the window open now, or the next one if it opens within a day, as UTC minutes;
 * closed (00:00-00:00) before the start time or when no window opens within a day. The
 * coordinator re-signs it when it changes, so such an agent follows the schedule while the
 * coordinator is up (and keeps the last daily window while it is down).
 */
export function legacyWindow(s: WaveSchedule, now: number): MaintenanceWindow | undefined {
  const closed = { fromMinute: 0, toMinute: 0 }
  if (s.notBefore !== undefined && now < s.notBefore) return closed
  if (!s.windows?.length) return undefined
  const o = currentOrNext(s.windows, now)
  if (!o || o.start - now > 86_400_000) return closed
  if (o.end - Math.max(o.start, now) >= 86_400_000) return { fromMinute: 0, toMinute: 1440 }
  const minute = (ms: number) => Math.floor((((ms % 86_400_000) + 86_400_000) % 86_400_000) / 60_000)
  const from = minute(o.start)
  const to = minute(o.end)
  return { fromMinute: from, toMinute: to === 0 ? 1440 : to }
}

/** Is `nowMs` inside the daily window? */
export function inWindow(w: MaintenanceWindow | undefined, nowMs: number): boolean {
  if (!w) return true
  const minute = Math.floor((nowMs % 86_400_000) / 60_000)
  return w.fromMinute <= w.toMinute ? minute >= w.fromMinute && minute < w.toMinute : minute >= w.fromMinute || minute < w.toMinute
}

const hhmm = (minute: number) => `${String(Math.floor(minute / 60) % 24).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`
export const windowText = (w: MaintenanceWindow): string => `${hhmm(w.fromMinute)}-${w.toMinute === 1440 ? '24:00' : hhmm(w.toMinute)}`

/** Minutes from `nowMs` until the window next opens (0 inside it). */
export function untilWindow(w: MaintenanceWindow, nowMs: number): number {
  if (inWindow(w, nowMs)) return 0
  const minute = Math.floor((nowMs % 86_400_000) / 60_000)
  return (w.fromMinute - minute + 1440) % 1440
}

const minutesText = (m: number): string => (m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min`)

export interface Hold {
  held: boolean
  /** Why new slots are held back (for the API, the CLI and the logs). */
  reason: string | undefined
  /** True when the hold is the wave halting by itself (vs operator, window or alert). */
  halted: boolean
  /** What holds it, as a bounded word (metric label, UI): the operator's state, a halt, the window, an alert. */
  kind?: HoldKind
}

export type HoldKind = 'state' | 'failed' | 'overdue' | 'window' | 'alert' | 'scheduled' | 'settle'

export class WaveGate {
  private control: WaveControlMsg | undefined
  private readonly unavailableSince = new Map<string, number>()
  private failed: string | undefined
  private overdue: { id: string; ms: number; what: string } | undefined
  /** The last roster node seen coming back available (the settle delay counts from it). */
  private lastBack: { id: string; at: number } | undefined
  /** Waves whose verb this node has carried out (node-verbs.ts). */
  private readonly verbsDone = new Set<string>()
  /** Dropped control messages by reason. */
  readonly counters: Record<string, number> = {}

  constructor(
    private readonly coordinatorKey: string,
    private readonly keyring: Pick<Keyring, 'verify'>,
  ) {}

  /** A control message from the mesh; returns whether it was taken. */
  onControl(raw: unknown): 'new' | 'dup' | 'bad' {
    const parsed = WaveControlMsg.safeParse(raw)
    if (!parsed.success) return this.count('schema')
    const m = parsed.data
    if (!verifyAs('control', this.coordinatorKey, controlBytes(m), m.sig, this.keyring)) return this.count('bad-signature')
    if (this.control && (m.seq < this.control.seq || (m.seq === this.control.seq && m.wave === this.control.wave))) return 'dup'
    if (m.sched !== undefined && (!m.ssig || !verifyAs('control-schedule', this.coordinatorKey, scheduleBytes(m, m.sched), m.ssig, this.keyring))) return this.count('bad-schedule-signature')
    if (m.nv !== undefined && (!m.nvsig || !verifyAs('control-verbs', this.coordinatorKey, verbsBytes(m, m.nv), m.nvsig, this.keyring))) return this.count('bad-verbs-signature')
    if (this.control?.wave !== m.wave) {
      this.unavailableSince.clear()
      this.failed = undefined
      this.overdue = undefined
      this.lastBack = undefined
    }
    this.control = m
    return 'new'
  }

  current(): WaveControlMsg | undefined {
    return this.control
  }

  /** The verb this running wave carries out, if it has one and it is not done here yet (node-verbs.ts). */
  verb(): { node: string; kind: VerbKind; wave: string } | undefined {
    const c = this.control
    const v = c?.nv?.verb
    if (!c || !v || c.state !== 'running' || this.verbsDone.has(c.wave)) return undefined
    return { ...v, wave: c.wave }
  }

  /** This node has carried out the verb of `wave` (it released its slot): it is no longer its subject. */
  verbDone(wave: string): void {
    this.verbsDone.add(wave)
  }

  /**
   * The image a view reports for `id` in the vote's wave `wave`: the verb's marker while
   * `id` is the pending subject of that very wave's verb, else its own. The control of the
   * next wave may arrive before its vote message: a verb must never make its node a
   * candidate in the wave before.
   */
  viewImage(id: string, image: string, wave: string | undefined): string {
    const v = this.verb()
    return v && v.node === id && v.wave === wave ? verbImage(v.kind) : image
  }

  /** Whether the coordinator lists `id` as held (in maintenance, or shut down). */
  held(id: string): HeldKind | undefined {
    return heldKind(this.control?.nv, id)
  }

  /** Whether the wave may take `id` now (its schedule's `only`; none: every roster node). */
  selected(id: string): boolean {
    const only = this.control?.sched?.only
    return !only || only.includes(id)
  }

  /** Re-evaluates the halt rule over the wave roster's members (call on every view change and tick). */
  observe(roster: readonly string[], member: (id: string) => MemberView | undefined, now: number): void {
    this.failed = undefined
    this.overdue = undefined
    const timeout = this.control?.nodeTimeoutMs ?? Infinity
    const retired = new Set(this.control?.retired ?? [])
    for (const id of roster) {
      // Written off, or held out of service on purpose (maintenance, shut down): not late.
      if (retired.has(id) || heldKind(this.control?.nv, id)) {
        this.unavailableSince.delete(id)
        continue
      }
      const m = member(id)
      const phase = m?.record?.phase
      const what = unavailableWhy(memberAvailability(m))
      if (phase === 'failed' && m?.status === 'alive') this.failed ??= id
      // Waiting at its joint check for other holders (joint Ceph safety) is by design, not a
      // node that did not come back: its clock starts when it stops waiting.
      const waiting = phase === 'draining' && m?.status === 'alive' && m.record!.health.conditions.some((c) => c.id === WAITING_CONDITION)
      if (what === undefined || waiting) {
        // Back to available (not merely waiting at its joint check): the settle delay counts from here.
        if (this.unavailableSince.delete(id) && what === undefined) this.lastBack = { id, at: now }
        continue
      }
      const since = this.unavailableSince.get(id) ?? now
      this.unavailableSince.set(id, since)
      const ms = now - since
      if (ms > timeout && (!this.overdue || ms > this.overdue.ms)) this.overdue = { id, ms, what }
    }
  }

  hold(now: number): Hold {
    const c = this.control
    if (c && c.state !== 'running') return { held: true, reason: `wave ${c.wave} is ${c.state}`, halted: false, kind: 'state' }
    if (this.failed) return { held: true, reason: `halted: node ${this.failed} failed its wave step (see its record)`, halted: true, kind: 'failed' }
    if (this.overdue) {
      const o = this.overdue
      return { held: true, reason: `halted: node ${o.id} has been ${o.what} for ${Math.round(o.ms / 1000)} s, past the wave's node timeout of ${Math.round(c!.nodeTimeoutMs / 1000)} s`, halted: true, kind: 'overdue' }
    }
    const sc = c?.sched
    if (sc?.notBefore !== undefined && now < sc.notBefore) return { held: true, reason: `scheduled: starts at ${new Date(sc.notBefore).toISOString()} (in ${durationText(sc.notBefore - now)})`, halted: false, kind: 'scheduled' }
    if (sc?.windows?.length) {
      if (!windowsOpen(sc.windows, now)) {
        const next = nextOpening(sc.windows, now)
        return { held: true, reason: `outside the maintenance windows ${sc.windows.map(windowRuleText).join('; ')} (${next === undefined ? 'none opens within a week' : `opens in ${durationText(next - now)}`})`, halted: false, kind: 'window' }
      }
    } else if (c && !inWindow(c.window, now)) return { held: true, reason: `outside the maintenance window ${windowText(c.window!)} UTC (opens in ${minutesText(untilWindow(c.window!, now))})`, halted: false, kind: 'window' }
    if (sc?.settleMs && this.lastBack && now - this.lastBack.at < sc.settleMs) {
      const b = this.lastBack
      return { held: true, reason: `settling: ${b.id} came back ${Math.round((now - b.at) / 1000)} s ago; the next slot after the ${Math.round(sc.settleMs / 1000)} s settle delay`, halted: false, kind: 'settle' }
    }
    if (c && c.alerts.length > 0) return { held: true, reason: `alerts firing: ${c.alerts.join(', ')}`, halted: false, kind: 'alert' }
    return { held: false, reason: undefined, halted: false }
  }

  private count(reason: string): 'bad' {
    this.counters[reason] = (this.counters[reason] ?? 0) + 1
    return 'bad'
  }
}
