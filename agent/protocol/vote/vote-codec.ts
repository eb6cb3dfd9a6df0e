/**
 * The edge for vote messages: bytes from the mesh (an `app` event body on VOTE_TOPIC) ->
 * a typed message, or a counted drop reason. Never throws.
 */
import { DropReason } from '../errors.js'
import { pack, unpack } from '../frame.js'
import { VoteMessage } from './vote-messages.js'

export function encodeVoteMessage(m: VoteMessage): Uint8Array {
  return pack(m)
}

export type VoteDecoded = { ok: true; msg: VoteMessage } | { ok: false; reason: DropReason; detail: string }

export function decodeVoteMessage(bytes: Uint8Array): VoteDecoded {
  let raw: unknown
  try {
    raw = unpack(bytes)
  } catch {
    return { ok: false, reason: DropReason.malformed, detail: 'not msgpack' }
  }
  const parsed = VoteMessage.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return { ok: false, reason: DropReason.schema, detail: `${issue?.path.join('.')} ${issue?.message}` }
  }
  return { ok: true, msg: parsed.data }
}
