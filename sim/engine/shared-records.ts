/**
 * One object per signed record across the whole simulation. A record is immutable signed
 * bytes; in a real cluster every agent holds its own copy, but in one simulator process N
 * copies of each of N records is the N^2 that ran a 10,000-node run out of memory. The
 * simulator's codec hands every receiver the same SignedRecord object for the same bytes,
 * so MeshNode's tables (and the shared verification cache in node-record.ts) all point at
 * one copy. The copy is compact (its own small buffers), so it never keeps a whole
 * decoded frame alive.
 *
 * Only the sharing changes: the bytes a node receives are exactly what was sent, and a
 * record whose bytes differ from the held one under the same signature (a forgery) is
 * handed over as decoded, never swapped for the genuine one.
 */
import type { Decoded } from '../../agent/protocol/messages.js'
import type { Update } from '../../agent/protocol/messages.js'
import type { SignedRecord } from '../../agent/protocol/node-record.js'
import type { Codec } from './simulation.js'

export class SharedRecords {
  private readonly bySig = new Map<string, SignedRecord>()
  /** Decoded records replaced by the shared copy (a figure for the memory benchmark). */
  shared = 0

  get size(): number {
    return this.bySig.size
  }

  /** The shared copy of `rec` (kept from now on if it is the first with its signature). */
  intern(rec: SignedRecord): SignedRecord {
    const key = Buffer.from(rec.sig.buffer, rec.sig.byteOffset, rec.sig.byteLength).toString('base64')
    const held = this.bySig.get(key)
    if (held) {
      if (held === rec) return held
      if (!Buffer.from(held.body.buffer, held.body.byteOffset, held.body.byteLength).equals(rec.body)) return rec
      this.shared++
      return held
    }
    // Buffer.from copies (a Buffer's own slice() would not), so no decoded frame stays referenced.
    const own: SignedRecord = { ...rec, body: Buffer.from(rec.body), sig: Buffer.from(rec.sig) }
    this.bySig.set(key, own)
    return own
  }

  /** A codec that decodes with `inner` and shares the records inside gossip and ae-delta messages. */
  codec(inner: Codec): Codec {
    return {
      encode: (m) => inner.encode(m),
      decode: (bytes): Decoded => {
        const d = inner.decode(bytes)
        if (!d.ok) return d
        const msg = d.msg
        if (msg.t === 'gossip') {
          const u = this.shareUpdate(msg.u)
          return u === msg.u ? d : { ...d, msg: { ...msg, u } }
        }
        if (msg.t === 'ae-delta') {
          const u = msg.u.map((x) => this.shareUpdate(x))
          return { ...d, msg: { ...msg, u } }
        }
        return d
      },
    }
  }

  private shareUpdate(u: Update): Update {
    if (u.k !== 'rec') return u
    const rec = this.intern(u.rec)
    return rec === u.rec ? u : { ...u, rec }
  }
}
