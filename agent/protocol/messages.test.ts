import { describe, expect, it } from 'vitest'
import { DropReason } from './errors.js'
import { FrameDecoder, MAX_FRAME_BYTES, encodeFrame, pack, unpack } from './frame.js'
import { claimBytes, decodeHello, decodeMessage, encodeHello, encodeMessage, type OutMessage } from './messages.js'
import { openRecord, signRecord, type NodeRecordBody } from './node-record.js'
import { recordHead } from './record-head.js'
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
    expect(decodeMessage(pack({ v: 1, t: 'launch-missiles' }))).toMatchObject({ ok: false, reason: DropReason.unknownType, detail: 'launch-missiles' })
    expect(decodeMessage(pack({ v: 1, t: 'ping', seq: -1 }))).toMatchObject({ ok: false, reason: DropReason.schema })
    expect(decodeMessage(pack({ v: 1, t: 'ping-req', seq: 1, target: 'bad id!' }))).toMatchObject({ ok: false, reason: DropReason.schema })
    expect(decodeMessage(new Uint8Array(MAX_FRAME_BYTES + 1))).toMatchObject({ ok: false, reason: DropReason.frameTooLarge })
  })
})

describe('versions on the wire (docs/mesh.md)', () => {
  it('golden bytes: the hello, the first message of every link', () => {
    // fixmap(3) { v: 1, t: "hello", minor: 0 }
    expect(hex(encodeHello())).toBe('83a17601a174a568656c6c6fa56d696e6f7200')
    expect(decodeHello(encodeHello())).toEqual({ ok: true, major: 1, minor: 0 })
  })

  it('a hello of any major version is understood, so a mismatch can be named; anything else first is not a hello', () => {
    expect(decodeHello(encodeHello(3, 2))).toEqual({ ok: true, major: 2, minor: 3 })
    expect(decodeHello(pack({ v: 1, t: 'hello', minor: 1, features: ['x'] }))).toEqual({ ok: true, major: 1, minor: 1 })
    expect(decodeHello(encodeMessage({ t: 'ping', seq: 1 }))).toEqual({ ok: false, detail: 'a ping message (version 1) instead of hello' })
    expect(decodeHello(new Uint8Array([0x82, 0xa1]))).toEqual({ ok: false, detail: 'not msgpack' })
  })

  it('a message with fields this version does not know parses, and a relay sends them on', () => {
    const c = { about: 'a', inc: 2, status: 'dead' as const, by: 'b' }
    const claim = { k: 'claim', ...c, reason: 'probe-timeout', sig: fakeKeyring('b').sign(claimBytes(c)) }
    const wire = pack({ v: 1, t: 'gossip', h: 1, u: claim, trace: 'abc' })
    const d = decodeMessage(wire)
    expect(d.ok).toBe(true)
    if (!d.ok || d.msg.t !== 'gossip') return
    expect((d.msg.u as Record<string, unknown>).reason).toBe('probe-timeout')
    // What a relay sends on carries them (map order may change: the claim's signature covers
    // its named fields, not the map; a record's covers its body bytes, which travel as they are).
    const { v: _v, ...out } = d.msg
    expect(plain(unpack(encodeMessage(out as OutMessage)))).toEqual(plain(unpack(wire)))
    expect(fakeKeyring('x').verify(fakeKeyring('b').publicKey, claimBytes(d.msg.u as typeof c), claim.sig)).toBe(true)
  })

  it('an anti-entropy digest entry with items appended by a newer minor is accepted', () => {
    const d = decodeMessage(pack({ v: 1, t: 'ae-dig', buckets: [3], e: [['a', 1, 2, 0, 1, 'extra']], reply: false }))
    expect(d.ok).toBe(true)
    if (d.ok && d.msg.t === 'ae-dig') expect(d.msg.e[0]!.slice(0, 5)).toEqual(['a', 1, 2, 0, 1])
  })

  it('an update kind this version does not know: ignored as a type, alone in a gossip, taken out of a delta', () => {
    const future = { k: 'lease-hint', slot: 1 }
    expect(decodeMessage(pack({ v: 1, t: 'gossip', h: 0, u: future }))).toEqual({ ok: false, reason: DropReason.unknownType, detail: 'gossip.lease-hint' })
    const claim = { k: 'claim', about: 'a', inc: 1, status: 'suspect', by: 'b', sig: new Uint8Array(8) }
    const d = decodeMessage(pack({ v: 1, t: 'ae-delta', u: [future, claim] }))
    expect(d).toMatchObject({ ok: true, ignored: ['ae-delta.lease-hint'] })
    if (d.ok && d.msg.t === 'ae-delta') expect(d.msg.u.map((u) => u.k)).toEqual(['claim'])
  })

  it('a record with fields this version does not know still verifies, and keeps its signed bytes for relaying', () => {
    const keyring = fakeKeyring('node-b')
    const body = { id: 'node-b', key: keyring.publicKey, inc: 1, ver: 5, image: 'v2', phase: 'ready', domain: 'rack-1', inv: { cpuCores: 4, tpm: true }, health: { status: 'ok', conditions: [], psi: 0.2 }, comps: [], rdma: { ports: 2 } }
    const bytes = pack(body) // signed by a newer minor, over its own encoding
    const signed = { body: bytes, sig: keyring.sign(bytes) }
    const opened = openRecord(signed, fakeKeyring('node-a'))
    expect(opened.ok).toBe(true)
    if (!opened.ok) return
    expect(opened.record.body).toMatchObject({ id: 'node-b', image: 'v2', rdma: { ports: 2 }, inv: { tpm: true } })
    // Relayed as it came: the gossip a v1 agent sends on carries the very bytes that were signed.
    const relayed = decodeMessage(encodeMessage({ t: 'gossip', h: 2, u: { k: 'rec', rec: opened.record.signed } }))
    expect(relayed.ok && relayed.msg.t === 'gossip' && relayed.msg.u.k === 'rec' && hex(relayed.msg.u.rec.body)).toBe(hex(bytes))
  })

  it('a record whose head was read opens to its own body, and the head of one record never leaks into the open of another', () => {
    const ka = fakeKeyring('node-a'), kb = fakeKeyring('node-b')
    const mk = (kr: typeof ka, id: string, ver: number) => {
      const bytes = pack({ id, key: kr.publicKey, inc: 1, ver, image: 'v1', phase: 'ready', domain: 'rack-1', inv: {}, health: { status: 'ok', conditions: [] }, comps: [] })
      return { body: bytes, sig: kr.sign(bytes) }
    }
    const a = mk(ka, 'node-a', 11), b = mk(kb, 'node-b', 22)
    expect(recordHead({ k: 'rec', rec: a })).toEqual({ id: 'node-a', inc: 1, ver: 11 })
    const openedB = openRecord(b, ka) // the head just read was a's
    expect(openedB.ok && openedB.record.body).toMatchObject({ id: 'node-b', ver: 22 })
    const openedA = openRecord(a, ka)
    expect(openedA.ok && openedA.record.body).toMatchObject({ id: 'node-a', ver: 11 })
    // Same bytes, tampered signature: the head decode is reused, the verdict is still the signature's.
    const forged = { body: b.body, sig: new Uint8Array(b.sig).fill(1, 0, 8) }
    recordHead({ k: 'rec', rec: forged })
    expect(openRecord(forged, ka)).toEqual({ ok: false, reason: 'bad-signature' })
  })

  it('a copy of a verified record is named from the verified body; other bytes under its signature are named by their own', () => {
    const ka = fakeKeyring('node-c')
    const body = (ver: number) => pack({ id: 'node-c', key: ka.publicKey, inc: 1, ver, image: 'v1', phase: 'ready', domain: 'rack-1', inv: {}, health: { status: 'ok', conditions: [] }, comps: [] })
    const bytes = body(5)
    const signed = { body: bytes, sig: ka.sign(bytes) }
    expect(openRecord(signed, ka).ok).toBe(true)
    // A fresh copy off the wire: new arrays, the same bytes.
    expect(recordHead({ k: 'rec', rec: { body: new Uint8Array(bytes), sig: new Uint8Array(signed.sig) } })).toEqual({ id: 'node-c', inc: 1, ver: 5 })
    // A forged body under that signature: its own head (ver 3), not the verified record's.
    expect(recordHead({ k: 'rec', rec: { body: body(3), sig: new Uint8Array(signed.sig) } })).toEqual({ id: 'node-c', inc: 1, ver: 3 })
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
