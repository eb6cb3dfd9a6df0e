import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { pack, unpack } from './frame.js'
import { quickCheck } from './message-check.js'
import { decodeMessage, MeshMessage } from './messages.js'
import { mutate, plain, soup } from './mutation-testing.js'

const schemaOf = new Map<string, z.ZodType>(MeshMessage.options.map((o) => [o.shape.t.value, o as z.ZodType]))
const sig = new Uint8Array(64).fill(7)
const valid: Record<string, unknown>[] = [
  { v: 1, t: 'ping', seq: 7 },
  { v: 1, t: 'ack', seq: 2 ** 32 },
  { v: 1, t: 'nack', seq: 0 },
  { v: 1, t: 'ping-req', seq: 9, target: 'node-a' },
  { v: 1, t: 'gossip', h: 3, u: { k: 'rec', rec: { body: new Uint8Array([0x80]), sig } } },
  { v: 1, t: 'gossip', h: 255, u: { k: 'claim', about: 'a', inc: 1, status: 'suspect', by: 'b', sig } },
  { v: 1, t: 'gossip', h: 0, u: { k: 'app', origin: 'a', seq: 1700000000000, topic: 'vote', to: 'b', body: new Uint8Array([1]), sig } },
  { v: 1, t: 'gossip', h: 0, u: { k: 'app', origin: 'a', seq: 1, topic: 'vote', body: new Uint8Array([1]), sig, extra: 'from a newer minor' } },
  { v: 1, t: 'ihave', ids: ['r:a:1:2', 'c:a:1:dead'] },
  { v: 1, t: 'graft', ids: [] },
  { v: 1, t: 'prune' },
  { v: 1, t: 'bye', why: 'newer minor field' },
  { v: 1, t: 'ae-sum', b: new Uint8Array(256) },
  { v: 1, t: 'ae-dig', buckets: [1, 2], e: [['a', 1, 2, 0, 1], ['b', 1, 2, 0, 1, 'newer item']], reply: true },
  { v: 1, t: 'ae-delta', u: [{ k: 'rec', rec: { body: new Uint8Array([0x80]), sig } }, { k: 'claim', about: 'a', inc: 0, status: 'dead', by: 'b', sig }] },
  { v: 1, t: 'app', topic: 'vote', body: new Uint8Array([1, 2]) },
]

/** Each just past one bound of its schema. */
const justInvalid: Record<string, unknown>[] = [
  { v: 1, t: 'ping', seq: 2 ** 32 + 1 },
  { v: 1, t: 'ack', seq: 1.5 },
  { v: 1, t: 'nack', seq: -1 },
  { v: 1, t: 'ping-req', seq: 1, target: 'x'.repeat(65) },
  { v: 1, t: 'ping-req', seq: 1, target: '' },
  { v: 1, t: 'gossip', h: 256, u: { k: 'claim', about: 'a', inc: 1, status: 'suspect', by: 'b', sig } },
  { v: 1, t: 'gossip', h: 1, u: { k: 'claim', about: 'a', inc: 1, status: 'alive', by: 'b', sig } },
  { v: 1, t: 'gossip', h: 1, u: { k: 'claim', about: 'a', inc: -1, status: 'dead', by: 'b', sig } },
  { v: 1, t: 'gossip', h: 1, u: { k: 'rec', rec: { body: 'not bytes', sig } } },
  { v: 1, t: 'gossip', h: 1, u: { k: 'app', origin: 'a', seq: 1, topic: 'x'.repeat(33), body: new Uint8Array(1), sig } },
  { v: 1, t: 'gossip', h: 1, u: { k: 'app', origin: 'a', seq: 1, topic: 'vote', to: null, body: new Uint8Array(1), sig } },
  { v: 1, t: 'gossip', h: 1, u: { k: 'app', origin: 'a', seq: Number.MAX_SAFE_INTEGER + 1, topic: 'vote', body: new Uint8Array(1), sig } },
  { v: 1, t: 'ihave', ids: ['x'.repeat(161)] },
  { v: 1, t: 'graft', ids: Array.from({ length: 513 }, () => 'r:a:1:1') },
  { v: 1, t: 'ae-sum', b: [1, 2] },
  { v: 1, t: 'ae-dig', buckets: [1], e: [['a', 1, 2, 0]], reply: true },
  { v: 1, t: 'ae-dig', buckets: [1], e: [['a', 1, 2, 0, Infinity]], reply: true },
  { v: 1, t: 'ae-dig', buckets: [-1], e: [], reply: true },
  { v: 1, t: 'ae-dig', buckets: [1], e: [], reply: 1 },
  { v: 1, t: 'ae-delta', u: [{ k: 'rec', rec: { body: new Uint8Array(1) } }] },
  { v: 1, t: 'app', topic: 'vote', body: 'no' },
]

describe('quickCheck (the receive path without zod)', () => {
  it('says yes to every valid message, so well-formed frames never pay for zod', () => {
    for (const m of valid) {
      expect(schemaOf.get(m.t as string)!.safeParse(m).success, m.t as string).toBe(true)
      expect(quickCheck(m.t as string, m), m.t as string).toBe(true)
    }
  })

  it('says no just past each bound, as zod does', () => {
    for (const m of justInvalid) {
      expect(schemaOf.get(m.t as string)!.safeParse(m).success, JSON.stringify(m)).toBe(false)
      expect(quickCheck(m.t as string, m), JSON.stringify(m)).toBe(false)
    }
  })

  it('never says yes where zod says no, and a yes is zod’s own result (seeded; the seed prints on failure)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), soup, fc.constantFrom<'set' | 'delete' | 'add'>('set', 'delete', 'add')), { minLength: 1, maxLength: 3 }), (base, edits) => {
        const m = mutate(base, edits)
        const zod = schemaOf.get(m.t as string)!.safeParse(m)
        if (quickCheck(m.t as string, m)) {
          expect(zod.success).toBe(true)
          expect(plain(m)).toEqual(plain(zod.data))
        }
      }),
      { numRuns: 3000 },
    )
  })

  it('through the codec: a frame mangled in transit gets zod’s verdict and wording', () => {
    const bad = pack({ v: 1, t: 'ihave', ids: ['x'.repeat(161)] })
    expect(quickCheck('ihave', unpack(bad) as Record<string, unknown>)).toBe(false)
    expect(decodeMessage(bad)).toMatchObject({ ok: false, reason: 'schema', detail: expect.stringMatching(/^ihave: ids\.0 /) })
    expect(quickCheck('toString', {})).toBe(false)
  })
})
