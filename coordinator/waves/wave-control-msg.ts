/**
 * The signed wave control a wave becomes (state, schedule, alerts, retired nodes), and the
 * firing alerts that hold it back, read from the wave's Alertmanager.
 */
import type { Keyring } from '../../agent/protocol/ports.js'
import type { HeldKind, NodeVerbs } from '../../agent/protocol/node-verbs.js'
import { alertBlocks, alertLabels, parseAlertSelector } from '../../agent/protocol/alert-matchers.js'
import { parseWindowRule } from '../../agent/protocol/maintenance-window.js'
import { legacyWindow, signControl, type WaveControlMsg, type WaveSchedule } from '../../agent/protocol/wave-control.js'
import { parseWindow, type StoredWave } from './wave-api.js'

/** The schedule the wave control carries (windows, start time, settle delay, the nodes it may take), if the wave has one. */
export function waveSchedule(w: StoredWave): WaveSchedule | undefined {
  const s: WaveSchedule = {}
  if (w.windows?.length) s.windows = [...(w.window ? [w.window] : []), ...w.windows].map((t) => parseWindowRule(t))
  if (w.startAt !== undefined) s.notBefore = w.startAt
  if (w.settleMs) s.settleMs = w.settleMs
  const only = w.canary && !w.canary.passed ? w.canary.nodes : w.selected
  if (only) s.only = only
  return Object.keys(s).length ? s : undefined
}

export interface ControlInputs {
  /** The control signed before (its seq is exceeded). */
  prev: WaveControlMsg | undefined
  now: number
  alerts: readonly string[]
  retired: readonly string[]
  keyring: Keyring
  /** Nodes held out of service (maintenance, shut down): listed for the agents, and never a reason to halt. */
  held?: readonly { node: string; kind: HeldKind }[]
}

/** The wave's control message, signed. */
export function controlFor(w: StoredWave, i: ControlInputs): WaveControlMsg {
  const seq = Math.max(i.now, (i.prev?.seq ?? 0) + 1)
  const sched = waveSchedule(w)
  const verbs: NodeVerbs | undefined = w.verb || i.held?.length ? { ...(w.verb && w.state === 'running' ? { verb: { node: w.verb.node, kind: w.verb.kind } } : {}), held: (i.held ?? []).map((h) => ({ node: h.node, kind: h.kind })) } : undefined
  // Agents that predate the schedule judge by a daily UTC window: today's, re-signed as days pass (tick).
  const legacy = sched ? legacyWindow(sched, i.now) : undefined
  return signControl(
    {
      wave: w.id,
      seq,
      // A stall halt holds every node's new requests and votes, as a pause does.
      state: w.state === 'running' && w.halt ? 'paused' : w.state,
      nodeTimeoutMs: w.nodeTimeoutMs,
      ...(legacy ? { window: legacy } : w.window ? { window: parseWindow(w.window) } : {}),
      ...(sched ? { sched } : {}),
      alerts: w.alertSource ? i.alerts.slice(0, 16) : [],
      drainPolicy: w.drainPolicy,
      // Held nodes ride in `retired` too: an agent that predates node verbs then does not halt on them.
      retired: [...new Set([...i.retired, ...(i.held ?? []).map((h) => h.node)])],
      ...(verbs ? { nv: verbs } : {}),
    },
    i.keyring,
  )
}

/** Whether the legacy daily window of `control` is no longer today's (it is re-signed then). */
export function legacyWindowStale(w: StoredWave, control: WaveControlMsg | undefined, now: number): boolean {
  const sched = waveSchedule(w)
  if (!sched || control?.wave !== w.id) return false
  return JSON.stringify(legacyWindow(sched, now)) !== JSON.stringify(control.window)
}

/** The firing alerts of the wave's alert source its matchers choose (never Watchdog or InfoInhibitor); one "unreachable" entry when it cannot be read (fail closed). */
export async function firingAlerts(w: StoredWave & { alertSource: string }): Promise<string[]> {
  try {
    const res = await fetch(`${w.alertSource.replace(/\/+$/, '')}/api/v2/alerts?active=true&silenced=false&inhibited=false`, { signal: AbortSignal.timeout(5000) })
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    const body = (await res.json()) as { labels?: Record<string, unknown>; status?: { state?: string } }[]
    const selectors = (w.alertMatchers ?? []).map(parseAlertSelector)
    return [...new Set((Array.isArray(body) ? body : []).filter((a) => a?.status?.state === undefined || a.status.state === 'active').filter((a) => alertBlocks(alertLabels(a?.labels), selectors)).map((a) => String(a?.labels?.alertname ?? 'unnamed').slice(0, 128)))]
  } catch (err) {
    // Fail closed: an alert source we cannot read holds new slots back, visibly.
    return [`alert source unreachable: ${(err as Error).message}`.slice(0, 128)]
  }
}
