import { describe, expect, it } from 'vitest'
import { Dissemination } from './dissemination.js'
import { MeshContext } from './mesh-context.js'
import { meshConfig } from './mesh-config.js'
import type { MeshMessage, Update } from './messages.js'
import { signRecord } from './node-record.js'
import { silentLogger } from './ports.js'
import { Roster } from './roster.js'
import { fakeKeyring, seededRng } from './testing.js'

const names = Array.from({ length: 12 }, (_, i) => `node-${String(i).padStart(3, '0')}`)
const roster = new Roster(names.map((id) => ({ id, key: fakeKeyring(id).publicKey })))
const recordOf = (id: string, inc = 1): Update => ({
  k: 'rec',
  rec: signRecord({ id, key: fakeKeyring(id).publicKey, inc, ver: 1, image: 'v1', phase: 'ready', domain: 'd', inv: {}, health: { status: 'ok', conditions: [] }, comps: [] }, fakeKeyring(id)).signed,
})

/** `me` (node-000) linked to node-001..003; every update it is handed is news. */
function setup() {
  const cfg = meshConfig()
  const ctx = new MeshContext('node-000', cfg, roster, fakeKeyring('node-000'), seededRng(1), silentLogger, () => undefined)
  const neighbours = new Set(['node-001', 'node-002', 'node-003'])
  const d = new Dissemination(ctx, { apply: () => 'new', knows: () => false, current: () => undefined }, (p) => neighbours.has(p))
  for (const p of neighbours) d.linkUp(p, false)
  /** The messages the last call sent, as [to, type]. */
  const sent = (f: () => void): [string, MeshMessage['t']][] => {
    ctx.out = []
    f()
    return ctx.out.flatMap((e) => (e.type === 'send' ? [[e.to, e.msg.t] as [string, MeshMessage['t']]] : []))
  }
  return { ctx, d, cfg, sent }
}

describe('Dissemination in a burst of records', () => {
  it('pushes a lone relayed record at once; past 3 relayed records within a second it announces them instead', () => {
    const { d, sent } = setup()
    const gossip = (about: string, now: number) => sent(() => d.onGossip('node-001', { v: 1, t: 'gossip', h: 1, u: recordOf(about) }, now))
    // The first three relayed records are pushed to the two other eager neighbours.
    for (const [i, about] of ['node-005', 'node-006', 'node-007'].entries()) {
      expect(gossip(about, 100 + i)).toEqual([['node-002', 'gossip'], ['node-003', 'gossip']])
    }
    // The fourth within the second is only announced (IHAVE, batched): nothing goes now.
    expect(gossip('node-008', 200)).toEqual([])
  })

  it('announces the burst to every neighbour, in batches three times the usual interval, and pushes again once it is over', () => {
    const { d, cfg, sent, ctx } = setup()
    for (const [i, about] of ['node-005', 'node-006', 'node-007', 'node-008'].entries()) sent(() => d.onGossip('node-001', { v: 1, t: 'gossip', h: 1, u: recordOf(about) }, 100 + i))
    // The queued announcements wait for the longer batch.
    expect(sent(() => d.tick(103 + cfg.ihaveIntervalMs))).toEqual([])
    const ihaves = sent(() => d.tick(103 + 3 * cfg.ihaveIntervalMs))
    // Every neighbour but the sender is told about the burst's record (the sender gave it to us).
    expect(ihaves.filter(([, t]) => t === 'ihave').map(([to]) => to).sort()).toEqual(['node-002', 'node-003'])
    const announced = ctx.out.flatMap((e) => (e.type === 'send' && e.msg.t === 'ihave' ? e.msg.ids : []))
    expect(announced.filter((id) => id.includes('node-008'))).toHaveLength(2)
    // A second later the burst is over: a relayed record is pushed again.
    expect(sent(() => d.onGossip('node-001', { v: 1, t: 'gossip', h: 1, u: recordOf('node-009') }, 1200))).toEqual([['node-002', 'gossip'], ['node-003', 'gossip']])
  })

  it("never holds back a claim, a record from its own origin, or this node's own update", () => {
    const { d, sent } = setup()
    for (const [i, about] of ['node-005', 'node-006', 'node-007'].entries()) sent(() => d.onGossip('node-001', { v: 1, t: 'gossip', h: 1, u: recordOf(about) }, 100 + i))
    // In the burst: node-002's own record, handed over by node-002 itself, still goes out at once.
    expect(sent(() => d.onGossip('node-002', { v: 1, t: 'gossip', h: 0, u: recordOf('node-002') }, 110))).toEqual([['node-001', 'gossip'], ['node-003', 'gossip']])
    // This node's own update.
    expect(sent(() => d.spread(recordOf('node-000'), undefined, 0, 111))).toEqual([['node-001', 'gossip'], ['node-002', 'gossip'], ['node-003', 'gossip']])
    // A claim (a suspicion must not wait for a batch).
    const claim: Update = { k: 'claim', about: 'node-009', inc: 1, status: 'suspect', by: 'node-004', sig: new Uint8Array(64) }
    expect(sent(() => d.onGossip('node-001', { v: 1, t: 'gossip', h: 2, u: claim }, 112))).toEqual([['node-002', 'gossip'], ['node-003', 'gossip']])
  })
})
