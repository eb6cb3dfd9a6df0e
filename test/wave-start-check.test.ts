/**
 * The start check end to end, on one host's probe rounds: what the agent publishes about
 * stopping itself (agent/health/stop-observations.ts, with the streak the agent keeps) and
 * what the coordinator's start check makes of it (coordinator/waves/wave-blockers.ts).
 *
 * The false refusal this pins (seen live, test/wave-live-k2): a wave started right after
 * the previous one's last node came back was refused as never-finishing, on a round whose
 * `ceph status` already read every PG active+clean while the mgr's ok-to-stop still counted
 * the recovery. Such a "no" is "not yet": until enough clean rounds in a row say it, the
 * agent does not publish it, the start check does not refuse, and the wave starts and
 * waits — the node showing why through its pre-reboot gate.
 */
import { describe, expect, it } from 'vitest'
import { ok, skipped, type NodeObservations } from '../agent/health/observation.js'
import { OK_ALONE_NO_ROUNDS, stopFactsOf, type OkAloneStreak } from '../agent/health/stop-observations.js'
import { samples, snapshot } from '../agent/health/testdata/fixtures.js'
import { MaxUnavailable } from '../agent/protocol/max-unavailable.js'
import type { MemberView } from '../agent/protocol/mesh-types.js'
import type { HealthSummary } from '../agent/protocol/node-record.js'
import type { StopFacts } from '../agent/protocol/stop-facts.js'
import { refusalText, startVerdict, waveBlocks } from '../coordinator/waves/wave-blockers.js'

/** One probe round of node-a: three hosts, every PG active+clean, nothing else down; Ceph's ok-to-stop for its OSDs says yes or no. */
const round = (okToStop: boolean): NodeObservations => ({ node: 'node-a', kubelet: skipped('test'), kube: skipped('test'), ceph: ok(snapshot('node-a', 'ok', okToStop ? samples.okToStop0() : samples.notOkToStop2())) })
/** A round that cannot judge "alone": another host is down. */
const downRound = (): NodeObservations => ({ node: 'node-a', kubelet: skipped('test'), kube: skipped('test'), ceph: ok(snapshot('node-c', 'down', samples.notOkToStop2())) })

/** The coordinator's view of node-a publishing `stop`, its pre gate failing with `why`. */
function member(stop: StopFacts | undefined, why: string[]): MemberView {
  const health: HealthSummary = { status: 'ok', conditions: [], gates: { pre: false, post: true, at: 0, why }, ...(stop ? { stop } : {}) }
  return { id: 'node-a', status: 'alive', inc: 1, updatedAt: 0, statusSince: 0, record: { image: 'v1', phase: 'ready', domain: 'rack1', health } as MemberView['record'] }
}

const WHY = ['ceph: Ceph says stopping osd.0 is not safe: 17 PGs would become inactive']

describe('the start check on an agent\'s probe rounds: "not ok to stop alone" is never only once confirmed', () => {
  it('a host that could stop until now: the lagging rounds right after a recovery do not refuse the next wave', () => {
    const streak: OkAloneStreak = { no: 0 }
    let stop = stopFactsOf(round(true), undefined, streak)
    expect(stop?.okAlone).toBe(true)
    // The last wave's node is back: rounds that read clean while ok-to-stop still counts the recovery.
    for (let i = 1; i < OK_ALONE_NO_ROUNDS; i++) {
      stop = stopFactsOf(round(false), stop, streak)
      expect(stop?.okAlone).toBe(true) // the last confirmed answer stands
      const v = startVerdict(['node-a'], () => member(stop, WHY))
      expect(v.never).toEqual([]) // not a refusal
      // The wave starts and waits; the node says why, in its gate's words.
      const blocks = waveBlocks({ target: 'v2', maxUnavailable: MaxUnavailable.parse(1), roster: ['node-a'], retired: new Set(), holders: new Set(), member: () => member(stop, WHY), hold: { held: false, reason: undefined, halted: false } })
      expect(blocks.get('node-a')).toEqual([{ code: 'gate', message: `pre-reboot gate: ${WHY[0]}`, permanent: false }])
    }
    // Ceph settles and says yes: the streak ends, nothing was ever refused.
    stop = stopFactsOf(round(true), stop, streak)
    expect(stop?.okAlone).toBe(true)
    expect(streak.no).toBe(0)
  })

  it('unknown yet (a fresh agent whose first clean rounds say no): not judged, the wave starts', () => {
    const streak: OkAloneStreak = { no: 0 }
    let stop: StopFacts | undefined
    for (let i = 1; i < OK_ALONE_NO_ROUNDS; i++) stop = stopFactsOf(round(false), stop, streak)
    expect(stop?.okAlone).toBeUndefined()
    expect(startVerdict(['node-a'], () => member(stop, WHY)).never).toEqual([])
  })

  it('said in enough clean rounds in a row (rounds that cannot judge "alone" neither count nor reset): refused, with the fix', () => {
    const streak: OkAloneStreak = { no: 0 }
    let stop = stopFactsOf(round(true), undefined, streak)
    for (let i = 1; i < OK_ALONE_NO_ROUNDS; i++) {
      stop = stopFactsOf(round(false), stop, streak)
      stop = stopFactsOf(downRound(), stop, streak)
      expect(stop?.okAlone).toBe(true)
    }
    stop = stopFactsOf(round(false), stop, streak)
    expect(stop?.okAlone).toBe(false)
    const v = startVerdict(['node-a'], () => member(stop, WHY))
    expect(v.never.map((n) => n.nodes)).toEqual([['node-a']])
    expect(refusalText(v, 1)).toMatch(/not ok to stop even with nothing else down and every PG active\+clean \(node-a\); fix: check which pools/)
  })
})
