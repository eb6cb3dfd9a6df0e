import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { signingBytes as certificateBytes } from './enroll/certificate.js'
import { assignSigningText } from './assign-proof.js'
import { appBytes, claimBytes } from './messages.js'
import { signRecord, type NodeRecordBody } from './node-record.js'
import { grantSigningBytes } from './shell-grant.js'
import { hasTag, kindOf, SIGNED_KINDS, signAs, taggedBytes, verifyAs, VOTE_KINDS, type SignedKind, type Tag } from './signing.js'
import { fakeKeyring } from './testing.js'
import { signingBytes as voteBytes, type Unsigned, type VoteMessage } from './vote/vote-messages.js'
import { controlBytes, scheduleBytes } from './wave-control.js'
import { verbsBytes } from './node-verbs.js'

const enc = new TextEncoder()
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const KINDS = Object.keys(SIGNED_KINDS) as SignedKind[]

/** Any text, '|' and newlines included: a field's content never moves a tag. */
const str = fc.string({ unit: 'grapheme', maxLength: 12 })
const nat = fc.nat({ max: 2 ** 31 })

/** Every kind's real encoder, fed arbitrary field values. */
const encoders: Record<SignedKind, fc.Arbitrary<Uint8Array>> = {
  record: fc.record({ id: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/), inc: nat, ver: nat, image: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,20}$/), domain: str, api: fc.option(fc.constant('127.0.0.1:7400'), { nil: undefined }) }).map((r) => {
    let bytes: Uint8Array = new Uint8Array()
    const body = { id: r.id, key: 'ab'.repeat(32), inc: r.inc, ver: r.ver, image: r.image, phase: 'ready', domain: r.domain, ...(r.api ? { api: r.api } : {}), inv: {}, health: { status: 'ok', conditions: [] }, comps: [] } as unknown as NodeRecordBody
    signRecord(body, { publicKey: '', verify: () => true, sign: (b) => ((bytes = b), new Uint8Array(64)) })
    return bytes
  }),
  claim: fc.record({ about: str, inc: nat, status: fc.constantFrom('alive', 'suspect', 'dead'), by: str }).map((c) => claimBytes(c as never)),
  app: fc.record({ origin: str, seq: nat, topic: str, to: fc.option(str, { nil: undefined }), body: fc.uint8Array({ maxLength: 8 }) }).map((a) => appBytes(a as never)),
  control: fc.record({ wave: str, seq: nat, state: fc.constantFrom('running', 'paused', 'aborted', 'done'), nodeTimeoutMs: nat, alerts: fc.array(str, { maxLength: 2 }) }).map((m) => controlBytes(m as never)),
  'control-schedule': fc.record({ wave: str, seq: nat, notBefore: fc.option(nat, { nil: undefined }), settleMs: fc.option(nat, { nil: undefined }) }).map((r) => scheduleBytes({ wave: r.wave, seq: r.seq }, { ...(r.notBefore !== undefined ? { notBefore: r.notBefore } : {}), ...(r.settleMs !== undefined ? { settleMs: r.settleMs } : {}) } as never)),
  'control-verbs': fc.record({ wave: str, seq: nat, node: fc.option(str, { nil: undefined }), held: fc.array(str, { maxLength: 2 }) }).map((r) => verbsBytes({ wave: r.wave, seq: r.seq }, { ...(r.node !== undefined ? { verb: { node: r.node, kind: 'reboot' as const } } : {}), held: r.held.map((node) => ({ node, kind: 'maintenance' as const })) })),
  assign: fc.record({ wave: str, slot: nat, term: nat, node: str }).map((r) => enc.encode(assignSigningText(r))),
  certificate: fc.dictionary(str, str, { maxKeys: 3 }).map((b) => certificateBytes('certificate', b)),
  roster: fc.dictionary(str, str, { maxKeys: 3 }).map((b) => certificateBytes('roster', b)),
  manifest: fc.dictionary(str, str, { maxKeys: 3 }).map((b) => certificateBytes('manifest', b)),
  'shell-grant': fc.dictionary(str, str, { maxKeys: 3 }).map((g) => grantSigningBytes(enc.encode(JSON.stringify(g)))),
  ...(Object.fromEntries(
    VOTE_KINDS.map((k) => [
      `vote:${k}`,
      fc.record({ a: str, b: str, n: nat }).map(({ a, b, n }) => {
        // Every field a kind's encoder reads, so any kind's text can be built from one object.
        const m = { k, id: a, wave: a, target: b, slots: n, policy: 'none', coord: { id: a, key: b }, startedAt: n, roster: [{ id: a, key: b }], slot: n, term: n, cand: a, voter: b, reason: b, holder: a, votes: n, by: a, node: b, from: a, to: b, nonce: n, complete: true, promises: [], grants: [] }
        return voteBytes(m as unknown as Unsigned<VoteMessage>)
      }),
    ]),
  ) as Record<`vote:${(typeof VOTE_KINDS)[number]}`, fc.Arbitrary<Uint8Array>>),
}

