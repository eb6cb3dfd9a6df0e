import { describe, expect, it } from 'vitest'
import { pack } from './frame.js'
import { MAX_UNAVAILABLE_LIMIT, MaxUnavailable } from './max-unavailable.js'
import { decodeVoteMessage } from './vote/vote-codec.js'

const messages = (v: unknown) => {
  const r = MaxUnavailable.safeParse(v)
  return r.success ? [] : r.error.issues.map((i) => i.message)
}

describe("a wave's K (maxUnavailable)", () => {
  it('is a whole number from 1 to the limit, refused otherwise with one line that says why', () => {
    expect(MaxUnavailable.parse(1)).toBe(1)
    expect(MaxUnavailable.parse(MAX_UNAVAILABLE_LIMIT)).toBe(MAX_UNAVAILABLE_LIMIT)
    expect(messages(0)).toEqual(['maxUnavailable must be at least 1 (got 0): it is how many nodes may reboot at once'])
    expect(messages(2.5)).toEqual(['maxUnavailable must be a whole number (got 2.5): it is how many nodes may reboot at once'])
    expect(messages(MAX_UNAVAILABLE_LIMIT + 1)).toEqual([`maxUnavailable must be at most ${MAX_UNAVAILABLE_LIMIT} (got ${MAX_UNAVAILABLE_LIMIT + 1})`])
  })

  it('travels on the mesh as `slots` (the v1 wire name), with the same range', () => {
    const key = 'ab'.repeat(32)
    const wave = (slots: number) =>
      pack({ k: 'wave', v: 1, id: 'w1', target: 'v2', slots, policy: 'rank', roster: [{ id: 'n1', key }], coord: { id: 'coordinator', key }, startedAt: 1, sig: new Uint8Array(64) })
    const ok = decodeVoteMessage(wave(3))
    expect(ok.ok && ok.msg.k === 'wave' && ok.msg.slots).toBe(3)
    for (const bad of [0, 2.5, MAX_UNAVAILABLE_LIMIT + 1]) expect(decodeVoteMessage(wave(bad))).toMatchObject({ ok: false, reason: 'schema' })
  })
})
