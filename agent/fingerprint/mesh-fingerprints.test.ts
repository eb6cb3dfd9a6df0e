import { describe, expect, it } from 'vitest'
import type { MemberView } from '../protocol/mesh-types.js'
import type { NodeRecordBody } from '../protocol/node-record.js'
import { meshFingerprints, mergeKnownFingerprints, parseMeshFingerprints, type MeshFingerprint } from './mesh-fingerprints.js'
import { resolveDigest } from './resolve-identity.js'

const fp = (id: string, comps: string[], over: Partial<MeshFingerprint> = {}): MeshFingerprint => ({ id, comps, alive: false, inc: 1, ver: 1, ...over })

function member(id: string, status: MemberView['status'], record: Partial<NodeRecordBody> | undefined): MemberView {
  const body: NodeRecordBody | undefined = record && {
    id, key: 'a'.repeat(64), inc: 1, ver: 3, image: 'v1', phase: 'ready', domain: 'r1', inv: {}, health: { status: 'ok', conditions: [] }, comps: [], ...record,
  }
  return { id, status, inc: 1, updatedAt: 0, statusSince: 0, record: body }
}

describe('mergeKnownFingerprints', () => {
  it('keeps, per id, the entry of the newest record (incarnation, then version), whatever the order of the answers', () => {
    const old = fp('n1', ['disk:OLD0000000000000', 'nic:AAAAAAAAAAAAAAAA'], { inc: 1, ver: 9 })
    const newer = fp('n1', ['disk:NEW0000000000000', 'nic:AAAAAAAAAAAAAAAA'], { inc: 2, ver: 1 })
    const sameIncHigherVer = fp('n2', ['nic:BBBBBBBBBBBBBBBB'], { inc: 1, ver: 5 })
    const sameIncLowerVer = fp('n2', ['nic:CCCCCCCCCCCCCCCC'], { inc: 1, ver: 4 })
    const a = mergeKnownFingerprints([[old, sameIncLowerVer], [newer, sameIncHigherVer]])
    const b = mergeKnownFingerprints([[newer, sameIncHigherVer], [old, sameIncLowerVer]])
    expect(a).toEqual(b)
    expect(a).toEqual([
      { id: 'n1', comps: newer.comps },
      { id: 'n2', comps: sameIncHigherVer.comps },
    ])
  })

  it('is order-independent even for two different digests under one (inc, ver)', () => {
    const x = fp('n1', ['nic:XXXXXXXXXXXXXXXX'])
    const y = fp('n1', ['nic:YYYYYYYYYYYYYYYY'])
    expect(mergeKnownFingerprints([[x], [y]])).toEqual(mergeKnownFingerprints([[y], [x]]))
  })

  it('marks a node alive when any answer says so (a peer that still hears it is reason enough not to take its id)', () => {
    const merged = mergeKnownFingerprints([[fp('n1', ['nic:A1'], { alive: false, inc: 3 })], [fp('n1', ['nic:A1'], { alive: true, inc: 2 })], [fp('n2', ['nic:B1'])]])
    expect(merged).toEqual([{ id: 'n1', comps: ['nic:A1'], alive: true }, { id: 'n2', comps: ['nic:B1'] }])
  })

  it('unions the machines several peers know, sorted by id', () => {
    expect(mergeKnownFingerprints([[fp('c', ['nic:C'])], [fp('a', ['nic:A']), fp('b', ['nic:B'])], []]).map((k) => k.id)).toEqual(['a', 'b', 'c'])
    expect(mergeKnownFingerprints([])).toEqual([])
  })

  it('the merged fleet resolves a machine to its old id', () => {
    const comps = ['uuid:U000000000000000', 'disk:D100000000000000', 'disk:D200000000000000', 'nic:N100000000000000']
    const merged = mergeKnownFingerprints([[fp('old-id', comps, { inc: 4 })], [fp('other', ['nic:ZZZZZZZZZZZZZZZZ', 'disk:ZZZZZZZZZZZZZZZZ'])]])
    const swappedNic = [...comps.slice(0, 3), 'nic:N900000000000000']
    expect(resolveDigest(swappedNic, merged)).toMatchObject({ id: 'old-id', decision: 'matched' })
  })
})

describe('meshFingerprints (what GET /v1/fingerprints serves)', () => {
  it('lists every member whose record carries a digest, with its liveness and record version', () => {
    const view = [
      member('w2', 'dead', { comps: ['nic:B'], inc: 2, ver: 7 }),
      member('w1', 'alive', { comps: ['nic:A'] }),
      member('w3', 'suspect', { comps: ['nic:C'] }),
      member('w4', 'alive', { comps: ['nic:D'], phase: 'rebooting' }),
      member('coordinator', 'alive', { comps: [] }),
      member('claim-only', 'alive', undefined),
    ]
    expect(meshFingerprints(view)).toEqual([
      { id: 'w1', comps: ['nic:A'], alive: true, inc: 1, ver: 3 },
      { id: 'w2', comps: ['nic:B'], alive: false, inc: 2, ver: 7 },
      { id: 'w3', comps: ['nic:C'], alive: false, inc: 1, ver: 3 },
      // Announced its reboot: it is expected back, its id is not a clone's to refuse.
      { id: 'w4', comps: ['nic:D'], alive: false, inc: 1, ver: 3 },
    ])
    expect(parseMeshFingerprints(meshFingerprints(view))).toMatchObject({ ok: true })
  })
})

describe('parseMeshFingerprints', () => {
  it.each([
    ['an object instead of an array', { nodes: [] }],
    ['an entry without comps', [{ id: 'a', alive: true, inc: 1, ver: 1 }]],
    ['an id that is no node id', [fp('../../etc', ['nic:A'])]],
    ['a digest entry too long', [fp('a', ['nic:' + 'x'.repeat(100)])]],
    ['a negative version', [fp('a', ['nic:A'], { ver: -1 })]],
    ['65 digest entries', [fp('a', Array.from({ length: 65 }, (_, i) => `nic:${i}`))]],
  ])('refuses %s with a reason', (_what, json) => {
    const r = parseMeshFingerprints(json)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.detail.length).toBeGreaterThan(3)
  })

  it('ignores fields a newer agent may add', () => {
    const r = parseMeshFingerprints([{ ...fp('a', ['nic:A']), rack: 'r9' }])
    expect(r).toEqual({ ok: true, entries: [fp('a', ['nic:A'])] })
  })
})
