/**
 * Maintenance windows that fit a site's rules: days of the week, a time of day and an IANA
 * time zone, several per wave — `Mon-Fri 22:00-06:00 Europe/Berlin`, `Sat,Sun 00:00-24:00`,
 * `02:00-04:00` (every day, UTC).
 *
 * Judged by the wall clock of the window's zone (the Intl API, no tz library): a window is
 * open whenever the local clock of its zone reads inside it, on one of its days. A window
 * that wraps midnight (22:00-06:00) belongs to the day it opens on: `Fri 22:00-06:00` runs
 * into Saturday morning. Across a DST change the local clock decides: on the night the
 * clocks spring forward, `01:00-04:00` lasts two real hours; where they fall back, three
 * hours plus the repeated one. Several windows: open when any is.
 *
 * Pure: the instant comes in; Intl's time zone data is the only outside fact.
 */
import { z } from 'zod'
import { keepUnknown } from './frame.js'

/** One window as it travels (wave control message, stored wave). */
export const WindowRule = keepUnknown(
  z.object({
    /** Days it opens on, 0 = Sunday … 6 = Saturday; absent: every day. */
    days: z.array(z.number().int().min(0).max(6)).min(1).max(7).optional(),
    /** Local minute of the day it opens, and closes (1440 = midnight at the end of the day; below `from`: the next day). */
    from: z.number().int().min(0).max(1439),
    to: z.number().int().min(0).max(1440),
    /** IANA zone; absent: UTC. */
    tz: z.string().min(1).max(64).optional(),
  }),
)
export type WindowRule = z.infer<typeof WindowRule>

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const
const DAY_INDEX = new Map<string, number>(DAY_NAMES.map((d, i) => [d.toLowerCase(), i]))

export class WindowSyntaxError extends Error {}

/** Whether `tz` names a zone this runtime knows (Intl throws RangeError otherwise). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

function parseDays(text: string): number[] {
  const days = new Set<number>()
  for (const part of text.split(',')) {
    const [a, b] = part.split('-') as [string, string | undefined]
    const from = DAY_INDEX.get(a.trim().toLowerCase().slice(0, 3))
    const to = b === undefined ? from : DAY_INDEX.get(b.trim().toLowerCase().slice(0, 3))
    if (from === undefined || to === undefined || a.trim().length < 3) throw new WindowSyntaxError(`"${part}" is not a day or a day range (Mon, Tue, …, Sun; e.g. Mon-Fri or Sat,Sun)`)
    for (let d = from; ; d = (d + 1) % 7) {
      days.add(d)
      if (d === to) break
    }
  }
  return [...days].sort((x, y) => x - y)
}

const TIME_RANGE = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$/

/** Parses `[DAYS ]HH:MM-HH:MM[ ZONE]`; throws WindowSyntaxError with what to write instead. */
export function parseWindowRule(text: string): WindowRule {
  const words = text.trim().split(/\s+/)
  const at = words.findIndex((w) => TIME_RANGE.test(w))
  const example = 'e.g. "Mon-Fri 22:00-06:00 Europe/Berlin", "Sat,Sun 00:00-24:00" or "02:00-04:00" (every day, UTC)'
  if (at < 0 || at > 1 || words.length > at + 2) throw new WindowSyntaxError(`window "${text}": expected [DAYS ]HH:MM-HH:MM[ ZONE], ${example}`)
  const m = TIME_RANGE.exec(words[at]!)!
  const from = Number(m[1]) * 60 + Number(m[2])
  const to = Number(m[3]) * 60 + Number(m[4])
  if (to > 1440) throw new WindowSyntaxError(`window "${text}": the end can be at most 24:00`)
  if (from === to) throw new WindowSyntaxError(`window "${text}": it opens and closes at the same minute; for a whole day write 00:00-24:00`)
  const rule: WindowRule = { from, to }
  if (at === 1) {
    try {
      rule.days = parseDays(words[0]!)
    } catch (err) {
      throw new WindowSyntaxError(`window "${text}": ${(err as Error).message}`)
    }
  }
  const tz = words[at + 1]
  if (tz !== undefined && tz.toUpperCase() !== 'UTC') {
    if (!isTimeZone(tz)) throw new WindowSyntaxError(`window "${text}": "${tz}" is not a time zone this system knows (an IANA name such as Europe/Berlin or America/New_York)`)
    rule.tz = tz
  }
  return rule
}

const hhmm = (minute: number) => `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`

/** The text form parseWindowRule reads back. */
export function windowRuleText(r: WindowRule): string {
  const days = r.days && r.days.length < 7 ? `${r.days.map((d) => DAY_NAMES[d]).join(',')} ` : ''
  return `${days}${hhmm(r.from)}-${hhmm(r.to)}${r.tz ? ` ${r.tz}` : ' UTC'}`
}

interface LocalParts {
  y: number
  mo: number
  d: number
  weekday: number
  minute: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', weekday: 'short', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' })
    formatters.set(tz, f)
  }
  return f
}

/** The wall clock of `tz` at `ms`. */
export function localParts(ms: number, tz = 'UTC'): LocalParts {
  const p: Record<string, string> = {}
  for (const x of formatter(tz).formatToParts(ms)) p[x.type] = x.value
  return { y: Number(p.year), mo: Number(p.month), d: Number(p.day), weekday: DAY_INDEX.get(p.weekday!.toLowerCase())!, minute: Number(p.hour) * 60 + Number(p.minute) }
}

/**
 * The instant the wall clock of `tz` reads `minute` on the local date y-mo-d. Where a DST
 * change repeats that reading, the later one; where it skips it, the instant an hour on.
 */
