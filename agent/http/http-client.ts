/**
 * The one bounded HTTP client of shoal's boot path (the boot agent asking the coordinator
 * and its peers): node:http only, because the initramfs pays seconds under emulation for
 * loading fetch's undici. Everything about an exchange is bounded: one deadline for connect,
 * headers and body together, and a byte cap on the body, so a server that is down, hangs
 * or streams without end costs at most `timeoutMs` and `maxBytes`.
 *
 * Failures are HttpClientErrors with a code from the registry, `unreachable` or `too-large`,
 * a `phase` (connect, body, timeout) and a short message (ECONNREFUSED, timed out) for the
 * caller's sentence. A status is not a failure here: the caller reads it and words its refusal.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { ShoalError } from '../protocol/errors.js'

export interface HttpRequestOptions {
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  /** A JSON text to send (content-type and length are set). */
  json?: string
  /** Deadline for connect + headers + the whole body. */
  timeoutMs: number
  /** Largest body read; past it the exchange fails with `too-large`. */
  maxBytes: number
  /**
   * For an error answer (status >= 300, not 304): keep only its first bytes (all a message
   * needs) and hang up, so an endless error body costs nothing. Default: read it like any body.
   */
  errorBodyBytes?: number
}

export interface HttpAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export class HttpClientError extends ShoalError {
  constructor(
    code: 'unreachable' | 'too-large',
    message: string,
    /** connect: no answer began; body: the answer broke off; timeout: the deadline passed. */
    readonly phase: 'connect' | 'body' | 'timeout',
    options?: { cause?: unknown },
  ) {
    super(code, message, options)
    this.name = 'HttpClientError'
  }
}

/** One request; resolves with the status and the whole (capped) body. */
export function httpExchange(url: string | URL, opts: HttpRequestOptions): Promise<HttpAnswer> {
  const u = typeof url === 'string' ? new URL(url) : url
  return new Promise<HttpAnswer>((resolve, reject) => {
    let settled = false
    let answered = false
    const fail = (err: HttpClientError) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.destroy()
      reject(err)
    }
    const done = (answer: HttpAnswer) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(answer)
    }
    const headers: Record<string, string | number> = { ...opts.headers, ...(opts.json !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(opts.json) } : {}) }
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, { method: opts.method ?? 'GET', headers }, (res) => {
      answered = true
      const status = res.statusCode ?? 0
      const cap = status >= 300 && status !== 304 && opts.errorBodyBytes !== undefined ? opts.errorBodyBytes : undefined
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        size += c.length
        chunks.push(c)
        if (cap !== undefined && size > cap) {
          done({ status, headers: res.headers, body: Buffer.concat(chunks).subarray(0, cap) })
          req.destroy()
        } else if (size > opts.maxBytes) {
          fail(new HttpClientError('too-large', `sent more than ${opts.maxBytes} bytes`, 'body'))
        }
      })
      res.on('end', () => done({ status, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', (err) => fail(new HttpClientError('unreachable', describe(err), 'body', { cause: err })))
      res.on('aborted', () => fail(new HttpClientError('unreachable', 'aborted', 'body')))
    })
    const timer = setTimeout(() => fail(new HttpClientError('unreachable', 'timed out', 'timeout')), opts.timeoutMs)
    req.on('error', (err) => fail(new HttpClientError('unreachable', describe(err), answered ? 'body' : 'connect', { cause: err })))
    req.end(opts.json)
  })
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } }
  return e?.code ?? e?.cause?.code ?? e?.message ?? String(err)
}