function isPrefix(a: Uint8Array, b: Uint8Array): boolean {
  return a.length <= b.length && a.every((x, i) => b[i] === x)
}

describe('signing: one tag per kind, and no two kinds can sign the same bytes', () => {
  it('the tags are prefix-free: no tag begins another, and no text or array tag begins like a msgpack map', () => {
    const prefixes = KINDS.flatMap((k) => {
      const t: Tag = SIGNED_KINDS[k].tag
      return 'prefix' in t ? [[k, t.prefix] as const] : []
    })
    expect(prefixes.length).toBe(KINDS.length - 1) // the node record is the one map-tagged kind
    for (const [a, pa] of prefixes) {
      expect(pa.length, a).toBeGreaterThan(0)
      expect(hasTag('record', pa), `${a} begins like a msgpack map`).toBe(false)
      for (const [b, pb] of prefixes) if (a !== b) expect(isPrefix(pa, pb), `${a}'s tag begins ${b}'s`).toBe(false)
    }
  })

  it("every encoder's output begins with its own kind's tag, whatever its fields hold, and with no other's", () => {
    for (const kind of KINDS) {
      fc.assert(
        fc.property(encoders[kind], (bytes) => {
          expect(hasTag(kind, bytes)).toBe(true)
          expect(kindOf(bytes)).toBe(kind)
        }),
        { numRuns: 60 },
      )
    }
  })

  it("a signature made as one kind verifies as that kind only; signAs refuses bytes without the kind's tag", () => {
    const kr = fakeKeyring('n')
    for (const kind of KINDS) {
      const bytes = fc.sample(encoders[kind], { numRuns: 1, seed: 7 })[0]!
      const sig = signAs(kind, bytes, kr)
      for (const other of KINDS) expect(verifyAs(other, kr.publicKey, bytes, sig, kr), `${kind} as ${other}`).toBe(other === kind)
    }
    expect(() => signAs('control', enc.encode('shoal-vote1|req|w|0|1|n'), kr)).toThrow(/control tag/)
  })

  it('golden bytes: what each kind signs is what older agents sign (a signature made by either verifies on the other)', () => {
    // Recorded from the encoders before the signing helper existed; any change here breaks mixed-version waves.
    expect(hex(claimBytes({ about: 'a', inc: 2, status: 'dead', by: 'b' }))).toBe('95a5636c61696da16102a464656164a162')
    expect(hex(appBytes({ origin: 'o', seq: 3, topic: 't', body: new Uint8Array([1]) } as never))).toBe('96a3617070a16f03a174a0c40101')
    expect(hex(controlBytes({ wave: 'w', seq: 1, state: 'running', nodeTimeoutMs: 5, alerts: [] } as never))).toBe('9aa363746c01a17701a772756e6e696e6705c090c090')
    expect(Buffer.from(voteBytes({ k: 'req', wave: 'w', slot: 0, term: 1, cand: 'n' } as never)).toString()).toBe('shoal-vote1|req|w|0|1|n')
    expect(assignSigningText({ wave: 'w', slot: 0, term: 1, node: 'n' })).toBe('shoal-assign1|w|0|1|n')
    expect(Buffer.from(certificateBytes('certificate', { b: 1, a: 'x' })).toString()).toBe('shoal/certificate/v1\n{"a":"x","b":1}')
    expect(Buffer.from(grantSigningBytes(enc.encode('{"x":1}'))).toString()).toBe('shoal-shell-grant-v1\n{"x":1}')
  })

  it('taggedBytes: the explicit layout of a new kind, tag + newline + payload', () => {
    expect(Buffer.from(taggedBytes('shoal/thing/v1', '{}')).toString()).toBe('shoal/thing/v1\n{}')
    expect(hex(taggedBytes('t', new Uint8Array([0xff])))).toBe('740aff')
    expect(() => taggedBytes('a\nb', '')).toThrow(/newline/)
  })
})
