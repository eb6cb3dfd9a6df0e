/**
 * A release lost on its way to one voter: a liveness gap found while hunting issue 7's stuck
 * last worker (not its cause: that was the agent's stale view of itself, see
 * agent/upgrade/mesh-cluster-view.test.ts), in its smallest form.
 *
 * A voter that misses a holder's release keeps its promise to that holder. The vote asks
 * a holder about an open promise only on demand (another candidate asks for the slot) or
 * after staleQueryMs (600 s by default). The last candidate of a wave has nobody else
 * asking: if it is the one that missed the release, it sees its slot taken and never
 * asks — for ten minutes. Earlier candidates are rescued by the demand-driven query.
 *
 * - The pure vote, one release dropped to the last candidate: it stays stuck (`it.fails`:
 *   documents the gap in agent/protocol/vote, owned by the vote's engineer; it flips to a
 *   failure, as a reminder to drop the workaround, once the vote resolves it by itself).
 * - The agent's VoteRuntime (agent/upgrade/vote-runtime.ts) broadcasts a release again
 *   after 1, 3, 9 and 27 s, so one lost broadcast no longer strands the last candidate.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { MeshEvent, MeshInput } from '../agent/protocol/mesh-types.js'
import { decodeVoteMessage } from '../agent/protocol/vote/vote-codec.js'
import { VoteNet } from '../agent/protocol/vote/vote-testing.js'
import { RELEASE_REPEAT_MS, VoteRuntime } from '../agent/upgrade/vote-runtime.js'

/** The live test's vote timing (test/support/live-cluster.ts liveVote). */
const LIVE_VOTE = { collectMs: 1000, resendMs: 200, retryMs: 300, maxDeliveryMs: 500, quietMs: 2000, syncRetryMs: 500 }

/** a and b done in turn; every release of `lostTo` misses c. Returns the net and who went in which order. */
function twoDone(lostTo: string) {
  const net = new VoteNet({ ids: ['a', 'b', 'c'], config: LIVE_VOTE })
  net.filter = (_from, to, msg) => !(msg.k === 'rel' && to === lostTo)
  net.startWave()
  net.poke()
  const order: string[] = []
  for (let round = 0; round < 2; round++) {
    net.advance(3000)
    const [h] = net.holders()
    if (!h) throw new Error(`round ${round}: nobody holds the slot`)
    order.push(h)
    net.view.set(h, { image: 'v2' })
    net.input(h, { type: 'gate', lease: net.node(h).currentLease()!, passed: true })
    net.poke()
  }
  return { net, order }
}

describe('a release lost on its way to the last candidate', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it.fails('the pure vote: the last candidate gets the slot within a minute (known gap: it waits out staleQueryMs, 600 s)', () => {
    const { net, order } = twoDone('c')
    expect(order).toEqual(['a', 'b'])
    net.advance(60_000)
    expect(net.node('c').view().slots[0]).toMatchObject({ holder: 'c' })
  })

  it('the vote runtime broadcasts a release again after 1, 3, 9 and 27 s (receivers count duplicates)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const t0 = Date.now()
    const net = new VoteNet({ ids: ['a', 'b', 'c'], config: LIVE_VOTE })
    net.startWave()
    net.poke()
    net.advance(3000)
    const [h] = net.holders()
    const vote = net.node(h!)
    const sent: MeshInput[] = []
    const mesh = { input: (i: MeshInput) => void sent.push(i), on: (_e: 'event', _l: (e: MeshEvent, at: number) => void) => mesh, off: () => mesh }
    const base = net.now
    const rt = new VoteRuntime({ vote, mesh, clock: { now: () => base + (Date.now() - t0) } })
    rt.input({ type: 'gate', lease: vote.currentLease()!, passed: true })
    await rt.idle()
    const releases = () => sent.filter((s) => s.type === 'broadcast' && (() => {
      const d = decodeVoteMessage(s.body)
      return d.ok && d.msg.k === 'rel'
    })()).length
    expect(releases()).toBe(1)
    let at = 0
    for (const [i, ms] of RELEASE_REPEAT_MS.entries()) {
      await vi.advanceTimersByTimeAsync(ms - at - 1)
      expect(releases()).toBe(i + 1)
      await vi.advanceTimersByTimeAsync(1)
      expect(releases()).toBe(i + 2)
      at = ms
    }
    await vi.advanceTimersByTimeAsync(600_000)
    expect(releases()).toBe(RELEASE_REPEAT_MS.length + 1)
    expect(rt.counters['release-repeats']).toBe(RELEASE_REPEAT_MS.length)
    rt.close()
  })

  it('with the release repeated (one of its sends lost), the last candidate gets the slot', () => {
    const net = new VoteNet({ ids: ['a', 'b', 'c'], config: LIVE_VOTE })
    // Only the first send of each release to c is lost; the repeat (as VoteRuntime sends it) arrives.
    const lost = new Set<string>()
    net.filter = (_from, to, msg) => {
      if (msg.k !== 'rel' || to !== 'c') return true
      const key = `${msg.holder}/${msg.term}`
      if (lost.has(key)) return true
      lost.add(key)
      return false
    }
    net.startWave()
    net.poke()
    for (let round = 0; round < 2; round++) {
      net.advance(3000)
      const [h] = net.holders()
      net.view.set(h!, { image: 'v2' })
      const effects = net.input(h!, { type: 'gate', lease: net.node(h!).currentLease()!, passed: true })
      const rel = effects.find((e) => e.type === 'broadcast' && e.msg.k === 'rel')
      net.advance(RELEASE_REPEAT_MS[0]!)
      if (rel?.type === 'broadcast') net.inject(h!, 'c', rel.msg)
      net.poke()
    }
    net.advance(10_000)
    expect(net.node('c').view().slots[0]).toMatchObject({ holder: 'c' })
  })
})
