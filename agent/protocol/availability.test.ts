import { describe, expect, it } from 'vitest'
import { inCycle, isAvailable, mayBeDown, memberAvailability, pastReboot, unavailableWhy, type AvailabilityInput } from './availability.js'
import type { Phase } from './node-record.js'

/** The one table: every view (agent, coordinator, halt rule, dry run, simulator) counts K by it. */
const table: [AvailabilityInput, ReturnType<typeof unavailableWhy>][] = [
  [{ liveness: 'alive', phase: 'ready', health: 'ok' }, undefined],
  [{ liveness: 'alive', phase: 'ready', health: 'warning' }, undefined],
  [{ liveness: 'alive', phase: 'ready', health: 'unknown' }, undefined],
  [{ liveness: 'alive', phase: 'ready', health: 'ok', cordoned: false }, undefined],
  [{ liveness: 'alive', phase: 'ready', health: 'ok', cordoned: true }, 'cordoned'],
  [{ liveness: 'alive', phase: 'ready', health: 'critical' }, 'critical'],
  [{ liveness: 'alive', phase: 'draining', health: 'ok' }, 'draining'],
  [{ liveness: 'alive', phase: 'rebooting', health: 'ok' }, 'rebooting'],
  [{ liveness: 'alive', phase: 'verifying', health: 'ok' }, 'verifying'],
  [{ liveness: 'alive', phase: 'failed', health: 'critical' }, 'failed'],
  [{ liveness: 'alive', phase: 'joining', health: 'ok' }, 'joining'],
  [{ liveness: 'alive', phase: 'booting', health: 'ok' }, 'booting'],
  [{ liveness: 'alive', phase: 'leaving', health: 'ok' }, 'leaving'],
  [{ liveness: 'alive', phase: undefined, health: undefined }, 'no-record'],
  [{ liveness: 'suspect', phase: 'ready', health: 'ok' }, 'suspect'],
  [{ liveness: 'dead', phase: 'ready', health: 'ok' }, 'dead'],
  [{ liveness: undefined, phase: undefined, health: undefined }, 'missing'],
  // The first cause wins: dead before its last phase, phase before health.
  [{ liveness: 'dead', phase: 'draining', health: 'critical' }, 'dead'],
  [{ liveness: 'alive', phase: 'draining', health: 'critical', cordoned: true }, 'draining'],
]

describe('availability: one rule for every view', () => {
  for (const [input, why] of table) {
    it(`${JSON.stringify(input)} -> ${why ?? 'available'}`, () => {
      expect(unavailableWhy(input)).toBe(why)
      expect(isAvailable(input)).toBe(why === undefined)
    })
  }

  it('reads a mesh member view (missing member: missing; no record yet: no-record)', () => {
    expect(unavailableWhy(memberAvailability(undefined))).toBe('missing')
    expect(unavailableWhy(memberAvailability({ status: 'alive' }))).toBe('no-record')
    expect(unavailableWhy(memberAvailability({ status: 'alive', record: { phase: 'ready', health: { status: 'ok' } } }))).toBeUndefined()
  })
})

describe('where in a cycle a member is, by its own record', () => {
  const at = (phase: Phase | undefined, liveness: AvailabilityInput['liveness'] = 'alive'): AvailabilityInput => ({ liveness, phase, health: 'ok' })
  it.each([
    ['draining', 'alive', true, false, false],
    ['rebooting', 'alive', false, false, true],
    ['verifying', 'alive', false, true, false],
    ['verifying', 'suspect', false, false, true],
    ['ready', 'alive', false, false, false],
  ] as const)('%s and %s: before its reboot %s, back and not verified %s, may be down %s', (phase, liveness, before, back, down) => {
    expect(inCycle(at(phase, liveness))).toBe(before)
    expect(pastReboot(at(phase, liveness))).toBe(back)
    expect(mayBeDown(at(phase, liveness))).toBe(down)
  })
})
