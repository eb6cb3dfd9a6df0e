import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { fakeKeyring } from '../../agent/protocol/testing.js'
import { StaticView } from '../../agent/protocol/vote/vote-testing.js'
import { voteConfig } from '../../agent/protocol/vote/vote-config.js'
import { encodeVoteMessage } from '../../agent/protocol/vote/vote-codec.js'
import { signingBytes, type RequestMsg, type Unsigned } from '../../agent/protocol/vote/vote-messages.js'
import { VoteNode } from '../../agent/protocol/vote/vote-node.js'
import { StateStore } from '../state-store.js'
import { loadVoteSnapshot, VoteDriver, voteKey } from './vote-driver.js'

let dir: string | undefined
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
  dir = undefined
})

describe('VoteDriver', () => {
  it("writes the coordinator's promise to level before its vote leaves, and restores it", async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-vote-driver-'))
    const store = await StateStore.open(dir)
    const view = new StaticView()
    for (const id of ['a', 'b']) view.nodes.set(id, { id, image: 'v1', domain: 'd', available: true, healthy: true, pods: 0, load: 0 })
    const coord = fakeKeyring('coord')
    const vote = new VoteNode({ id: 'coord', keyring: coord, view, config: voteConfig(), coordinatorKey: coord.publicKey, role: 'coordinator', now: 1000, mayHaveForgotten: false })
    const order: string[] = []
    const realPut = store.put.bind(store)
    store.put = async (k, v) => {
      await new Promise((r) => setImmediate(r)) // a slow disk: the send must still wait
      await realPut(k, v)
      order.push(`persist ${k}`)
    }
    const link = { broadcast: (_t: string, _b: Uint8Array) => void order.push('broadcast'), send: (to: string) => void order.push(`send ${to}`) }
    const d = new VoteDriver(vote, link, store, { now: () => 1000 })
    await d.input({ type: 'publish-wave', wave: { id: 'w1', target: 'v2', slots: 1, policy: 'rank', roster: ['a', 'b'].map((id) => ({ id, key: fakeKeyring(id).publicKey })), coord: { id: 'coord', key: coord.publicKey }, startedAt: 1000 } })
    order.length = 0
    const req: Unsigned<RequestMsg> = { k: 'req', wave: 'w1', slot: 0, term: 1, cand: 'a' }
    await d.deliver('a', encodeVoteMessage({ ...req, sig: fakeKeyring('a').sign(signingBytes(req)) }))
    expect(order).toEqual([`persist ${voteKey('w1')}`, 'send a'])
    await d.close()

    const snap = await loadVoteSnapshot(store, 'w1')
    expect(snap?.slots[0]?.promises).toEqual([{ cand: 'a', term: 1, own: true }])
    expect(snap?.wave?.sig).toBeInstanceOf(Uint8Array)
    await store.close()
  })
})