export function zonedInstant(y: number, mo: number, d: number, minute: number, tz = 'UTC'): number {
  const naive = Date.UTC(y, mo - 1, d, 0, minute)
  const t1 = naive - offsetAt(naive, tz)
  const t2 = naive - offsetAt(t1, tz)
  const reads = (t: number) => {
    const l = localParts(t, tz)
    return Date.UTC(l.y, l.mo - 1, l.d, 0, l.minute) === naive
  }
  const exact = [t1, t2].filter(reads)
  return Math.max(...(exact.length ? exact : [t1, t2]))
}

/** `tz`'s offset from UTC at `ms`, in ms (minute precision). */
function offsetAt(ms: number, tz: string): number {
  const floor = ms - (((ms % 60_000) + 60_000) % 60_000)
  const l = localParts(floor, tz)
  return Date.UTC(l.y, l.mo - 1, l.d, 0, l.minute) - floor
}

const has = (r: WindowRule, day: number) => !r.days || r.days.includes(day)

/** Is the window open at `ms`? */
export function ruleOpen(r: WindowRule, ms: number): boolean {
  const l = localParts(ms, r.tz)
  if (r.from < r.to) return has(r, l.weekday) && l.minute >= r.from && l.minute < r.to
  return (has(r, l.weekday) && l.minute >= r.from) || (has(r, (l.weekday + 6) % 7) && l.minute < r.to)
}

/** Is any of the windows open at `ms`? No windows: always open. */
export function windowsOpen(rules: readonly WindowRule[] | undefined, ms: number): boolean {
  if (!rules || rules.length === 0) return true
  return rules.some((r) => ruleOpen(r, ms))
}

/** The occurrences of `r` (opening and closing instants) that open within local days -1 … +8 of `ms`. */
function occurrences(r: WindowRule, ms: number): { start: number; end: number }[] {
  const l = localParts(ms, r.tz)
  const out: { start: number; end: number }[] = []
  for (let k = -1; k <= 8; k++) {
    const day = new Date(Date.UTC(l.y, l.mo - 1, l.d + k))
    if (!has(r, day.getUTCDay())) continue
    const [y, mo, d] = [day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate()]
    const start = zonedInstant(y, mo, d, r.from, r.tz)
    const endDay = r.from < r.to ? day : new Date(Date.UTC(y, mo - 1, d + 1))
    const end = zonedInstant(endDay.getUTCFullYear(), endDay.getUTCMonth() + 1, endDay.getUTCDate(), r.to, r.tz)
    if (end > start) out.push({ start, end })
  }
  return out
}

/**
 * The next instant after `ms` at which some window opens (when none is open now), or
 * undefined when none opens within a week.
 */
export function nextOpening(rules: readonly WindowRule[], ms: number): number | undefined {
  let best: number | undefined
  for (const r of rules) for (const o of occurrences(r, ms)) if (o.start > ms && (best === undefined || o.start < best)) best = o.start
  return best
}

/**
 * The window open at `ms`, or else the next one, as [start, end) instants; undefined when
 * none opens within a week. (Overlapping windows: the one that opened last, or opens first.)
 */
export function currentOrNext(rules: readonly WindowRule[], ms: number): { start: number; end: number } | undefined {
  let open: { start: number; end: number } | undefined
  let next: { start: number; end: number } | undefined
  for (const r of rules)
    for (const o of occurrences(r, ms)) {
      if (o.start <= ms && ms < o.end) {
        if (!open || o.end > open.end) open = o
      } else if (o.start > ms && (!next || o.start < next.start)) next = o
    }
  return open ?? next
}

/** "3 h 5 min", "12 min", "2 d 4 h". */
export function durationText(ms: number): string {
  const m = Math.max(0, Math.ceil(ms / 60_000))
  if (m >= 1440) return `${Math.floor(m / 1440)} d ${Math.floor((m % 1440) / 60)} h`
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min`
}

/**
 * `--at TIME`: an ISO 8601 instant with its offset (`2026-12-07T22:00+01:00`, `…Z`), or a
 * wall-clock time `[YYYY-MM-DD ]HH:MM[ ZONE]` (zone default UTC) — without a date, the next
 * time that clock reads HH:MM after `now`. Throws WindowSyntaxError on anything else.
 */
export function parseStartTime(text: string, now: number): number {
  const t = text.trim()
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(t)) {
    const ms = Date.parse(t)
    if (Number.isFinite(ms)) return ms
  }
  const m = /^(?:(\d{4})-(\d{2})-(\d{2})\s+)?([01]\d|2[0-3]):([0-5]\d)(?:\s+(\S+))?$/.exec(t)
  if (!m) throw new WindowSyntaxError(`start time "${text}": expected an ISO 8601 instant with its offset (2026-12-07T22:00+01:00) or [YYYY-MM-DD ]HH:MM[ ZONE] (22:00 Europe/Berlin)`)
  const tz = m[6] && m[6].toUpperCase() !== 'UTC' ? m[6] : 'UTC'
  if (!isTimeZone(tz)) throw new WindowSyntaxError(`start time "${text}": "${tz}" is not a time zone this system knows (an IANA name such as Europe/Berlin)`)
  const minute = Number(m[4]) * 60 + Number(m[5])
  if (m[1]) return zonedInstant(Number(m[1]), Number(m[2]), Number(m[3]), minute, tz)
  const l = localParts(now, tz)
  for (let k = 0; k <= 2; k++) {
    const day = new Date(Date.UTC(l.y, l.mo - 1, l.d + k))
    const ms = zonedInstant(day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), minute, tz)
    if (ms > now) return ms
  }
  throw new WindowSyntaxError(`start time "${text}": no such time in the next two days`)
}
