/**
 * Wire framing: every message is `u32be length` + msgpack body. The body is a map whose
 * `v` field is the protocol version and `t` the message type. Frames past
 * `maxFrameBytes` are refused before any decoding: a peer cannot make us buffer more.
 */
import { Packr } from 'msgpackr'
import { ShoalError } from './errors.js'

/**
 * The mesh protocol version, major.minor (the policy: docs/mesh.md, "Versions on the wire").
 * Every message carries the major as `v`; the link's first message (`hello`) carries both.
 * Within one major, changes are additive: a receiver keeps and ignores fields it does not
 * know, and counts and ignores message types it does not know. A different major is refused.
 */
export const PROTOCOL_MAJOR = 1
export const PROTOCOL_MINOR = 0
/** The major, as every message's `v` carries it. */
export const PROTOCOL_VERSION = PROTOCOL_MAJOR
/** 256 KiB: the biggest legitimate frame is an anti-entropy delta, which we chunk below this. */
export const MAX_FRAME_BYTES = 256 * 1024

// Plain msgpack (no record extension): stable bytes for golden tests and other implementations.
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, variableMapSize: true })

export function pack(value: unknown): Uint8Array {
  return packr.pack(value)
}

/** Throws ShoalError('malformed') on bytes that are not one msgpack value. */
export function unpack(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes)
  } catch (err) {
    throw new ShoalError('malformed', 'frame body is not valid msgpack', { cause: err })
  }
}

/** Encodes one body into a length-prefixed frame. */
export function encodeFrame(body: Uint8Array, maxFrameBytes = MAX_FRAME_BYTES): Uint8Array {
  if (body.length > maxFrameBytes) {
    throw new ShoalError('frame-too-large', `frame of ${body.length} bytes exceeds the ${maxFrameBytes}-byte limit`)
  }
  const out = new Uint8Array(4 + body.length)
  new DataView(out.buffer).setUint32(0, body.length, false)
  out.set(body, 4)
  return out
}

/**
 * Incremental frame reader for a byte stream. `push` returns the complete bodies found so
 * far; once it reports `tooLarge` the stream is unusable and the caller must disconnect.
 */
export class FrameDecoder {
  private buf: Uint8Array = new Uint8Array(0)
  tooLarge = false
  constructor(private readonly maxFrameBytes = MAX_FRAME_BYTES) {}

  push(chunk: Uint8Array): Uint8Array[] {
    if (this.tooLarge) return []
    const merged = new Uint8Array(this.buf.length + chunk.length)
    merged.set(this.buf, 0)
    merged.set(chunk, this.buf.length)
    const frames: Uint8Array[] = []
    let off = 0
    while (merged.length - off >= 4) {
      const len = new DataView(merged.buffer, merged.byteOffset + off, 4).getUint32(0, false)
      if (len > this.maxFrameBytes) {
        this.tooLarge = true
        this.buf = new Uint8Array(0)
        return frames
      }
      if (merged.length - off - 4 < len) break
      frames.push(merged.subarray(off + 4, off + 4 + len))
      off += 4 + len
    }
    this.buf = merged.slice(off)
    return frames
  }
}

import { z } from 'zod'
/**
 * A wire object that keeps the fields it does not know (they came from a newer minor
 * version): parsed, they stay on the object, so a relay forwards them and a re-signer keeps
 * them. The static type stays the known shape — unknown fields are carried, never read.
 */
export function keepUnknown<T extends z.ZodObject>(schema: T): T {
  return schema.loose() as unknown as T
}

/** Binary field: msgpack `bin` decodes to a Buffer, which is a Uint8Array. */
export const Bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected bytes')
