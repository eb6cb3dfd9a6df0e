import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { Bytes, keepUnknown } from './frame.js'
import { currentOrNext, nextOpening, parseWindowRule, ruleOpen, WindowSyntaxError, windowRuleText, windowsOpen, zonedInstant } from './maintenance-window.js'
import type { MemberView } from './mesh-types.js'
import { fakeKeyring } from './testing.js'
import { controlBytes, legacyWindow, signControl, WaveGate, inWindow, type UnsignedControl } from './wave-control.js'

const at = (iso: string) => Date.parse(iso)
/** Every minute in [from, to) at which `open` holds, as [first, last] runs (ISO). */
function openRuns(open: (ms: number) => boolean, from: string, to: string): [string, string][] {
  const runs: [string, string][] = []
  let start: number | undefined
  for (let t = at(from); t < at(to); t += 60_000) {
    if (open(t) && start === undefined) start = t
    if (!open(t) && start !== undefined) {
      runs.push([new Date(start).toISOString(), new Date(t).toISOString()])
      start = undefined
    }
  }
  if (start !== undefined) runs.push([new Date(start).toISOString(), to])
  return runs
}

describe('maintenance windows: days, IANA zones, several', () => {
  it('parses what operators write, and says how to write what it refuses', () => {
    expect(parseWindowRule('Mon-Fri 22:00-06:00 Europe/Berlin')).toEqual({ days: [1, 2, 3, 4, 5], from: 1320, to: 360, tz: 'Europe/Berlin' })
    expect(parseWindowRule('sat,sun 00:00-24:00')).toEqual({ days: [0, 6], from: 0, to: 1440 })
    expect(parseWindowRule('Fri-Mon 01:00-02:00 UTC')).toEqual({ days: [0, 1, 5, 6], from: 60, to: 120 })
    expect(parseWindowRule('02:00-04:00')).toEqual({ from: 120, to: 240 })
    expect(windowRuleText(parseWindowRule('Mon-Fri 22:00-06:00 Europe/Berlin'))).toBe('Mon,Tue,Wed,Thu,Fri 22:00-06:00 Europe/Berlin')
    expect(() => parseWindowRule('22:00-06:00 Mars/Olympus')).toThrow(/"Mars\/Olympus" is not a time zone/)
    expect(() => parseWindowRule('Funday 22:00-06:00')).toThrow(WindowSyntaxError)
    expect(() => parseWindowRule('10pm-6am')).toThrow(/expected \[DAYS \]HH:MM-HH:MM\[ ZONE\]/)
    expect(() => parseWindowRule('04:00-04:00')).toThrow(/00:00-24:00/)
  })

  it('across midnight: a Friday-night window runs into Saturday morning and belongs to Friday', () => {
    const r = parseWindowRule('Fri 22:00-06:00 Europe/Berlin')
    // Friday 2026-12-04 22:00 CET = 21:00Z, to Saturday 06:00 CET = 05:00Z; nothing on Thursday night or Saturday night.
    expect(openRuns((t) => ruleOpen(r, t), '2026-12-03T00:00Z', '2026-12-07T00:00Z')).toEqual([['2026-12-04T21:00:00.000Z', '2026-12-05T05:00:00.000Z']])
    // New Year's Eve across midnight and the year: every day, UTC.
    const nye = parseWindowRule('23:30-00:30')
    expect(windowsOpen([nye], at('2026-12-31T23:59Z'))).toBe(true)
    expect(windowsOpen([nye], at('2027-01-01T00:29Z'))).toBe(true)
    expect(windowsOpen([nye], at('2027-01-01T00:30Z'))).toBe(false)
    expect(currentOrNext([nye], at('2027-01-01T00:00Z'))).toEqual({ start: at('2026-12-31T23:30Z'), end: at('2027-01-01T00:30Z') })
  })

  it('across a DST change: the local clock decides (Europe/Berlin, spring forward and fall back)', () => {
    const r = parseWindowRule('Sun 01:00-04:00 Europe/Berlin')
    // 2026-03-29: 02:00 CET -> 03:00 CEST. 01:00 CET = 00:00Z; 04:00 CEST = 02:00Z: two real hours.
    expect(openRuns((t) => ruleOpen(r, t), '2026-03-28T12:00Z', '2026-03-29T12:00Z')).toEqual([['2026-03-29T00:00:00.000Z', '2026-03-29T02:00:00.000Z']])
    // 2026-10-25: 03:00 CEST -> 02:00 CET. 01:00 CEST = 23:00Z (Sat); 04:00 CET = 03:00Z: four real hours.
    expect(openRuns((t) => ruleOpen(r, t), '2026-10-24T12:00Z', '2026-10-25T12:00Z')).toEqual([['2026-10-24T23:00:00.000Z', '2026-10-25T03:00:00.000Z']])
    // The next opening seen from the Wednesday before each change: the instants above.
    expect(nextOpening([r], at('2026-03-25T12:00Z'))).toBe(at('2026-03-29T00:00Z'))
    expect(nextOpening([r], at('2026-10-21T12:00Z'))).toBe(at('2026-10-24T23:00Z'))
    // A reading the change repeats: the later one; every other reading exact.
    expect(zonedInstant(2026, 10, 25, 150, 'Europe/Berlin')).toBe(at('2026-10-25T01:30Z'))
    expect(zonedInstant(2026, 10, 25, 90, 'Europe/Berlin')).toBe(at('2026-10-24T23:30Z'))
  })

  it('across a DST change in another zone: a weekday window at 01:30-03:30 America/New_York on 2026-03-08', () => {
    const r = parseWindowRule('Sun 01:30-03:30 America/New_York')
    // 01:30 EST = 06:30Z; the clock jumps 02:00 -> 03:00 EDT at 07:00Z; 03:30 EDT = 07:30Z: one real hour.
    expect(openRuns((t) => ruleOpen(r, t), '2026-03-08T00:00Z', '2026-03-08T12:00Z')).toEqual([['2026-03-08T06:30:00.000Z', '2026-03-08T07:30:00.000Z']])
  })

  it('several windows: open when any is', () => {
    const rules = ['Mon-Fri 22:00-06:00 Europe/Berlin', 'Sat,Sun 00:00-24:00 Europe/Berlin'].map(parseWindowRule)
    // Friday night runs into the weekend's all-day windows: one run from Friday 22:00 to Sunday 24:00 local; then Monday night.
    expect(openRuns((t) => windowsOpen(rules, t), '2026-12-04T20:00Z', '2026-12-08T08:00Z')).toEqual([
      ['2026-12-04T21:00:00.000Z', '2026-12-06T23:00:00.000Z'],
      ['2026-12-07T21:00:00.000Z', '2026-12-08T05:00:00.000Z'],
    ])
    expect(windowsOpen([], 0)).toBe(true)
  })
})

