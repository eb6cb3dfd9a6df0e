/**
 * Serves one file from disk the way nginx does: HEAD, a single byte Range (206; 416 for a
 * malformed or unsatisfiable one), ETag/If-None-Match (304), If-Range, Last-Modified.
 * The body streams from the file through two reused buffers per response: one is read
 * while the other is being written, and a buffer goes back to a shared pool only when the
 * kernel has taken its bytes. Measured against createReadStream + pipe (which allocates a
 * fresh chunk every read, so fresh pages fault in and the GC churns), this halves the
 * server's CPU per GB: 50 clients x 256 MB took ~10 CPU-s instead of ~17 (bench/image-server.ts).
 */
import type { Stats } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { fileEtag, notModified, parseRange, rangeStillValid } from './http-range.js'

export interface ServeOptions {
  /** Read chunk size in bytes (the stream's highWaterMark). */
  chunkBytes: number
  contentType?: string
}

/** What was sent, for the audit log. */
export interface ServeResult {
  status: number
  /** Body bytes the response promised (0 for HEAD/304/416). */
  bytes: number
  range?: string
  /** The client went away (or the read failed) before the body was complete. */
  aborted?: boolean
}

export async function statFile(path: string): Promise<Stats | undefined> {
  try {
    const s = await stat(path)
    return s.isFile() ? s : undefined
  } catch {
    return undefined
  }
}

/**
 * Answers `req` with the file at `path` (already stat'ed by the caller). Resolves with
 * the result once the response has finished or the client went away.
 */
export function serveFile(req: IncomingMessage, res: ServerResponse, path: string, st: Stats, opts: ServeOptions): Promise<ServeResult> {
  const size = st.size
  const etag = fileEtag(size, st.mtimeMs)
  const lastModified = st.mtime.toUTCString()
  const head = req.method === 'HEAD'
  res.setHeader('ETag', etag)
  res.setHeader('Last-Modified', lastModified)
  res.setHeader('Accept-Ranges', 'bytes')

  if (notModified(req.headers['if-none-match'], etag)) {
    res.writeHead(304)
    res.end()
    return Promise.resolve({ status: 304, bytes: 0 })
  }

  const rangeHeader = req.headers.range
  const verdict = rangeHeader !== undefined && rangeStillValid(req.headers['if-range'] as string | undefined, etag, lastModified)
    ? parseRange(rangeHeader, size)
    : ({ kind: 'full' } as const)

  if (verdict.kind === 'unsatisfiable') {
    const body = JSON.stringify({ error: { code: 'range-not-satisfiable', message: `${verdict.reason}; ask for bytes=FIRST-LAST within 0-${Math.max(0, size - 1)}` } })
    res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
    res.end(head ? undefined : body)
    return Promise.resolve({ status: 416, bytes: 0, range: rangeHeader })
  }

  const start = verdict.kind === 'partial' ? verdict.start : 0
  const end = verdict.kind === 'partial' ? verdict.end : size - 1
  const length = size === 0 ? 0 : end - start + 1
  const status = verdict.kind === 'partial' ? 206 : 200
  const headers: Record<string, string | number> = {
    'Content-Type': opts.contentType ?? 'application/octet-stream',
    'Content-Length': length,
  }
  if (status === 206) headers['Content-Range'] = `bytes ${start}-${end}/${size}`
  res.writeHead(status, headers)
  if (head || length === 0) {
    res.end()
    return Promise.resolve({ status, bytes: 0, range: rangeHeader })
  }
  return pump(res, path, start, end, opts.chunkBytes).then((aborted) => ({ status, bytes: length, range: rangeHeader, aborted: aborted || undefined }))
}

/** Free buffers by size, so a boot storm reuses the same memory instead of faulting in new pages. */
const pool = new Map<number, Buffer[]>()
const POOL_MAX_PER_SIZE = 256

function takeBuffer(size: number): Buffer {
  return pool.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size)
}
function giveBuffer(buf: Buffer): void {
  const list = pool.get(buf.length) ?? pool.set(buf.length, []).get(buf.length)!
  if (list.length < POOL_MAX_PER_SIZE) list.push(buf)
}

/**
 * Copies bytes [start, end] of the file to the response, double-buffered. Resolves true when
 * the client went away or the file shrank under us (the response is destroyed then: it
 * promised a length it cannot deliver), false when the body was sent completely.
 */
async function pump(res: ServerResponse, path: string, start: number, end: number, chunkBytes: number): Promise<boolean> {
  let closed = false
  const closedP = new Promise<void>((resolve) => res.once('close', () => ((closed = true), resolve())))
  const size = Math.min(chunkBytes, end - start + 1)
  const bufs = [takeBuffer(size), takeBuffer(size)]
  const inFlight: (Promise<boolean> | undefined)[] = [undefined, undefined]
  let fh: Awaited<ReturnType<typeof open>> | undefined
  let aborted = false
  try {
    fh = await open(path, 'r')
    let pos = start
    for (let i = 0; pos <= end; i++) {
      const k = i & 1
      // The buffer is free once its previous write reached the kernel (or the client is gone).
      if (inFlight[k] && !(await Promise.race([inFlight[k], closedP.then(() => false)]))) return (aborted = true)
      if (closed) return (aborted = true)
      const want = Math.min(size, end - pos + 1)
      const { bytesRead } = await fh.read(bufs[k]!, 0, want, pos)
      if (bytesRead <= 0) {
        res.destroy(new Error(`${path} shrank while being served`))
        return (aborted = true)
      }
      pos += bytesRead
      const chunk = bytesRead === bufs[k]!.length ? bufs[k]! : bufs[k]!.subarray(0, bytesRead)
      inFlight[k] = new Promise<boolean>((resolve) => res.write(chunk, (err) => resolve(!err)))
    }
    const done = await Promise.race([Promise.all(inFlight).then((r) => r.every((ok) => ok !== false)), closedP.then(() => false)])
    if (!done) return (aborted = true)
    res.end()
    return false
  } catch {
    res.destroy()
    return (aborted = true)
  } finally {
    await fh?.close().catch(() => undefined)
    // A buffer whose write never completed may still be referenced by the socket: drop it.
    if (!aborted) for (const b of bufs) giveBuffer(b)
  }
}
