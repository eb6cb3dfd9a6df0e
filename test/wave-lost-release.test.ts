/**
 * A release lost on its way to one voter, in its smallest form (found while hunting a stuck
 * last worker live). A voter that misses a holder's release keeps its promise to that
 * holder. The last candidate of a wave has nobody else asking for the slot (a request from
 * another candidate makes a voter ask at once, and the candidate forwards the release as
 * proof): if it is the one that missed the release, it used to wait out staleQueryMs
 * (600 s). The vote now asks a holder that looks done in its view (on the target,
 * available, healthy) whether it released (agent/protocol/vote/resolution.ts
 * doneHolderTick) — the agent no longer repeats its releases on a timer.
 */
import { describe, expect, it } from 'vitest'
import { VoteNet } from '../agent/protocol/vote/vote-testing.js'

/** The live test's vote timing (test/support/live-cluster.ts liveVote). */
const LIVE_VOTE = { collectMs: 1000, resendMs: 200, retryMs: 300, maxDeliveryMs: 500, quietMs: 2000, syncRetryMs: 500 }

/** Loses the first copy of every release that reaches c (its broadcast); a later one (an answer) arrives. */
function loseReleaseBroadcastsTo(net: VoteNet, victim: string): void {
  const lost = new Set<string>()
  net.filter = (_from, to, msg) => {
    if (msg.k !== 'rel' || to !== victim) return true
    const key = `${msg.holder}/${msg.slot}/${msg.term}`
    if (lost.has(key)) return true
    lost.add(key)
    return false
  }
}

/** a and b done in turn, every release broadcast lost to c when `lose`. Returns the net and who went in which order. */
function twoDone(lose: boolean) {
  const net = new VoteNet({ ids: ['a', 'b', 'c'], config: LIVE_VOTE })
  if (lose) loseReleaseBroadcastsTo(net, 'c')
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
  it('the last candidate gets the slot within a minute: it asks the holder that looks done', () => {
    const { net, order } = twoDone(true)
    expect(order).toEqual(['a', 'b'])
    net.advance(60_000)
    expect(net.node('c').view().slots[0]).toMatchObject({ holder: 'c' })
    expect(net.node('c').counters['queries.done-holder']).toBeGreaterThanOrEqual(1)
  })

  it('no release lost: nobody asks', () => {
    const { net } = twoDone(false)
    net.advance(60_000)
    expect(net.node('c').view().slots[0]).toMatchObject({ holder: 'c' })
    for (const id of ['a', 'b', 'c', 'coord']) expect(net.node(id).counters['queries.done-holder'] ?? 0).toBe(0)
  })

  it('a holder that looks done but has not released yet is asked again, with backoff, until it answers', () => {
    const net = new VoteNet({ ids: ['a', 'b', 'c'], config: LIVE_VOTE })
    loseReleaseBroadcastsTo(net, 'c')
    net.startWave()
    net.poke()
    net.advance(3000)
    const [h] = net.holders()
    // The gossip shows it done before its gate input arrives: c asks, and hears nothing yet.
    net.view.set(h!, { image: 'v2' })
    net.poke()
    net.advance(1500)
    const asked = net.node('c').counters['queries.done-holder'] ?? 0
    expect(asked).toBeGreaterThanOrEqual(1)
    expect(net.node('c').view().slots[0]?.promisedTo).toEqual([h])
    net.input(h!, { type: 'gate', lease: net.node(h!).currentLease()!, passed: true })
    net.advance(10_000)
    expect(net.node('c').view().slots[0]?.promisedTo).not.toContain(h)
    // Backoff: a handful of questions in 11.5 s, not one per tick.
    expect(net.node('c').counters['queries.done-holder']).toBeLessThanOrEqual(4)
  })
})
