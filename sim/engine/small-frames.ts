/**
 * A memo of the codec for the tiny frames that are most of a mesh's traffic: SWIM's
 * ping, ack and nack (and Plumtree's prune, the overlay's bye). At N=1000 each node
 * probes five times a second, so the simulator encodes and decodes ~10,000 of them per
 * simulated second, and their bytes repeat: an ack of seq 4711 is the same few bytes
 * whoever sends it, and every node's seq runs through the same range.
 *
 * Exact by construction: encode and decode are pure functions, so a remembered answer is
 * the answer. Encoding is remembered only for messages of exactly the known shape (any
 * other field, as a newer minor's would be, goes to the codec); a decoded answer is shared
 * by every receiver of the same bytes, so it is frozen (a receiver that wrote to a message
 * would throw, not corrupt another's). The memo forgets everything past a bound, so its
 * memory is small whatever the run's length.
 */
import type { Decoded } from '../../agent/protocol/messages.js'
import type { Codec } from './simulation.js'

/** Frames up to this many bytes are decoded through the memo: ping/ack/nack with any 32-bit seq fit. */
const MAX_SMALL_BYTES = 24
/** Entries kept per direction before the memo starts again (a few MB at most). */
const MAX_ENTRIES = 50_000

const SEQ_TYPES = new Set(['ping', 'ack', 'nack'])
const BARE_TYPES = new Set(['prune', 'bye'])

export class SmallFrames implements Codec {
  private readonly encoded = new Map<string, Uint8Array>()
  /** By a hash of the bytes; the bytes are kept to confirm a hit (a collision is decoded afresh). */
  private readonly decoded = new Map<number, { bytes: Uint8Array; d: Decoded }>()
  /** Lookups answered from the memo (a figure for tuning). */
  hits = 0

  constructor(private readonly inner: Codec) {}

  encode(msg: unknown): Uint8Array {
    const key = smallKey(msg)
    if (key === undefined) return this.inner.encode(msg)
    const held = this.encoded.get(key)
    if (held !== undefined) {
      this.hits++
      return held
    }
    const bytes = this.inner.encode(msg)
    if (this.encoded.size >= MAX_ENTRIES) this.encoded.clear()
    this.encoded.set(key, bytes)
    return bytes
  }

  decode(bytes: Uint8Array): Decoded {
    if (bytes.length > MAX_SMALL_BYTES) return this.inner.decode(bytes)
    let key = 0x811c9dc5 // FNV-1a
    for (let i = 0; i < bytes.length; i++) key = Math.imul(key ^ bytes[i]!, 0x01000193)
    const held = this.decoded.get(key)
    if (held !== undefined && sameBytes(held.bytes, bytes)) {
      this.hits++
      return held.d
    }
    const d = this.inner.decode(bytes)
    if (d.ok) {
      if (d.ignored) return d
      Object.freeze(d.msg)
    }
    Object.freeze(d)
    if (this.decoded.size >= MAX_ENTRIES) this.decoded.clear()
    this.decoded.set(key, { bytes: Uint8Array.from(bytes), d })
    return d
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** `t:seq` for a ping/ack/nack of exactly that shape, `t` for a bare prune/bye; undefined for anything else. */
function smallKey(msg: unknown): string | undefined {
  const m = msg as { t?: unknown; seq?: unknown }
  const t = m.t
  if (typeof t !== 'string') return undefined
  let fields = 0
  for (const k in m) if (Object.hasOwn(m, k)) fields++
  if (SEQ_TYPES.has(t)) return fields === 2 && typeof m.seq === 'number' ? `${t}:${m.seq}` : undefined
  if (BARE_TYPES.has(t)) return fields === 1 ? t : undefined
  return undefined
}
