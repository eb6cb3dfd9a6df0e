import { describe, expect, it } from 'vitest'
import { seededRng } from '../agent/protocol/testing.js'
import { ChunkBroker, chunkBrokerDefaults } from './chunk-broker.js'
import { steppedClock } from './testing.js'

describe('ChunkBroker', () => {
  it('hands a chunk out twice, then names its holders; a fallback is always served', async () => {
    const b = new ChunkBroker(steppedClock(), seededRng(1))
    const a1 = await b.admit('v1', 'base.squashfs', 0, 'h:1', false)
    const a2 = await b.admit('v1', 'base.squashfs', 0, 'h:2', false)
    expect(a1.serve && a2.serve).toBe(true)
    const third = await b.admit('v1', 'base.squashfs', 0, 'h:3', false)
    expect(third).toMatchObject({ serve: false, reason: 'chunk-at-peers', holders: ['h:1', 'h:2'] })
    // Another chunk is not affected.
    expect((await b.admit('v1', 'base.squashfs', 1, 'h:3', false)).serve).toBe(true)
    expect((await b.admit('v1', 'base.squashfs', 0, 'h:3', true)).serve).toBe(true)
    expect(b.stats).toMatchObject({ refusals: 1, fallbacks: 1 })
  })

  it('hands the chunk out again once its holders went silent past the TTL', async () => {
    const clock = steppedClock()
    const b = new ChunkBroker(clock, seededRng(2))
    for (const h of ['h:1', 'h:2']) await b.admit('v1', 'f', 0, h, false)
    expect((await b.admit('v1', 'f', 0, 'h:3', false)).serve).toBe(false)
    clock.advance(chunkBrokerDefaults.peerTtlMs + 1)
    expect((await b.admit('v1', 'f', 0, 'h:3', false)).serve).toBe(true)
  })

  it('sends at most maxActive chunks at once; a queued asker is a holder already: a third asker is refused at once and told to follow it', async () => {
    const b = new ChunkBroker(steppedClock(), seededRng(3), () => [], { ...chunkBrokerDefaults, maxActive: 1 })
    const first = await b.admit('v1', 'f', 0, 'h:1', false)
    let secondDone = false
    const second = b.admit('v1', 'f', 0, 'h:2', false).then((a) => ((secondDone = true), a))
    // Refused while the second still waits for the transfer slot, not at its own turn.
    expect(await b.admit('v1', 'f', 0, 'h:3', false)).toMatchObject({ serve: false, reason: 'chunk-at-peers', holders: ['h:1', 'h:2'] })
    expect(secondDone).toBe(false)
    if (!first.serve) throw new Error('first asker refused')
    first.release()
    const s = await second
    expect(s.serve).toBe(true)
    if (s.serve) s.release()
    expect(b.stats).toMatchObject({ handouts: 2, refusals: 1 })
  })

  it('names peers booting the same image, same failure domain first, never the asker', () => {
    const b = new ChunkBroker(steppedClock(), seededRng(4), (v) => (v === 'v1' ? [{ addr: 'run:1', domain: 'rack-b' }] : []))
    b.register('v1', 'a:1', 'rack-a')
    b.register('v1', 'a:2', 'rack-a')
    b.register('v1', 'b:1', 'rack-b')
    b.register('v2', 'x:1', 'rack-a')
    const peers = b.peersFor('v1', 'a:1', 'rack-a')
    expect(peers[0]).toBe('a:2')
    expect(new Set(peers)).toEqual(new Set(['a:2', 'b:1', 'run:1']))
  })
})
