/**
 * Serves one file from disk the way nginx does: HEAD, a single byte Range (206; 416 for a
 * malformed or unsatisfiable one), ETag/If-None-Match (304), If-Range, Last-Modified.
 * The body streams straight from the file in large chunks through `pipeline`: no whole-
 * file buffers and no per-chunk JavaScript of ours, so throughput is bounded by the
 * kernel copies, not by the event loop.
 */
import { createReadStream, type Stats } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { pipeline } from 'node:stream'
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
  return new Promise((resolve) => {
    const body = createReadStream(path, { start, end, highWaterMark: opts.chunkBytes })
    pipeline(body, res, (err) => resolve({ status, bytes: length, range: rangeHeader, aborted: err ? true : undefined }))
  })
}
