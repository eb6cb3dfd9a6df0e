import { describe, expect, it } from 'vitest'
import { encodeMessage, type OutMessage } from '../../agent/protocol/messages.js'
import { meshCodec } from './simulation.js'
import { SmallFrames } from './small-frames.js'

describe('SmallFrames (the codec memo for ping/ack/nack/prune/bye)', () => {
  it('answers exactly what the codec answers, from the memo the second time', () => {
    const memo = new SmallFrames(meshCodec)
    const msgs: OutMessage[] = [{ t: 'ping', seq: 1 }, { t: 'ack', seq: 2 ** 32 }, { t: 'nack', seq: 70_000 }, { t: 'prune' }, { t: 'bye' }]
    for (const m of msgs) {
      const first = memo.encode(m)
      expect([...memo.encode({ ...m })]).toEqual([...encodeMessage(m)])
      expect([...first]).toEqual([...encodeMessage(m)])
      const d = memo.decode(first)
      expect(d).toEqual(meshCodec.decode(first))
      expect(memo.decode(Uint8Array.from(first))).toBe(d)
    }
    expect(memo.hits).toBe(2 * msgs.length)
  })

  it('shares a decoded message frozen, so no receiver can change another one', () => {
    const memo = new SmallFrames(meshCodec)
    const d = memo.decode(encodeMessage({ t: 'ack', seq: 9 }))
    expect(d.ok).toBe(true)
    if (!d.ok) return
    expect(() => ((d.msg as { seq: number }).seq = 10)).toThrow(TypeError)
  })

  it('leaves a message of another shape (a newer minor field) to the codec', () => {
    const memo = new SmallFrames(meshCodec)
    const extra = { t: 'ping', seq: 1, hint: 'x' } as unknown as OutMessage
    expect([...memo.encode({ t: 'ping', seq: 1 })]).not.toEqual([...memo.encode(extra)])
    expect(memo.decode(memo.encode(extra))).toEqual({ ok: true, msg: { v: 1, t: 'ping', seq: 1, hint: 'x' } })
    expect(memo.hits).toBe(0)
  })

  it('memoizes bad small frames too, with the codec reason', () => {
    const memo = new SmallFrames(meshCodec)
    const junk = Uint8Array.from([0xc1])
    expect(memo.decode(junk)).toEqual(meshCodec.decode(junk))
    expect(memo.decode(junk).ok).toBe(false)
  })
})
