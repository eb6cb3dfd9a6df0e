/**
 * A quick check of a decoded frame against its type's schema (messages.ts), written out by
 * hand: the zod schemas stay the definition, this is the receive path's fast lane. Parsing
 * every frame with zod was about a tenth of an agent's CPU while a 50-node mesh formed
 * (docs/mesh.md, "The receive path"); most frames are well formed and only need a yes.
 *
 * The contract, which message-check.test.ts holds it to: `quickCheck` answers true only
 * for a value its zod schema accepts, and then the value itself is the message (zod's
 * loose parse would return an equal copy: same fields, unknown ones kept). It may answer
 * false for a value zod accepts (an oddity this lane does not handle): the caller then
 * parses with zod, which decides and words the error. So a doubt costs time, never a
 * different verdict.
 */

const NODE_ID = /^[A-Za-z0-9._-]+$/
const MAX_SEQ = 2 ** 32

export type Obj = Record<string, unknown>

// The checks' vocabulary, shared with record-check.ts: each is zod's rule written out.
export const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array)
const isBytes = (x: unknown): boolean => x instanceof Uint8Array
export const isNodeId = (x: unknown): boolean => typeof x === 'string' && x.length >= 1 && x.length <= 64 && NODE_ID.test(x)
/** z.number().int().nonnegative() (zod's int is a safe integer), and at most `max`. */
export const isUint = (x: unknown, max: number): boolean => Number.isSafeInteger(x) && (x as number) >= 0 && (x as number) <= max
export const isStr = (x: unknown, max: number): boolean => typeof x === 'string' && x.length <= max
/** z.number(): finite. */
export const isNum = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x)

export function isStrArray(x: unknown, maxItems: number, maxLen: number): boolean {
  if (!Array.isArray(x) || x.length > maxItems) return false
  for (const s of x) if (!isStr(s, maxLen)) return false
  return true
}

/** An update as the broadcast tree carries it (messages.ts `Update`); unknown kinds are not ours to pass. */
function isUpdate(u: unknown): boolean {
  if (!isObj(u)) return false
  switch (u.k) {
    case 'rec':
      return isObj(u.rec) && isBytes(u.rec.body) && isBytes(u.rec.sig)
    case 'claim':
      return isNodeId(u.about) && isUint(u.inc, Number.MAX_SAFE_INTEGER) && (u.status === 'suspect' || u.status === 'dead') && isNodeId(u.by) && isBytes(u.sig)
    case 'app':
      return (
        isNodeId(u.origin) &&
        isUint(u.seq, Number.MAX_SAFE_INTEGER) &&
        isStr(u.topic, 32) &&
        (u.to === undefined || isNodeId(u.to)) &&
        isBytes(u.body) &&
        isBytes(u.sig)
      )
    default:
      return false
  }
}

/** An anti-entropy digest entry: [id, record inc, record ver, liveness code, liveness inc, ...newer items]. */
function isDigestEntry(e: unknown): boolean {
  return Array.isArray(e) && e.length >= 5 && isNodeId(e[0]) && isNum(e[1]) && isNum(e[2]) && isNum(e[3]) && isNum(e[4])
}

const checks: Record<string, (m: Obj) => boolean> = {
  ping: (m) => isUint(m.seq, MAX_SEQ),
  ack: (m) => isUint(m.seq, MAX_SEQ),
  nack: (m) => isUint(m.seq, MAX_SEQ),
  'ping-req': (m) => isUint(m.seq, MAX_SEQ) && isNodeId(m.target),
  gossip: (m) => isUint(m.h, 255) && isUpdate(m.u),
  ihave: (m) => isStrArray(m.ids, 512, 160),
  graft: (m) => isStrArray(m.ids, 512, 160),
  prune: () => true,
  bye: () => true,
  'ae-sum': (m) => isBytes(m.b),
  'ae-dig': (m) => {
    if (!Array.isArray(m.buckets) || m.buckets.length > 4096 || typeof m.reply !== 'boolean') return false
    for (const b of m.buckets) if (!isUint(b, Number.MAX_SAFE_INTEGER)) return false
    if (!Array.isArray(m.e) || m.e.length > 20000) return false
    for (const e of m.e) if (!isDigestEntry(e)) return false
    return true
  },
  'ae-delta': (m) => {
    if (!Array.isArray(m.u) || m.u.length > 4096) return false
    for (const u of m.u) if (!isUpdate(u)) return false
    return true
  },
  app: (m) => isStr(m.topic, 32) && isBytes(m.body),
}

/**
 * True when `raw` (an unpacked frame body whose `v` and `t` the caller has read) is surely a
 * valid message of type `t`; false when unsure or invalid (ask zod). Never throws.
 */
export function quickCheck(t: string, raw: Obj): boolean {
  const check = checks[t]
  return check !== undefined && Object.hasOwn(checks, t) && check(raw)
}
