import { describe, expect, it } from 'vitest'
import { NodeRecordBody } from '../protocol/node-record.js'
import type { Component, ComponentKind } from './component.js'
import { deriveNodeId, isValidNodeId } from './node-id.js'
import { parseKnownFingerprints } from './known-fingerprints.js'
import { FleetIndex, resolveDigest, resolveIdentity, scorePair, SAME_MACHINE_THRESHOLD } from './resolve-identity.js'

const c = (kind: ComponentKind, value: string, label?: string): Component => ({ kind, value, source: 'test', ...(label ? { label } : {}) })

/** A typical 1U server: Dell-style ids, 4 disks with WWNs, 2 onboard + 2 add-in NICs, 8 DIMMs. */
function server(tag: string, opts: { disks?: string[]; nics?: string[] } = {}): Component[] {
  return [
    c('uuid', `4c4c4544-0000-1111-2222-${tag.padStart(12, '0')}`),
    c('sys', `SVC${tag}`),
    c('chassis', `SVC${tag}`), // Dell copies the service tag: one piece of evidence, not two
    c('board', `.CN70${tag}.`),
    ...(opts.disks ?? [1, 2, 3, 4].map((i) => `naa.5000c500${tag}${i}`.slice(0, 20))).map((d, i) => c('wwn', d, `sd${i}`)),
    ...(opts.nics ?? [1, 2, 3, 4].map((i) => `b0:26:28:${tag.slice(-2)}:0${i}:aa`)).map((n, i) => c('nic', n, `eno${i}`)),
    ...[1, 2, 3, 4, 5, 6, 7, 8].map((i) => c('dimm', `Samsung/${tag}D${i}`)),
    c('cpu', 'Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz'),
  ]
}
const known = (id: string, comps: Component[]) => ({ id, comps: resolveIdentity(comps).comps })

