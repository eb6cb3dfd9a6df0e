import { describe, expect, it } from 'vitest'
import { DropReason } from './errors.js'
import { FrameDecoder, MAX_FRAME_BYTES, encodeFrame, pack } from './frame.js'
import { decodeMessage, encodeMessage, type OutMessage } from './messages.js'
import { openRecord, signRecord, type NodeRecordBody } from './node-record.js'
import { fakeKeyring } from './testing.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
/** Buffers (what msgpack decodes bin to) and Uint8Arrays compare as plain byte arrays. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x) => (x instanceof Uint8Array || x?.type === 'Buffer' ? [...(x.data ?? x)] : x)))

describe('wire messages', () => {
  const samples: OutMessage[] = [
    { t: 'ping', seq: 7 },
    { t: 'ack', seq: 7 },
    { t: 'ping-req', seq: 9, target: 'node-a' },
    { t: 'nack', seq: 9 },
    { t: 'ihave', ids: ['r:a:1:2'] },
    { t: 'graft', ids: ['c:a:1:dead'] },
    { t: 'prune' },
    { t: 'bye' },
    { t: 'ae-sum', b: new Uint8Array(256) },
    { t: 'ae-dig', buckets: [1, 2], e: [['a', 1, 2, 0, 1]], reply: true },
    { t: 'ae-delta', u: [] },
    { t: 'app', topic: 'vote', body: new Uint8Array([1, 2]) },
    { t: 'gossip', h: 3, u: { k: 'claim', about: 'a', inc: 1, status: 'suspect', by: 'b', sig: new Uint8Array(8) } },
  ]

  it.each(samples.map((m) => [m.t, m]))('round-trips %s', (_t, msg) => {
    const d = decodeMessage(encodeMessage(msg))
    expect(d.ok).toBe(true)
    if (d.ok) expect(plain(d.msg)).toEqual(plain({ v: 1, ...msg }))
  })

  it('golden bytes: the encoding of a ping and a claim does not drift', () => {
    // fixmap(3) { v: 1, t: "ping", seq: 7 }
    expect(hex(encodeMessage({ t: 'ping', seq: 7 }))).toBe('83a17601a174a470696e67a373657107')
    expect(hex(encodeMessage({ t: 'gossip', h: 1, u: { k: 'claim', about: 'a', inc: 2, status: 'dead', by: 'b', sig: new Uint8Array([0xff]) } }))).toBe(
      '84a17601a174a6676f73736970a16801a17586a16ba5636c61696da561626f7574a161a3696e6302a6737461747573a464656164a26279a162a3736967c401ff',
    )
  })

  it('rejects malformed, wrong-version, unknown-type and mis-shaped bodies with a reason', () => {
    expect(decodeMessage(new Uint8Array([0x82, 0xa1]))).toMatchObject({ ok: false, reason: DropReason.malformed })
    expect(decodeMessage(new Uint8Array([]))).toMatchObject({ ok: false, reason: DropReason.malformed })
    expect(decodeMessage(pack([1, 2]))).toMatchObject({ ok: false, reason: DropReason.malformed })
    expect(decodeMessage(pack({ v: 2, t: 'ping', seq: 1 }))).toMatchObject({ ok: false, reason: DropReason.badVersion })
    expect(decodeMessage(pack({ v: 1, t: 'launch-missiles' }))).toMatchObject({ ok: false, reason: DropReason.unknownType })
    expect(decodeMessage(pack({ v: 1, t: 'ping', seq: -1 }))).toMatchObject({ ok: false, reason: DropReason.schema })
    expect(decodeMessage(pack({ v: 1, t: 'ping', seq: 1, extra: true }))).toMatchObject({ ok: false, reason: DropReason.schema })
    expect(decodeMessage(pack({ v: 1, t: 'ping-req', seq: 1, target: 'bad id!' }))).toMatchObject({ ok: false, reason: DropReason.schema })
    expect(decodeMessage(new Uint8Array(MAX_FRAME_BYTES + 1))).toMatchObject({ ok: false, reason: DropReason.frameTooLarge })
  })
})

describe('framing', () => {
  it('reassembles frames split across chunks, in order', () => {
    const a = encodeFrame(new Uint8Array([1, 2, 3]))
    const b = encodeFrame(new Uint8Array([4]))
    const all = new Uint8Array([...a, ...b])
    const dec = new FrameDecoder()
    const got = [...dec.push(all.subarray(0, 2)), ...dec.push(all.subarray(2, 6)), ...dec.push(all.subarray(6))]
    expect(got.map((f) => [...f])).toEqual([[1, 2, 3], [4]])
  })

  it('refuses a frame header announcing more than the limit, before buffering it', () => {
    const dec = new FrameDecoder(1024)
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, 2048)
    expect(dec.push(header)).toEqual([])
    expect(dec.tooLarge).toBe(true)
    expect(() => encodeFrame(new Uint8Array(2048), 1024)).toThrow(/exceeds/)
  })
})

describe('node records', () => {
  const body: NodeRecordBody = {
    id: 'node-a', key: fakeKeyring('node-a').publicKey, inc: 1, ver: 5, image: 'v1', phase: 'ready', domain: 'rack-1',
    inv: { cpuCores: 4 }, health: { status: 'ok', conditions: [] }, comps: ['disk:abcd'],
  }

  it('signs and opens a record', () => {
    const r = signRecord(body, fakeKeyring('node-a'))
    const opened = openRecord(r.signed, fakeKeyring('anyone'))
    expect(opened).toMatchObject({ ok: true, record: { body } })
  })

  it('rejects a tampered body, a foreign signature and a bad schema', () => {
    const r = signRecord(body, fakeKeyring('node-a'))
    const tampered = new Uint8Array(r.signed.body)
    tampered[tampered.length - 1] ^= 1
    expect(openRecord({ body: tampered, sig: r.signed.sig }, fakeKeyring('x')).ok).toBe(false)
    const foreign = signRecord(body, fakeKeyring('mallory'))
    expect(openRecord(foreign.signed, fakeKeyring('x'))).toEqual({ ok: false, reason: 'bad-signature' })
    expect(openRecord({ body: pack({ id: 'x' }), sig: new Uint8Array(8) }, fakeKeyring('x'))).toEqual({ ok: false, reason: 'schema' })
    expect(() => signRecord({ ...body, phase: 'exploded' as never }, fakeKeyring('node-a'))).toThrow()
  })
})
