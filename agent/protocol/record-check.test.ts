import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { pack } from './frame.js'
import { mutate, plain, soup } from './mutation-testing.js'
import { NodeRecordBody, openRecord, signRecord } from './node-record.js'
import { quickRecordCheck } from './record-check.js'
import { fakeKeyring } from './testing.js'

const key = 'ab'.repeat(32)
const base = { id: 'node-a', key, inc: 1_700_000_000, ver: 1_700_000_000_123, image: 'v1.4.2', phase: 'ready', domain: 'rack-1', inv: {}, health: { status: 'unknown', conditions: [] }, comps: [] }
const valid: Record<string, unknown>[] = [
  base,
  { ...base, image: '', api: '10.0.0.21:7400', mesh: '10.0.0.21:49737' },
  {
    ...base,
    phase: 'draining',
    inv: { vendor: 'Dell Inc.', product: 'PowerEdge R650', cpuModel: 'Xeon', cpuCores: 32, memoryBytes: 2 ** 37, disks: 4, diskBytes: 4e12, nics: 2, gpus: 0, extra: 'a newer field' },
    health: { status: 'warning', kubeletReady: true, osdsUp: 3, osdsTotal: 4, conditions: [{ id: 'osd.3', severity: 'warning', since: 1_700_000_000_000, message: 'down', source: 'ceph', more: 1 }] },
    comps: ['bios:abc', 'nic:def'],
    work: { pods: 12, load: 0.5, blocked: 1, pgs: 100, primaries: 30 },
    nextMinor: { minor: 1, features: ['emulated'] },
  },
]

/** Values at and past the record's own bounds. */
const recordSoup = fc.oneof(
  soup,
  fc.constantFrom<unknown>(
    key, 'AB'.repeat(32), 'ab'.repeat(31), 'v1.4.2', '.v1', '-v1', 'v/1', 'x'.repeat(80), 'x'.repeat(81), 'x'.repeat(128), 'x'.repeat(129), 'x'.repeat(256), 'x'.repeat(257),
    'ready', 'booting', 'ok', 'warning', 'critical', 'unknown', 'info', -0.5, 1e300, Array.from({ length: 17 }, () => ({ id: 'c', severity: 'info', since: 1, message: '', source: '' })),
    { pre: true, post: true, at: 1 }, { pods: 1, load: 0 }, { status: 'ok', conditions: [] }, Array.from({ length: 65 }, () => 'c'),
  ),
)

describe('quickRecordCheck (node records without zod)', () => {
  it('says yes to valid bodies, so well-formed records never pay for zod', () => {
    for (const r of valid) {
      expect(NodeRecordBody.safeParse(r).success).toBe(true)
      expect(quickRecordCheck(r)).toBe(true)
    }
  })

  it('leaves the reboot-gate facts to zod, and says no just past each bound', () => {
    expect(quickRecordCheck({ ...base, health: { status: 'ok', conditions: [], gates: { pre: true, post: true, at: 1 } } })).toBe(false)
    for (const r of [
      { ...base, id: 'x'.repeat(65) },
      { ...base, key: key.toUpperCase() },
      { ...base, inc: -1 },
      { ...base, ver: 1.5 },
      { ...base, ver: Number.MAX_SAFE_INTEGER + 1 },
      { ...base, image: 'x'.repeat(65) },
      { ...base, phase: 'alive' },
      { ...base, domain: 'x'.repeat(65) },
      { ...base, mesh: 'x'.repeat(129) },
      { ...base, api: null },
      { ...base, inv: { cpuCores: 1.5 } },
      { ...base, inv: { memoryBytes: Infinity } },
      { ...base, health: { status: 'unknown', conditions: [{ id: 'c', severity: 'fatal', since: 1, message: '', source: '' }] } },
      { ...base, health: { status: 'unknown', conditions: [{ id: 'x'.repeat(65), severity: 'info', since: 1, message: '', source: '' }] } },
      { ...base, health: { status: 'unknown', conditions: [{ id: 'c', severity: 'info', since: 1, message: 'x'.repeat(257), source: '' }] } },
      { ...base, health: { status: 'unknown', conditions: [{ id: 'c', severity: 'info', since: 1, message: '', source: 'x'.repeat(33) }] } },
      { ...base, health: { status: 'unknown', conditions: [], osdsUp: -1 } },
      { ...base, inv: { vendor: 'x'.repeat(129) } },
      { ...base, comps: ['x'.repeat(81)] },
      { ...base, comps: Array.from({ length: 65 }, () => 'c') },
      { ...base, work: { pods: 1 } },
    ]) {
      expect(NodeRecordBody.safeParse(r).success, JSON.stringify(r)).toBe(false)
      expect(quickRecordCheck(r), JSON.stringify(r)).toBe(false)
    }
  })

  it('never says yes where zod says no, and a yes is zod’s own result (seeded; the seed prints on failure)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), recordSoup, fc.constantFrom<'set' | 'delete' | 'add'>('set', 'delete', 'add')), { minLength: 1, maxLength: 3 }), (r, edits) => {
        const m = mutate(r, edits)
        const zod = NodeRecordBody.safeParse(m)
        if (quickRecordCheck(m)) {
          expect(zod.success).toBe(true)
          expect(plain(m)).toEqual(plain(zod.data))
        }
      }),
      { numRuns: 3000 },
    )
  })

  it('openRecord gives the same verdicts through either lane', () => {
    const keyring = fakeKeyring('node-a')
    const good = signRecord({ ...(valid[2] as NodeRecordBody), key: keyring.publicKey }, keyring)
    expect(openRecord({ body: new Uint8Array(good.signed.body), sig: new Uint8Array(good.signed.sig) }, keyring)).toMatchObject({ ok: true, record: { body: { id: 'node-a', work: { pods: 12 } } } })
    const badShape = signRecord({ ...base, key: keyring.publicKey } as NodeRecordBody, keyring)
    const mangled = pack({ ...base, key: keyring.publicKey, phase: 'alive' })
    expect(openRecord({ body: mangled, sig: badShape.signed.sig }, keyring)).toEqual({ ok: false, reason: 'schema' })
    const forged = pack({ ...base, key: keyring.publicKey, domain: 'rack-9' })
    expect(openRecord({ body: forged, sig: new Uint8Array(badShape.signed.sig) }, keyring)).toEqual({ ok: false, reason: 'bad-signature' })
  })
})
