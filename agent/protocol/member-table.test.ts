import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MemberTable, memberNumber, type Member } from './member-table.js'
import type { VerifiedRecord } from './node-record.js'

/** Stands for a record: the table only holds it. */
const REC = { body: {}, signed: {} } as unknown as VerifiedRecord

const fields = (m: Omit<Member, 'id'> & { id?: string }) => ({ id: m.id, status: m.status, statusInc: m.statusInc, statusSince: m.statusSince, updatedAt: m.updatedAt, claim: m.claim, record: m.record })

describe('MemberTable', () => {
  it('behaves as the Map it replaces: same members, same fields, same iteration order', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('set' as const), id: fc.integer({ min: 0, max: 40 }), inc: fc.integer({ min: 0, max: 9 }), status: fc.constantFrom('alive', 'suspect', 'dead') as fc.Arbitrary<Member['status']>, rec: fc.boolean() }),
      fc.record({ k: fc.constant('add' as const), id: fc.integer({ min: 0, max: 40 }), inc: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ k: fc.constant('del' as const), id: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ k: fc.constant('mut' as const), id: fc.integer({ min: 0, max: 40 }), at: fc.integer({ min: 0, max: 2 ** 45 }) }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const t = new MemberTable()
        const m = new Map<string, Omit<Member, 'id'> & { id: string }>()
        for (const o of ops) {
          const id = `mt-${o.id}`
          if (o.k === 'add') {
            // The bulk path: only for an id not held.
            if (m.has(id)) continue
            t.addAlive(memberNumber(id), o.inc, o.inc * 1000, REC)
            m.set(id, { id, status: 'alive', statusInc: o.inc, statusSince: o.inc * 1000, updatedAt: o.inc * 1000, claim: undefined, record: REC })
          } else if (o.k === 'set') {
            const init = { status: o.status, statusInc: o.inc, statusSince: o.inc * 1000, updatedAt: o.inc * 7, claim: undefined, record: o.rec ? REC : undefined }
            const view = t.set(id, init)
            const held = m.get(id)
            if (held) Object.assign(held, init)
            else m.set(id, { id, ...init })
            expect(fields(view)).toEqual(fields(m.get(id)!))
          } else if (o.k === 'del') {
            expect(t.delete(id)).toBe(m.delete(id))
          } else {
            const view = t.get(id)
            const held = m.get(id)
            expect(view === undefined).toBe(held === undefined)
            if (view && held) {
              view.updatedAt = o.at
              held.updatedAt = o.at
              view.status = 'dead'
              held.status = 'dead'
            }
          }
          expect(t.size).toBe(m.size)
        }
        expect([...t.values()].map(fields)).toEqual([...m.values()].map(fields))
        for (const id of m.keys()) expect(t.has(id)).toBe(true)
        const held = [...m.values()]
        expect(t.aliveWithRecord()).toEqual(held.filter((x) => x.status === 'alive' && x.record).map((x) => x.id))
        for (const st of ['alive', 'suspect', 'dead'] as const) expect(t.withStatus(st)).toEqual(held.filter((x) => x.status === st).map((x) => x.id))
      }),
      { numRuns: 200 },
    )
  })

  it('keeps doubles exactly (clock ms, incarnations up to 2^53)', () => {
    const t = new MemberTable()
    const v = t.set('mt-big', { status: 'alive', statusInc: Number.MAX_SAFE_INTEGER, statusSince: 1_767_225_600_123, updatedAt: 1_767_225_600_124, claim: undefined, record: undefined })
    expect(t.get('mt-big')!.statusInc).toBe(Number.MAX_SAFE_INTEGER)
    expect(v.statusSince).toBe(1_767_225_600_123)
    expect(v.updatedAt).toBe(1_767_225_600_124)
    expect(t.get('mt-unknown')).toBeUndefined()
  })
})