describe('resolveIdentity', () => {
  it('derives a valid, stable id from the hardware alone, whatever the order of collection', () => {
    const a = resolveIdentity(server('1001'))
    const b = resolveIdentity([...server('1001')].reverse())
    expect(a.decision).toBe('new')
    expect(a.id).toBe(b.id)
    expect(isValidNodeId(a.id)).toBe(true)
    expect(a.id).toMatch(/^[A-Za-z0-9._-]+$/)
    expect(a.id.length).toBeLessThanOrEqual(63)
    expect(resolveIdentity(server('1002')).id).not.toBe(a.id)
    expect(a.components.find((v) => v.kind === 'chassis')!.reason).toMatch(/same value as sys/)
  })

  it('a one-disk machine that loses its disk keeps its id by its board ids; without usable board ids it is new, and says so beforehand', () => {
    const whitebox = (board: boolean, disk: boolean) => [
      ...(board ? [c('uuid', '7d1e0c52-3a8b-4f1e-9c2d-5b6a7e8f9012'), c('board', 'MB2024X0001')] : [c('sys', 'To Be Filled By O.E.M.')]),
      ...(disk ? [c('wwn', 'eui.0025388b91c2a7d4', 'nvme0n1')] : []),
      c('nic', '70:85:c2:11:22:33', 'enp1s0'),
      c('nic', '70:85:c2:11:22:34', 'enp2s0'),
      c('dimm', 'Kingston/0A1B2C3D'),
      c('cpu', 'AMD Ryzen 9 5950X'),
    ]
    const fleet = [known('with-board', whitebox(true, true)), known('other', server('1009'))]
    expect(resolveIdentity(whitebox(true, false), fleet)).toMatchObject({ id: 'with-board', decision: 'matched' })
    expect(resolveIdentity(whitebox(true, true)).warnings.join()).not.toMatch(/no usable board ids/)

    const noBoard = [known('no-board', whitebox(false, true)), known('other', server('1009'))]
    expect(resolveIdentity(whitebox(false, true)).warnings.join()).toMatch(/no usable board ids \(DMI uuid or serials\): removing this machine's only disk gives it a new id/)
    const pulled = resolveIdentity(whitebox(false, false), noBoard)
    expect(pulled.decision).toBe('new')
    expect(pulled.candidates[0]).toMatchObject({ id: 'no-board', rejected: expect.stringMatching(/^score 0\.3\d* < 0\.4$/) })
  })

  it('keeps the id through each single part swap, given the known fingerprint', () => {
    const fleet = [known('node-a', server('1001')), known('node-b', server('1002')), known('node-c', server('1003'))]
    const base = server('1001')
    const swaps: Record<string, Component[]> = {
      nic: base.map((x) => (x.label === 'eno1' ? c('nic', 'b0:26:28:99:99:99', 'eno1') : x)),
      diskAdded: [...base, c('wwn', 'naa.5000c500feedbeef')],
      diskRemoved: base.filter((x) => x.label !== 'sd0'),
      dimm: base.map((x) => (x.value === 'Samsung/1001D3' ? c('dimm', 'Samsung/77777777') : x)),
      cpu: base.map((x) => (x.kind === 'cpu' ? c('cpu', 'AMD EPYC 7302P 16-Core Processor') : x)),
      allDisks: base.filter((x) => x.kind !== 'wwn').concat([c('wwn', 'naa.50000001'), c('wwn', 'naa.50000002'), c('wwn', 'naa.50000003'), c('wwn', 'naa.50000004')]),
      board: base.filter((x) => !['uuid', 'sys', 'chassis', 'board'].includes(x.kind) && !['eno0', 'eno1'].includes(x.label ?? '')).concat([
        c('uuid', '4c4c4544-0000-1111-2222-999999999999'), c('sys', 'SVCNEW1'), c('board', '.CN70NEW.'), c('nic', 'b0:26:28:99:00:01', 'eno0'), c('nic', 'b0:26:28:99:00:02', 'eno1'),
      ]),
    }
    for (const [what, comps] of Object.entries(swaps)) {
      const r = resolveIdentity(comps, fleet)
      expect(r, what).toMatchObject({ id: 'node-a', decision: 'matched' })
      expect(r.score!, what).toBeGreaterThanOrEqual(SAME_MACHINE_THRESHOLD)
    }
  })

  it('replacing most parts (board, NICs, DIMMs and 3 of 4 disks) makes a new id', () => {
    const fleet = [known('node-a', server('1001'))]
    const old = server('1001')
    const r = resolveIdentity([...server('5555').filter((x) => x.kind !== 'wwn'), old.find((x) => x.kind === 'wwn')!, c('wwn', 'naa.1'), c('wwn', 'naa.22222222'), c('wwn', 'naa.33333333')], fleet)
    expect(r.decision).toBe('new')
    expect(r.candidates[0]).toMatchObject({ id: 'node-a', rejected: expect.stringMatching(/score/) })
  })

  it('a single-disk machine keeps its id through a board swap when the disk has a WWN, not with a bare serial', () => {
    const mk = (disk: Component, board: string) => [c('uuid', `0f1e2d3c-0000-4000-8000-${board.padStart(12, '0')}`), c('board', `M80-${board}`), disk, c('nic', `70:85:c2:${board.slice(0, 2)}:00:01`), c('cpu', 'AMD Ryzen 9')]
    const wwn = c('wwn', 'eui.0025388b91b3c5a1')
    expect(resolveIdentity(mk(wwn, '222222'), [known('old', mk(wwn, '111111'))])).toMatchObject({ id: 'old', decision: 'matched' })
    const serial = c('disk', 'S4EVNX0N123456')
    const r = resolveIdentity(mk(serial, '222222'), [known('old', mk(serial, '111111'))])
    expect(r.decision).toBe('new')
    expect(r.candidates[0]!.rejected).toMatch(/only 1 matching component/)
  })

  it('never merges two machines of a batch that share a board serial and a disk serial', () => {
    // Same board serial (vendor reused it), same cheap-SSD serial, different uuid/NIC/DIMMs.
    const unit = (n: string) => [c('uuid', `00000000-0000-0000-0000-0cc47a00000${n}`), c('board', 'WM19AS012345'), c('disk', 'SSD512G2019X7'), c('disk', `WD-WCC7K00000${n}`), c('nic', `0c:c4:7a:00:00:0${n}`), c('dimm', `Hynix/0000AB${n}1`)]
    const r = resolveIdentity(unit('2'), [known('unit-1', unit('1'))])
    expect(r.decision).toBe('new')
    const score = scorePair(resolveIdentity(unit('2')).comps, resolveIdentity(unit('1')).comps)
    expect(score.boardIgnored).toBe(true) // uuid differs, board serial equal: a reused serial
  })

  it('ignores values many known machines share (fleet-common), on both sides', () => {
    const batch = Array.from({ length: 5 }, (_, i) => known(`m${i}`, [c('board', 'QTFCU4420011'), c('uuid', `11111111-2222-3333-4444-00000000000${i}`), c('nic', `a0:36:9f:00:00:0${i}`), c('wwn', `naa.5000cca00000000${i}`)]))
    const newcomer = [c('board', 'QTFCU4420011'), c('uuid', '11111111-2222-3333-4444-999999999999'), c('nic', 'a0:36:9f:00:00:99'), c('wwn', 'naa.5000cca099999999')]
    const r = resolveIdentity(newcomer, batch)
    expect(r.decision).toBe('new')
    const board = r.components.find((v) => v.kind === 'board')!
    expect(board.kept).toBe(true) // still part of its digest and derived id ...
    expect(board.reason).toMatch(/not used to match: 5 known machines/) // ... but identifies nobody
    // The member itself, rebooted with a NIC swapped, is still found through its other parts.
    const m3 = [c('board', 'QTFCU4420011'), c('uuid', '11111111-2222-3333-4444-000000000003'), c('nic', 'a0:36:9f:00:00:77'), c('wwn', 'naa.5000cca000000003')]
    expect(resolveIdentity(m3, batch).id).toBe('m3')
  })

  it('does not take the id of a node that is alive elsewhere (a clone)', () => {
    const fleet = [{ ...known('node-a', server('1001')), alive: true }]
    const r = resolveIdentity(server('1001').filter((x) => x.label !== 'eno1'), fleet)
    expect(r.decision).toBe('new')
    expect(r.warnings.join()).toMatch(/looks like node-a .* alive elsewhere/)
  })

  it('skips a derived id that a non-matching known machine already holds', () => {
    const mine = server('1001')
    const derived = resolveIdentity(mine).id
    const r = resolveIdentity(mine, [{ id: derived, comps: resolveIdentity(server('4242')).comps }])
    expect(r.decision).toBe('new')
    expect(r.id).not.toBe(derived)
    expect(r.id).toBe(deriveNodeId(r.comps, 1))
    expect(r.warnings.join()).toMatch(/derivation #1/)
  })

  it('breaks ties deterministically (the smaller id wins)', () => {
    const comps = server('1001')
    const fp = resolveIdentity(comps).comps
    expect(resolveIdentity(comps, [{ id: 'zz', comps: fp }, { id: 'aa', comps: fp }]).id).toBe('aa')
    expect(resolveIdentity(comps, [{ id: 'aa', comps: fp }, { id: 'zz', comps: fp }]).id).toBe('aa')
  })

  it('fits the NodeRecord even for a 90-disk JBOD with 48 DIMMs, and still matches after a disk swap', () => {
    const big = [c('uuid', '9d0c1e2f-0000-4000-8000-000000000001'), c('sys', 'JBOD0001'),
      ...Array.from({ length: 90 }, (_, i) => c('wwn', `naa.5000c500${String(i).padStart(8, '0')}`)),
      ...Array.from({ length: 10 }, (_, i) => c('nic', `b8:ce:f6:00:00:${String(i).padStart(2, '0')}`)),
      ...Array.from({ length: 48 }, (_, i) => c('dimm', `Micron/${String(i).padStart(8, '7')}`)), c('cpu', 'x')]
    const r = resolveIdentity(big)
    expect(r.comps.length).toBeLessThanOrEqual(64)
    expect(r.comps.every((e) => e.length <= 80)).toBe(true)
    expect(r.comps.filter((e) => e.startsWith('nic:')).length).toBe(8)
    expect(NodeRecordBody.shape.comps.safeParse(r.comps).success).toBe(true)
    const swapped = big.map((x) => (x.value === 'naa.5000c50000000007' ? c('wwn', 'naa.5000c500ffffffff') : x))
    expect(resolveIdentity(swapped, [{ id: 'jbod', comps: r.comps }]).id).toBe('jbod')
  })

  it('resolveDigest decides the same from the digest alone (what the coordinator has)', () => {
    const fleet = [known('node-a', server('1001')), known('node-b', server('1002'))]
    for (const comps of [server('1001').slice(1), server('1002'), server('3003')]) {
      const full = resolveIdentity(comps, fleet)
      expect(resolveDigest(full.comps, fleet).id).toBe(full.id)
    }
  })

  it('ignores digest entries of kinds it does not know (a newer peer) and never throws on them', () => {
    const fp = resolveIdentity(server('1001')).comps
    const index = new FleetIndex([{ id: 'node-a', comps: [...fp, 'tpm:abcdef', 'garbage', ':x', ''] }])
    expect(resolveIdentity(server('1001'), index).id).toBe('node-a')
  })
})

describe('known fingerprints file', () => {
  it('accepts what `shoal fingerprint -o json` prints: comps, or raw components', () => {
    const r = resolveIdentity(server('1001'))
    const parsed = parseKnownFingerprints([{ ...r }, { id: 'raw-one', components: server('1002') }])
    expect(parsed[0]).toEqual({ id: r.id, comps: r.comps })
    expect(parsed[1]!.comps).toEqual(resolveIdentity(server('1002')).comps)
  })

  it.each([
    [{ id: 'x' }, /expected array/],
    [[{ id: 'x' }], /needs "comps" or "components"/],
    [[{ id: 'bad id!', comps: [] }], /node id/],
    [[{ id: 'a', comps: ['x'.repeat(81)] }], /at 0\.comps\.0/],
    [[{ id: 'a', components: [{ kind: 'teapot', value: 'x' }] }], /at 0\.components\.0\.kind/],
  ])('rejects %j with a usage error', (input, message) => {
    expect(() => parseKnownFingerprints(input, 'known.json')).toThrow(message)
  })
})
