import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { fakeKeyring } from '../../agent/protocol/testing.js'
import { StaticView } from '../../agent/protocol/vote/vote-testing.js'
import { voteConfig } from '../../agent/protocol/vote/vote-config.js'
import { decodeVoteMessage, encodeVoteMessage } from '../../agent/protocol/vote/vote-codec.js'
import { signingBytes, VOTE_TOPIC, type RequestMsg, type Unsigned } from '../../agent/protocol/vote/vote-messages.js'
import { VoteNode } from '../../agent/protocol/vote/vote-node.js'
import { loadPersistedVote, VoteRuntime } from '../../agent/upgrade/vote-runtime.js'
import { StateStore } from '../state-store.js'
import { levelVoteStore, voteStoreKey, waveVoteKey } from './level-vote-store.js'
import { LinkMeshPort } from './link-mesh-port.js'

let dir: string | undefined
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
  dir = undefined
})

describe("the coordinator's vote on level", () => {
  it('its promise is on disk before its vote leaves, and a restart reads it back', async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-vote-store-'))
    const state = await StateStore.open(dir)
    const store = levelVoteStore(state)
    const view = new StaticView()
    for (const id of ['a', 'b']) view.nodes.set(id, { id, image: 'v1', domain: 'd', available: true, healthy: true, pods: 0, load: 0 })
    const coord = fakeKeyring('coord')
    const vote = new VoteNode({ id: 'coord', keyring: coord, view, config: voteConfig(), coordinatorKey: coord.publicKey, role: 'coordinator', now: 1000, mayHaveForgotten: false })
    const order: string[] = []
    const slowStore = {
      ...store,
      async put(k: string, v: Uint8Array) {
        await new Promise((r) => setImmediate(r)) // a slow disk: the vote must still wait for it
        await store.put(k, v)
        order.push(`persist ${k}`)
      },
    }
    const port = new LinkMeshPort({ broadcast: () => void order.push('broadcast'), send: (to, topic, body) => void order.push(`send ${to} ${topic} ${decodeVoteMessage(body).ok ? 'ok' : 'bad'}`) })
    const rt = new VoteRuntime({ vote, mesh: port, clock: { now: () => 1000 }, store: slowStore })
    rt.start()
    rt.input({ type: 'publish-wave', wave: { id: 'w1', target: 'v2', slots: 1, policy: 'rank', roster: ['a', 'b'].map((id) => ({ id, key: fakeKeyring(id).publicKey })), coord: { id: 'coord', key: coord.publicKey }, startedAt: 1000 } })
    await rt.idle()
    order.length = 0
    const req: Unsigned<RequestMsg> = { k: 'req', wave: 'w1', slot: 0, term: 1, cand: 'a' }
    port.receive('a', VOTE_TOPIC, encodeVoteMessage({ ...req, sig: fakeKeyring('a').sign(signingBytes(req)) }))
    await rt.idle()
    expect(order).toEqual([`persist ${waveVoteKey('w1')}`, `send a ${VOTE_TOPIC} ok`])
    rt.close()

    expect((await state.dump()).map(([k]) => k)).toContain(voteStoreKey(waveVoteKey('w1')))
    const snap = await loadPersistedVote(store, waveVoteKey('w1'))
    expect(snap?.slots[0]?.promises).toEqual([{ cand: 'a', term: 1, own: true }])
    expect(snap?.wave?.sig).toBeInstanceOf(Uint8Array)
    await state.close()
  })
})