describe('the schedule in the wave control message', () => {
  const coord = fakeKeyring('coordinator')
  const base: UnsignedControl = { wave: 'w1', seq: 1000, state: 'running', nodeTimeoutMs: 3_600_000, alerts: [] }
  const windows = [parseWindowRule('Mon-Fri 22:00-06:00 Europe/Berlin')]

  it('holds new slots outside the windows and before --at, on the injected clock, with the reason', () => {
    const g = new WaveGate(coord.publicKey, coord)
    const start = at('2026-12-04T18:00Z') // a Friday
    expect(g.onControl(signControl({ ...base, sched: { windows, notBefore: start } }, coord))).toBe('new')
    expect(g.hold(at('2026-12-04T17:00Z'))).toMatchObject({ held: true, kind: 'scheduled', reason: 'scheduled: starts at 2026-12-04T18:00:00.000Z (in 1 h 0 min)' })
    expect(g.hold(at('2026-12-04T18:00Z'))).toMatchObject({ held: true, kind: 'window', reason: 'outside the maintenance windows Mon,Tue,Wed,Thu,Fri 22:00-06:00 Europe/Berlin (opens in 3 h 0 min)' })
    expect(g.hold(at('2026-12-04T21:00Z')).held).toBe(false)
    expect(g.hold(at('2026-12-05T04:59Z')).held).toBe(false)
    // Saturday morning 06:00 local: closed until Monday 22:00 local.
    expect(g.hold(at('2026-12-05T05:00Z')).reason).toMatch(/opens in 2 d 16 h/)
  })

  it('an altered schedule is refused; an agent that predates the schedule still verifies the message', () => {
    const g = new WaveGate(coord.publicKey, coord)
    const m = signControl({ ...base, sched: { windows } }, coord)
    expect(g.onControl({ ...m, sched: { windows: [parseWindowRule('00:00-24:00')] } })).toBe('bad')
    expect(g.onControl({ ...m, ssig: undefined })).toBe('bad')
    expect(g.counters).toEqual({ 'bad-schedule-signature': 2 })
    // The previous minor's schema and signed bytes: no sched/ssig fields; they are kept and ignored.
    const Old = keepUnknown(z.object({ k: z.literal('ctl'), v: z.literal(1), wave: z.string(), seq: z.number(), state: z.string(), nodeTimeoutMs: z.number(), alerts: z.array(z.string()), sig: Bytes }))
    const old = Old.parse(m) as unknown as UnsignedControl & { sig: Uint8Array }
    expect(coord.verify(coord.publicKey, controlBytes(old), old.sig)).toBe(true)
  })

  it('projects a legacy daily UTC window for older agents: today’s window, closed when none opens within a day', () => {
    expect(legacyWindow({ windows }, at('2026-12-04T18:00Z'))).toEqual({ fromMinute: 21 * 60, toMinute: 5 * 60 })
    expect(inWindow(legacyWindow({ windows }, at('2026-12-04T22:00Z')), at('2026-12-04T22:00Z'))).toBe(true)
    // Saturday noon: the next window opens Monday night, more than a day away.
    const sat = legacyWindow({ windows }, at('2026-12-05T12:00Z'))
    expect(sat).toEqual({ fromMinute: 0, toMinute: 0 })
    expect(inWindow(sat, at('2026-12-05T12:00Z'))).toBe(false)
    expect(legacyWindow({ notBefore: at('2026-12-05T00:00Z') }, at('2026-12-04T00:00Z'))).toEqual({ fromMinute: 0, toMinute: 0 })
    expect(legacyWindow({ settleMs: 1000 }, 0)).toBeUndefined()
  })

  it('a selection (node selector or canary) makes only those nodes takeable; the others still vote', () => {
    const g = new WaveGate(coord.publicKey, coord)
    g.onControl(signControl(base, coord))
    expect(g.selected('b')).toBe(true)
    g.onControl(signControl({ ...base, seq: 2000, sched: { only: ['a'] } }, coord))
    expect([g.selected('a'), g.selected('b')]).toEqual([true, false])
    // Widening the selection is a new signed message; a relay cannot widen it.
    const m = signControl({ ...base, seq: 3000, sched: { only: ['a'] } }, coord)
    expect(g.onControl({ ...m, sched: { only: ['a', 'b'] } })).toBe('bad')
  })

  it('the settle delay: no new slot until settleMs after a roster node came back', () => {
    const g = new WaveGate(coord.publicKey, coord)
    g.onControl(signControl({ ...base, sched: { settleMs: 120_000 } }, coord))
    const member = (phase: 'ready' | 'rebooting'): MemberView => ({
      id: 'a', status: 'alive', inc: 1, updatedAt: 0, statusSince: 0,
      record: { id: 'a', key: 'k'.repeat(64), inc: 1, ver: 1, image: 'v1', phase, domain: 'd', inv: {}, health: { status: 'ok', conditions: [] }, comps: [] },
    })
    g.observe(['a'], () => member('ready'), 0)
    expect(g.hold(0).held).toBe(false)
    g.observe(['a'], () => member('rebooting'), 10_000)
    g.observe(['a'], () => member('ready'), 70_000)
    expect(g.hold(70_000)).toMatchObject({ held: true, kind: 'settle', reason: 'settling: a came back 0 s ago; the next slot after the 120 s settle delay' })
    expect(g.hold(189_999).held).toBe(true)
    expect(g.hold(190_000).held).toBe(false)
  })
})
