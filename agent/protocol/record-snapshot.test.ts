import { describe, expect, it } from 'vitest'
import { meshConfig } from './mesh-config.js'
import { MeshNode } from './mesh-node.js'
import type { MeshEffect } from './mesh-types.js'
import { PROTOCOL_VERSION } from './frame.js'
import { signRecord, type NodeRecordBody, type SignedRecord } from './node-record.js'
import { recordSnapshot } from './record-snapshot.js'
import { Roster } from './roster.js'
import { fakeKeyring, seededRng } from './testing.js'

const names = ['rs-a', 'rs-b', 'rs-c', 'rs-d', 'rs-e']
const roster = new Roster(names.map((id) => ({ id, key: fakeKeyring(id).publicKey })))
const T0 = 1_767_225_600_000

function body(id: string, ver = 1): NodeRecordBody {
  return { id, key: fakeKeyring(id).publicKey, inc: Math.floor(T0 / 1000), ver: T0 + ver, image: 'v1', phase: 'ready', domain: 'rack-1', inv: {}, health: { status: 'ok', conditions: [] }, comps: [] }
}

function node(id: string): MeshNode {
  return new MeshNode({ self: { id, image: 'v1', phase: 'ready', domain: 'rack-1', inv: {}, health: { status: 'ok', conditions: [] }, comps: [] }, config: meshConfig(), roster, keyring: fakeKeyring(id), rng: seededRng(1) }, T0)
}

/** What a node sends first on a fresh link it opens: its anti-entropy summary (the bucket hashes of its table). */
function summary(n: MeshNode, peer: string): Uint8Array {
  const sent = n.step({ type: 'connected', peer }, T0 + 10).filter((e): e is Extract<MeshEffect, { type: 'send' }> => e.type === 'send')
  const sum = sent.find((e) => e.msg.t === 'ae-sum')
  if (!sum || sum.msg.t !== 'ae-sum') throw new Error('no ae-sum sent')
  return sum.msg.b
}

describe('RecordSnapshot and MeshNode.adopt', () => {
  it('leave a fresh node the table the receive path leaves: same members, statuses, records, order and anti-entropy summary', () => {
    const records: SignedRecord[] = names.map((id) => signRecord(body(id), fakeKeyring(id)).signed)
    const viaWire = node('rs-a')
    viaWire.step({ type: 'message', from: 'rs-b', msg: { v: PROTOCOL_VERSION, t: 'ae-delta', u: records.filter((_, i) => i > 0).map((rec) => ({ k: 'rec' as const, rec })) } }, T0)
    const viaSnapshot = node('rs-a')
    const snapshot = recordSnapshot(records, roster, fakeKeyring('rs-a'))
    expect(snapshot.rejected).toBe(0)
    expect(viaSnapshot.adopt(snapshot, T0)).toBe(4)
    expect(viaSnapshot.view()).toEqual(viaWire.view())
    expect(viaSnapshot.counters['records-adopted']).toBe(4)
    // A summary that differs would make every first exchange expand into digests.
    expect([...summary(viaSnapshot, 'rs-z')]).toEqual([...summary(viaWire, 'rs-z')])
  })

  it('leaves out forged and off-roster records, keeps the newest of one id, and never replaces what the node holds', () => {
    const good = signRecord(body('rs-b'), fakeKeyring('rs-b')).signed
    const newer = signRecord(body('rs-b', 5), fakeKeyring('rs-b')).signed
    const forged: SignedRecord = { body: signRecord(body('rs-c'), fakeKeyring('rs-c')).signed.body, sig: good.sig }
    const outsider = signRecord({ ...body('rs-x'), key: fakeKeyring('rs-x').publicKey }, fakeKeyring('rs-x')).signed
    const mine = signRecord(body('rs-a', 9), fakeKeyring('rs-a')).signed
    const snapshot = recordSnapshot([good, forged, outsider, newer, mine], roster, fakeKeyring('rs-a'))
    expect(snapshot.rejected).toBe(2)
    expect(snapshot.entries.map((e) => [e.id, e.record.body.ver])).toEqual([
      ['rs-b', T0 + 5],
      ['rs-a', T0 + 9],
    ])
    const n = node('rs-a')
    const selfBefore = n.self()
    expect(n.adopt(snapshot, T0)).toBe(1)
    expect(n.self()).toBe(selfBefore)
    expect(n.member('rs-b')).toMatchObject({ status: 'alive', record: { ver: T0 + 5 } })
  })
})
