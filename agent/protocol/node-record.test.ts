import { describe, expect, it } from 'vitest'
import { openRecord, signRecord, verifiedCacheSize, type NodeRecordBody } from './node-record.js'
import { fakeKeyring } from './testing.js'

function body(id: string, keyring: ReturnType<typeof fakeKeyring>, ver: number): NodeRecordBody {
  return { id, key: keyring.publicKey, inc: 1, ver, image: 'v1', phase: 'ready', domain: 'rack-1', inv: {}, health: { status: 'unknown', conditions: [] }, comps: [] } as NodeRecordBody
}

/** A copy of the signed bytes in fresh objects, as a frame off the wire would be. */
function wire(s: { body: Uint8Array; sig: Uint8Array }): { body: Uint8Array; sig: Uint8Array } {
  return { body: Uint8Array.from(s.body), sig: Uint8Array.from(s.sig) }
}

describe('the verified-record cache', () => {
  it('keeps about two versions per member, however many versions it has seen', () => {
    const before = verifiedCacheSize()
    const members = ['cache-a', 'cache-b', 'cache-c']
    const rings = members.map((m) => fakeKeyring(m))
    const seen: { body: Uint8Array; sig: Uint8Array }[] = []
    for (let ver = 1; ver <= 40; ver++) {
      members.forEach((m, i) => {
        const signed = wire(signRecord(body(m, rings[i]!, ver), rings[i]!).signed)
        seen.push(signed)
        expect(openRecord(signed, rings[i]!).ok).toBe(true)
      })
    }
    const after = verifiedCacheSize()
    expect(after.members - before.members).toBe(3)
    expect(after.records - before.records).toBe(6)
    // An evicted version still opens (verified again), and a forged body under a kept signature does not.
    expect(openRecord(wire(seen[0]!), rings[0]!).ok).toBe(true)
    const last = wire(seen[seen.length - 1]!)
    last.body[last.body.length - 1] ^= 1
    expect(openRecord(last, rings[2]!).ok).toBe(false)
  })
})
