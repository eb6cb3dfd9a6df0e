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
  }),
)
export type WaveControlMsg = z.infer<typeof WaveControlMsg>
export type UnsignedControl = Omit<WaveControlMsg, 'sig' | 'k' | 'v'>

export function controlBytes(m: UnsignedControl): Uint8Array {
  return pack(['ctl', 1, m.wave, m.seq, m.state, m.nodeTimeoutMs, m.window ? [m.window.fromMinute, m.window.toMinute] : null, m.alerts, m.drainPolicy ?? null, m.retired ?? []])
}

export function signControl(m: UnsignedControl, keyring: Keyring): WaveControlMsg {
  return { k: 'ctl', v: 1, ...m, sig: keyring.sign(controlBytes(m)) }
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

export type HoldKind = 'state' | 'failed' | 'overdue' | 'window' | 'alert'

export class WaveGate {
  private control: WaveControlMsg | undefined
  private readonly unavailableSince = new Map<string, number>()
  private failed: string | undefined
  private overdue: { id: string; ms: number; what: string } | undefined
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
    if (!this.keyring.verify(this.coordinatorKey, controlBytes(m), m.sig)) return this.count('bad-signature')
    if (this.control && (m.seq < this.control.seq || (m.seq === this.control.seq && m.wave === this.control.wave))) return 'dup'
    if (this.control?.wave !== m.wave) {
      this.unavailableSince.clear()
      this.failed = undefined
      this.overdue = undefined
    }
    this.control = m
    return 'new'
  }

  current(): WaveControlMsg | undefined {
    return this.control
  }

  /** Re-evaluates the halt rule over the wave roster's members (call on every view change and tick). */
  observe(roster: readonly string[], member: (id: string) => MemberView | undefined, now: number): void {
    this.failed = undefined
    this.overdue = undefined
    const timeout = this.control?.nodeTimeoutMs ?? Infinity
    const retired = new Set(this.control?.retired ?? [])
    for (const id of roster) {
      if (retired.has(id)) {
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
        this.unavailableSince.delete(id)
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
    if (c && !inWindow(c.window, now)) return { held: true, reason: `outside the maintenance window ${windowText(c.window!)} UTC (opens in ${minutesText(untilWindow(c.window!, now))})`, halted: false, kind: 'window' }
    if (c && c.alerts.length > 0) return { held: true, reason: `alerts firing: ${c.alerts.join(', ')}`, halted: false, kind: 'alert' }
    return { held: false, reason: undefined, halted: false }
  }

  private count(reason: string): 'bad' {
    this.counters[reason] = (this.counters[reason] ?? 0) + 1
    return 'bad'
  }
}
