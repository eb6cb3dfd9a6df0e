/**
 * HTTP conditional and range request logic for static files, as pure functions of the
 * request headers and the file's size/etag (RFC 9110 §13–14). The file server applies
 * the verdict; tests check every branch without a socket.
 */

export type RangeVerdict =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  /** 416: a Range header we cannot satisfy or cannot read. `reason` goes into the body. */
  | { kind: 'unsatisfiable'; reason: string }

const SPEC = /^(\d*)-(\d*)$/

/**
 * One byte range of a file of `size` bytes. Multiple ranges (`bytes=0-1,5-6`) are answered
 * with the whole file (a server may ignore Range; agents never ask for several). Anything
 * that is not a well-formed `bytes=` range, or starts past the end, is 416 — a client that
 * sends junk learns so at once instead of silently getting 256 MB.
 */
export function parseRange(header: string | undefined, size: number): RangeVerdict {
  if (header === undefined) return { kind: 'full' }
  const h = header.trim()
  if (!h.toLowerCase().startsWith('bytes=')) return { kind: 'unsatisfiable', reason: `unsupported range unit in "${clip(h)}" (only bytes=)` }
  const specs = h.slice(6).split(',').map((s) => s.trim())
  if (specs.length === 0 || specs.some((s) => !SPEC.test(s) || s === '-')) {
    return { kind: 'unsatisfiable', reason: `malformed range "${clip(h)}"` }
  }
  if (specs.length > 1) return { kind: 'full' }
  const [, a, b] = SPEC.exec(specs[0]!)!
  if (a === '') {
    const n = Number(b)
    if (!Number.isSafeInteger(n)) return { kind: 'unsatisfiable', reason: `malformed range "${clip(h)}"` }
    if (n === 0 || size === 0) return { kind: 'unsatisfiable', reason: `range "${clip(h)}" selects no bytes of a ${size}-byte file` }
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(a)
  const last = b === '' ? size - 1 : Number(b)
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(last)) return { kind: 'unsatisfiable', reason: `malformed range "${clip(h)}"` }
  if (b !== '' && last < start) return { kind: 'unsatisfiable', reason: `malformed range "${clip(h)}": last byte before first` }
  if (start >= size) return { kind: 'unsatisfiable', reason: `range "${clip(h)}" starts at or past the end of a ${size}-byte file` }
  return { kind: 'partial', start, end: Math.min(last, size - 1) }
}

/** Strong ETag from size and modification time (the same idea as nginx's). */
export function fileEtag(size: number, mtimeMs: number): string {
  return `"${Math.floor(mtimeMs).toString(16)}-${size.toString(16)}"`
}

/** If-None-Match: true when the client's copy is current (answer 304). Weak comparison. */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  const mine = stripWeak(etag)
  return ifNoneMatch.split(',').some((t) => {
    const x = t.trim()
    return x === '*' || stripWeak(x) === mine
  })
}

/** If-Range: the range applies only when the validator still matches (strong comparison). */
export function rangeStillValid(ifRange: string | undefined, etag: string, lastModified: string): boolean {
  if (ifRange === undefined) return true
  const v = ifRange.trim()
  if (v.startsWith('"')) return v === etag
  if (v.startsWith('W/')) return false
  return v === lastModified
}

function stripWeak(t: string): string {
  return t.startsWith('W/') ? t.slice(2) : t
}

function clip(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s
}
