import { describe, expect, it } from 'vitest'
import { fakeKeyring } from '../testing.js'
import { decodeVoteMessage, encodeVoteMessage } from './vote-codec.js'
import { voteConfig } from './vote-config.js'
import { signingBytes, type RequestMsg, type Unsigned, type VoteMessage, type VoteMsg } from './vote-messages.js'
import type { Lease, VoteEffect } from './vote-node.js'
import { COORD, VoteNet } from './vote-testing.js'

const ids = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`)

function signed<M extends VoteMessage>(by: string, m: Unsigned<M>): M {
  return { ...m, sig: fakeKeyring(by).sign(signingBytes(m as Unsigned<VoteMessage>)) } as unknown as M
}

function leaseOf(net: VoteNet, id: string): Lease {
  const l = net.node(id).currentLease()
  if (!l) throw new Error(`${id} holds no lease`)
  return l
}

describe('VoteNode: one lease', () => {
  it('the best-ranked candidate asks, a quorum votes, it holds the fencing token (slot, term)', () => {
    const net = new VoteNet({ ids: ids(5) })
    net.view.set('n0', { pods: 9 }) // n1 is the least turbulent
    net.startWave()
    expect(net.holders()).toEqual(['n1'])
    const lease = leaseOf(net, 'n1')
    expect(lease).toMatchObject({ wave: 'w1', slot: 0, term: 1, holder: 'n1' })
    expect(net.node('n1').fenceValid(lease)).toBe(true)
    expect(net.effects('n1', 'lease-acquired')).toHaveLength(1)
    // Every other node learnt of the grant: "who holds which slot".
    expect(net.node('n3').view().slots[0]).toMatchObject({ holder: 'n1', term: 1 })
  })

  it('persists a vote before sending it', () => {
    const net = new VoteNet({ ids: ids(3) })
    net.startWave()
    const eff = net.effects('n2')
    const persist = eff.findIndex((e) => e.type === 'persist' && e.state.slots[0]!.myVotes.length > 0)
    const vote = eff.findIndex((e) => e.type === 'send' && e.msg.k === 'vote')
    expect(persist).toBeGreaterThanOrEqual(0)
    expect(vote).toBeGreaterThan(persist)
  })

  it('a held slot stays held: others are refused until the holder releases after its gate', () => {
    const net = new VoteNet({ ids: ids(5) })
    net.startWave()
    const lease = leaseOf(net, 'n0')
    net.view.set('n0', { available: false, healthy: false }) // draining, rebooting
    net.advance(600_000) // nothing expires on a timer
    net.poke()
    expect(net.holders()).toEqual(['n0'])
    net.input('n0', { type: 'gate', lease, passed: false })
    expect(net.holders()).toEqual(['n0'])
    net.view.set('n0', { available: true, healthy: true, image: 'v2' })
    const eff = net.input('n0', { type: 'gate', lease, passed: true })
    expect(eff.some((e) => e.type === 'lease-released')).toBe(true)
    expect(eff.some((e) => e.type === 'broadcast' && e.msg.k === 'rel')).toBe(true)
    // The release freed the slot at every voter: the next candidate wins term 2.
    expect(net.holders()).toEqual(['n1'])
    expect(leaseOf(net, 'n1').term).toBe(2)
  })

  it('votes at most once per (slot, term): a second candidate for the same term is refused', () => {
    const net = new VoteNet({ ids: ids(3) })
    net.filter = (_f, _t, m) => m.k !== 'req' // no request travels: we drive them by hand
    net.startWave()
    const a = signed<RequestMsg>('n0', { k: 'req', wave: 'w1', slot: 0, term: 5, cand: 'n0' })
    const b = signed<RequestMsg>('n1', { k: 'req', wave: 'w1', slot: 0, term: 5, cand: 'n1' })
    net.filter = () => false // keep answers in the log only
    const first = net.inject('n0', 'n2', a)
    expect(first.find((e) => e.type === 'send')).toMatchObject({ msg: { k: 'vote', cand: 'n0', term: 5 } })
    const second = net.inject('n1', 'n2', b)
    expect(second.find((e) => e.type === 'send')).toMatchObject({ msg: { k: 'nack', reason: 'voted', other: { term: 5, cand: 'n0' } } })
    // Asked again by the same candidate, it answers the same (idempotent re-send, no new promise).
    const again = net.inject('n0', 'n2', a)
    expect(again.find((e) => e.type === 'send')).toMatchObject({ msg: { k: 'vote', cand: 'n0', term: 5 } })
    expect(again.some((e) => e.type === 'persist')).toBe(false)
    // A later term from the other candidate: still refused, the promise to n0 stands.
    const later = net.inject('n1', 'n2', signed<RequestMsg>('n1', { k: 'req', wave: 'w1', slot: 0, term: 6, cand: 'n1' }))
    expect(later.find((e) => e.type === 'send')).toMatchObject({ msg: { k: 'nack', reason: 'promised', other: { cand: 'n0', term: 5 } } })
  })
})

describe("VoteNode: the voter's checks", () => {
  it('refuses when the budget is used up by a node unavailable for any other cause', () => {
    const net = new VoteNet({ ids: ids(5) })
    net.view.set('n4', { available: false }) // NotReady for reasons of its own
    net.startWave()
    expect(net.holders()).toEqual([])
    expect(net.node('n2').counters['nack.budget'] ?? 0).toBe(0) // nobody even asked: candidates see the budget too
    // Forced by hand, a request is refused for the budget.
    net.filter = () => false
    const eff = net.inject('n0', 'n2', signed<RequestMsg>('n0', { k: 'req', wave: 'w1', slot: 0, term: 1, cand: 'n0' }))
    expect(eff.find((e) => e.type === 'send')).toMatchObject({ msg: { k: 'nack', reason: 'budget' } })
    net.filter = () => true
    net.view.set('n4', { available: true })
    net.poke()
    expect(net.holders()).toEqual(['n0'])
  })

  it('refuses a candidate that is not the best-ranked waiting one', () => {
    const net = new VoteNet({ ids: ids(3) })
    net.filter = (_f, _t, m) => m.k === 'wave'
    net.startWave()
    net.filter = () => false
    const eff = net.inject('n2', 'n1', signed<RequestMsg>('n2', { k: 'req', wave: 'w1', slot: 0, term: 1, cand: 'n2' }))
    expect(eff.find((e) => e.type === 'send')).toMatchObject({ msg: { k: 'nack', reason: 'rank' } })
  })

  it('refuses when the Ceph or Kubernetes gate fails, and ranks ok-to-stop nodes first', () => {
    const net = new VoteNet({ ids: ids(3), slots: 2 })
    net.view.conflict('n0', 'n1') // a PG on n0 and n1 with one replica to spare
    net.view.undrainable.add('n2')
    net.startWave()
    // Two slots, but n1 may not stop while n0 does, and n2 cannot be drained.
    expect(net.holders()).toEqual(['n0'])
    net.filter = () => false
    const eff = net.inject('n1', 'n2', signed<RequestMsg>('n1', { k: 'req', wave: 'w1', slot: 1, term: 1, cand: 'n1' }))
    expect(eff.find((e) => e.type === 'send')).toMatchObject({ msg: { k: 'nack', reason: 'gate' } })
  })

  it('one-at-a-time domains: slots are never held in two domains at once', () => {
    const net = new VoteNet({ ids: ids(4), slots: 3, policy: 'one-at-a-time', domains: { n0: 'a', n1: 'b', n2: 'a', n3: 'b' } })
    net.startWave()
    const hs = net.holders()
    expect(hs.sort()).toEqual(['n0', 'n2'])
  })
})

describe('VoteNode: split votes and the tie-break', () => {
  it('exactly half plus the coordinator wins; half without it does not', () => {
    const net = new VoteNet({ ids: ids(4) })
    // n0 asks; n2 and n3 cannot hear it: n0 gets n0, n1 (half) and the coordinator's tie-break vote.
    net.cut.add('n0>n2').add('n0>n3')
    net.startWave()
    expect(net.holders()).toEqual(['n0'])
    expect(net.effects('n0', 'broadcast').find((e) => e.type === 'broadcast' && e.msg.k === 'grant')).toMatchObject({ msg: { votes: 2 } })

    const net2 = new VoteNet({ ids: ids(4) })
    net2.cut.add('n0>n2').add('n0>n3').add(`n0>${COORD}`)
    net2.startWave()
    net2.advance(1000)
    expect(net2.holders()).toEqual([])
  })

  it('a split term ends with withdraws naming the leader, and the next term backs it', () => {
    const net = new VoteNet({ ids: ids(4) })
    // The coordinator hears neither candidate: no tie-break this time.
    net.cut.add(`n0>${COORD}`).add(`n1>${COORD}`)
    // n0 reaches n2 only; n1 reaches n3 only.
    net.cut.add('n0>n1').add('n0>n3').add('n1>n0').add('n1>n2')
    net.startWave() // n0 (best by id) asks: n0, n2 vote for it
    net.view.set('n0', { pods: 5 }) // n1 now looks best to those who judge
    net.input('n1', { type: 'view-changed' }) // n1 asks: n1, n3 vote for it -> 2-2
    expect(net.holders()).toEqual([])
    for (const c of ['n0>n1', 'n0>n3', 'n1>n0', 'n1>n2']) net.cut.delete(c)
    net.advance(net.cfg.collectMs + 2000)
    expect(net.holders()).toEqual(['n0']) // the tie among leaders breaks by id: n0 led term 1
    expect(leaseOf(net, 'n0').term).toBe(2)
    const wd = net.log.filter((l) => l.effect.type === 'broadcast' && l.effect.msg.k === 'wd').map((l) => (l.effect as { msg: { cand: string; leader?: string } }).msg)
    expect(wd.map((w) => w.cand).sort()).toEqual(['n0', 'n1'])
    expect(wd.every((w) => w.leader === 'n0')).toBe(true)
  })
})

describe('VoteNode: force-release, fencing, memory', () => {
  it("an operator force-release voids the lease (a new term); the holder's fence check fails", () => {
    const net = new VoteNet({ ids: ids(3) })
    net.startWave()
    const lease = leaseOf(net, 'n0')
    net.view.set('n0', { available: false }) // dead holder
    net.down.add('n0')
    net.advance(3_600_000)
    expect(net.node('n1').view().slots[0]!.holder).toBe('n0') // still held an hour later
    net.view.set('n0', { available: true })
    net.down.delete('n0')
    net.input(COORD, { type: 'force-release', slot: 0 })
    expect(net.node('n0').fenceValid(lease)).toBe(false)
    expect(net.effects('n0', 'lease-lost')).toHaveLength(1)
    // n0 (not on v2 yet) is the best candidate again, at a newer term.
    net.poke()
    const again = leaseOf(net, 'n0')
    expect(again.term).toBeGreaterThan(lease.term)
  })

  it('a voter restarted from its store keeps its promise', () => {
    const net = new VoteNet({ ids: ids(3) })
    net.cut.add('n0>n1') // n0 gets n0, n2: quorum of 3
    net.startWave()
    expect(net.holders()).toEqual(['n0'])
    net.restartProcess('n2')
    expect(net.node('n2').abstaining).toBe(false)
    net.filter = () => false
    const eff = net.inject('n1', 'n2', signed<RequestMsg>('n1', { k: 'req', wave: 'w1', slot: 0, term: 2, cand: 'n1' }))
    expect(eff.find((e) => e.type === 'send')).toMatchObject({ msg: { k: 'nack', reason: 'promised', other: { cand: 'n0' } } })
  })

  it('a node that lost its memory abstains through the quiet period, then relearns promises', () => {
    const net = new VoteNet({ ids: ids(5) })
    net.startWave()
    expect(net.holders()).toEqual(['n0'])
    net.reboot('n2')
    net.advance(100)
    expect(net.node('n2').abstaining).toBe(true)
    net.filter = (_f, to) => to !== 'n2' // what n2 says gets through only to the log
    const during = net.inject('n1', 'n2', signed<RequestMsg>('n1', { k: 'req', wave: 'w1', slot: 0, term: 2, cand: 'n1' }))
    expect(during.some((e) => e.type === 'send' && (e.msg.k === 'vote' || e.msg.k === 'nack'))).toBe(false) // no vote, no answer
    expect(during.find((e) => e.type === 'dropped')).toBeDefined()
    net.filter = () => true
    net.advance(net.cfg.quietMs + 2000)
    expect(net.node('n2').currentWave()?.id).toBe('w1') // learnt from the answers
    expect(net.node('n2').abstaining).toBe(false)
    // Its own vote for n0 is gone, but the others' promises to n0 are now its own knowledge.
    expect(net.node('n2').view().slots[0]!.promisedTo).toContain('n0')
    net.filter = () => false
    const after = net.inject('n1', 'n2', signed<RequestMsg>('n1', { k: 'req', wave: 'w1', slot: 0, term: 2, cand: 'n1' }))
    expect(after.find((e) => e.type === 'send')).toMatchObject({ msg: { k: 'nack', reason: 'promised' } })
  })

  it('a holder that lost its memory mid-reboot reclaims its lease from its voters and releases after its gate', () => {
    const net = new VoteNet({ ids: ids(3) })
    net.startWave()
    const lease = leaseOf(net, 'n0')
    net.reboot('n0')
    net.view.set('n0', { image: 'v2', available: false, healthy: false })
    net.advance(net.cfg.quietMs + 3000)
    expect(net.node('n0').abstaining).toBe(false)
    expect(net.node('n0').currentLease()).toMatchObject({ slot: lease.slot, term: lease.term })
    net.view.set('n0', { available: true, healthy: true })
    net.input('n0', { type: 'gate', lease: leaseOf(net, 'n0'), passed: true })
    net.poke()
    expect(net.holders()).toEqual(['n1'])
  })

  it('a rebooted holder whose reclaim can no longer reach a quorum keeps its slot until its gate passes, then withdraws (even while still cordoned)', () => {
    const net = new VoteNet({ ids: ids(3) })
    // n2 never hears n0's request: n0 wins with n0 + n1 only.
    net.filter = (_f, to, m) => !(m.k === 'req' && to === 'n2')
    net.startWave()
    net.filter = () => true
    const lease = leaseOf(net, 'n0')
    // n1 dies for good (its vote is gone); n0 reboots onto the target and forgets.
    net.down.add('n1')
    net.reboot('n0')
    net.view.set('n0', { image: 'v2', available: false, healthy: false })
    net.view.set('n1', { available: false, healthy: false })
    net.advance(net.cfg.quietMs + 10_000)
    expect(net.node('n0').busy).toBe(true) // reclaiming: the slot stays taken
    expect(net.node('n2').view().slots[0]).toMatchObject({ holder: 'n0', term: lease.term })
    // The post-reboot gate passes; the node is still cordoned by its own cycle (not available).
    net.view.set('n0', { healthy: true })
    net.advance(net.cfg.collectMs + 500)
    expect(net.node('n0').busy).toBe(false)
    expect(net.node('n0').currentLease()).toBeUndefined()
    expect(net.effects('n0', 'broadcast').some((e) => e.type === 'broadcast' && e.msg.k === 'wd' && e.msg.term === lease.term)).toBe(true)
    expect(net.node('n2').view().slots[0]!.holder).toBeUndefined()
  })

  it('a coordinator restarted from its Store asks what it missed: its force-release then covers the current holder', () => {
    const net = new VoteNet({ ids: ids(3) })
    net.startWave()
    const first = leaseOf(net, 'n0')
    net.down.add(COORD)
    // While the coordinator is down: n0 releases, n1 wins the slot at the next term.
    net.view.set('n0', { image: 'v2' })
    net.input('n0', { type: 'gate', lease: first, passed: true })
    net.poke()
    const second = leaseOf(net, 'n1')
    expect(second.term).toBeGreaterThan(first.term)
    net.down.delete(COORD)
    net.nodes.set(COORD, net.make(COORD, 'coordinator', false, net.stores.get(COORD)))
    net.advance(500)
    expect(net.node(COORD).view().slots[0]).toMatchObject({ holder: 'n1', term: second.term })
    net.input(COORD, { type: 'force-release', slot: 0 })
    expect(net.effects('n1', 'lease-lost')).toMatchObject([{ lease: { term: second.term } }])
    // The slot is free again: n1, still waiting, may win it anew, at a higher term only.
    expect(net.node('n1').currentLease()?.term ?? Infinity).toBeGreaterThan(second.term)
  })

  it('a node that lost its memory never asks again at a term it already used (its old withdraw would resolve the new promises)', () => {
    const net = new VoteNet({ ids: ids(3) })
    // n0 asks at term 1 and hears nothing; its withdraw of term 1 reaches n1 only.
    net.filter = (_f, to, m) => m.k === 'wave' || (m.k === 'wd' && to === 'n1')
    net.startWave()
    net.advance(net.cfg.collectMs + 100)
    expect(net.node('n1').view().slots[0]!.term).toBe(1)
    net.filter = () => true
    // A voter that holds the withdraw refuses the same (slot, term) and says why.
    const again = net.inject('n0', 'n1', signed<RequestMsg>('n0', { k: 'req', wave: 'w1', slot: 0, term: 1, cand: 'n0' }))
    expect(again.filter((e) => e.type === 'send').map((e) => (e as { msg: VoteMessage }).msg.k)).toEqual(['wd'])
    net.reboot('n0')
    net.advance(net.cfg.quietMs + 5000)
    const reqs = net.log.filter((l) => l.node === 'n0' && l.effect.type === 'broadcast' && l.effect.msg.k === 'req').map((l) => (l.effect as { msg: RequestMsg }).msg.term)
    expect(reqs[0]).toBe(1) // before the reboot
    expect(reqs.slice(1).every((t) => t > 1)).toBe(true) // after it: learnt from the members' answers
    expect(leaseOf(net, 'n0').term).toBeGreaterThan(1)
  })

  it('a rebooted node that hears of the wave only late (cut off while it asked) still abstains and relearns before voting', () => {
    const net = new VoteNet({ ids: ids(4) })
    net.startWave()
    expect(net.holders()).toEqual(['n0'])
    net.reboot('n0')
    net.view.set('n0', { image: 'v2', available: false, healthy: false })
    const others = [...net.nodes.keys()].filter((id) => id !== 'n0')
    for (const o of others) net.cut.add(`n0>${o}`).add(`${o}>n0`)
    net.advance(net.cfg.quietMs + 8000) // its syncs find nobody: it stops asking, knowing no wave
    expect(net.node('n0').currentWave()).toBeUndefined()
    net.cut.clear()
    net.advance(30_000) // the coordinator announces the wave again
    expect(net.node('n0').currentWave()?.id).toBe('w1')
    // It relearned its promises, and with them its lease: still one holder, and it is n0.
    expect(net.holders()).toEqual(['n0'])
    expect(net.node('n1').view().slots[0]).toMatchObject({ holder: 'n0' })
  })

  it('a lost release is recovered by asking the holder (no timer frees anything)', () => {
    const net = new VoteNet({ ids: ids(3), config: { staleQueryMs: 10_000 } })
    net.startWave()
    const lease = leaseOf(net, 'n0')
    net.view.set('n0', { image: 'v2' })
    net.filter = (_f, _t, m) => m.k !== 'rel'
    net.input('n0', { type: 'gate', lease, passed: true })
    net.filter = () => true
    expect(net.holders()).toEqual([])
    net.advance(30_000, 500)
    expect(net.holders()).toEqual(['n1'])
  })

  it('a grant at a higher term supersedes an older promise on the slot (its release may never come: the holder can be dead and retired)', () => {
    const net = new VoteNet({ ids: ids(3) })
    net.startWave()
    expect(leaseOf(net, 'n0')).toMatchObject({ slot: 0, term: 1 })
    const before = net.node('n2').view().slots[0]!
    expect(before.promisedTo).toContain('n0')
    // n0's release never reaches n2; the slot's next holder (term 2) announces itself.
    net.inject('n1', 'n2', signed('n1', { k: 'grant', wave: 'w1', slot: 0, term: 2, holder: 'n1', votes: 2 }))
    const after = net.node('n2').view().slots[0]!
    expect(after.promisedTo).not.toContain('n0')
    expect(after.holder).toBe('n1')
    expect(net.node('n2').counters['promises.superseded']).toBe(1)
  })
})

describe('VoteNode: bad input is dropped and counted, never counted toward a quorum', () => {
  function collecting() {
    const net = new VoteNet({ ids: ids(5) })
    net.filter = (_f, _t, m) => m.k === 'wave' || m.k === 'req'
    net.startWave() // n0 asks; every answer is held back
    return net
  }
  const vote = (voter: string, p: Partial<Unsigned<VoteMsg>> = {}) => signed<VoteMsg>(voter, { k: 'vote', wave: 'w1', slot: 0, term: 1, voter, cand: 'n0', ...p })

  it('bad signature', () => {
    const net = collecting()
    const v = { ...vote('n1'), sig: fakeKeyring('n9').sign(new Uint8Array([1])) }
    const eff = net.inject('n1', 'n0', v)
    expect(eff.find((e) => e.type === 'dropped')).toMatchObject({ reason: 'bad-signature' })
    net.inject('n2', 'n0', vote('n2'))
    expect(net.holders()).toEqual([]) // n0 + n2 only: the forged n1 did not count
    expect(net.node('n0').counters['dropped.bad-signature']).toBe(1)
  })

  it('a member that booted again since the wave started (a new key, RAM only) is heard by the key its current record carries, and only by that one', () => {
    const net = collecting()
    const reborn = fakeKeyring('n1-second-boot')
    const v = { ...vote('n1'), sig: reborn.sign(signingBytes(vote('n1') as Unsigned<VoteMessage>)) }
    // Before the view knows the new key: the wave roster's key does not match.
    expect(net.inject('n1', 'n0', v).find((e) => e.type === 'dropped')).toMatchObject({ reason: 'bad-signature' })
    // The current roster (through the view) gives n1 its new key: the same vote counts.
    net.view.keys.set('n1', reborn.publicKey)
    expect(net.inject('n1', 'n0', v).some((e) => e.type === 'dropped')).toBe(false)
    // A third key is still nobody's.
    const forged = { ...vote('n1'), sig: fakeKeyring('mallory').sign(signingBytes(vote('n1') as Unsigned<VoteMessage>)) }
    expect(net.inject('n1', 'n0', forged).find((e) => e.type === 'dropped')).toMatchObject({ reason: 'bad-signature' })
    net.inject('n2', 'n0', vote('n2'))
    expect(net.holders()).toEqual(['n0']) // n0 + n1 (new key) + n2: a quorum of 5
  })

  it('a key off the wave roster', () => {
    const net = collecting()
    const eff = net.inject('n7', 'n0', vote('n7'))
    expect(eff.find((e) => e.type === 'dropped')).toMatchObject({ reason: 'not-on-roster' })
    const req = net.inject('n7', 'n1', signed<RequestMsg>('n7', { k: 'req', wave: 'w1', slot: 0, term: 3, cand: 'n7' }))
    expect(req.find((e) => e.type === 'dropped')).toMatchObject({ reason: 'not-on-roster' })
  })

  it('a stale term', () => {
    const net = collecting()
    const eff = net.inject('n1', 'n0', vote('n1', { term: 0 + 7 }))
    expect(eff.find((e) => e.type === 'dropped')).toMatchObject({ reason: 'stale' })
    net.inject('n2', 'n0', vote('n2'))
    expect(net.holders()).toEqual([])
    // A request for a term below one already seen is refused as stale.
    net.filter = () => false
    net.inject('n3', 'n4', signed<RequestMsg>('n3', { k: 'req', wave: 'w1', slot: 0, term: 9, cand: 'n3' }))
    const old = net.inject('n2', 'n4', signed<RequestMsg>('n2', { k: 'req', wave: 'w1', slot: 0, term: 8, cand: 'n2' }))
    expect(old.find((e) => e.type === 'send')).toMatchObject({ msg: { k: 'nack', reason: 'stale' } })
  })

  it('an unknown wave', () => {
    const net = collecting()
    const eff = net.inject('n1', 'n0', vote('n1', { wave: 'w9' }))
    expect(eff.find((e) => e.type === 'dropped')).toMatchObject({ reason: 'unknown-wave' })
    // A wave not signed by our coordinator is refused too.
    const fake = signed<VoteMessage>('n1', { k: 'wave', v: 1, id: 'w9', target: 'v9', slots: 9, policy: 'rank', roster: [{ id: 'n1', key: fakeKeyring('n1').publicKey }], coord: { id: 'n1', key: fakeKeyring('n1').publicKey }, startedAt: 1 } as Unsigned<VoteMessage>)
    const w = net.inject('n1', 'n2', fake)
    expect(w.find((e) => e.type === 'dropped')).toMatchObject({ reason: 'not-on-roster' })
    expect(net.node('n2').currentWave()?.id).toBe('w1')
  })

  it('a replayed vote', () => {
    const net = collecting()
    net.inject('n1', 'n0', vote('n1'))
    const eff = net.inject('n1', 'n0', vote('n1'))
    expect(eff.find((e) => e.type === 'dropped')).toMatchObject({ reason: 'replay' })
    expect(net.holders()).toEqual([]) // n0 + n1 = 2 of 5
    net.inject('n2', 'n0', vote('n2'))
    expect(net.holders()).toEqual(['n0'])
    expect(net.node('n0').counters['dropped.replay']).toBe(1)
  })
})

describe('vote codec', () => {
  it('round-trips a message and rejects garbage without throwing', () => {
    const m = signed<RequestMsg>('n0', { k: 'req', wave: 'w1', slot: 0, term: 3, cand: 'n0' })
    const d = decodeVoteMessage(encodeVoteMessage(m))
    expect(d.ok && d.msg).toEqual({ ...m, sig: Buffer.from(m.sig) })
    expect(decodeVoteMessage(new Uint8Array([0xc1])).ok).toBe(false)
    const bad = decodeVoteMessage(encodeVoteMessage({ ...m, slot: -1 } as VoteMessage))
    expect(bad).toMatchObject({ ok: false, reason: 'schema' })
  })

  it('refuses a quiet period too short to outlast a vote collection', () => {
    expect(() => voteConfig({ quietMs: 1000, collectMs: 2000 })).toThrow(/quietMs/)
  })
})

export type { VoteEffect }
