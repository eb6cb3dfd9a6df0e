/**
 * The one bounded HTTP client of shoal's boot path (the boot agent asking the coordinator
 * and its peers): node:http only, because the initramfs pays seconds under emulation for
 * loading fetch's undici. Everything about an exchange is bounded: one deadline for connect,
 * headers and body together, and a byte cap on the body, so a server that is down, hangs
 * or streams without end costs at most `timeoutMs` and `maxBytes`.
 *
 * Failures are HttpClientErrors with a code from the registry, `unreachable` or `too-large`,
 * a `phase` (connect, body, timeout, aborted), a short message (ECONNREFUSED, timed out) for
 * the caller's sentence, and the body bytes that had arrived. A status is not a failure here:
 * the caller reads it and words its refusal. A ranged GET is a `range` header; the caller
 * checks for 206 and the length it asked for.
 */
import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http'
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
  /** A keep-alive agent to reuse connections (the layer fetch); default: node's global agent. */
  agent?: Agent
  /** Ends the exchange early (phase `aborted`): the caller is shutting down. */
  signal?: AbortSignal
  /** The answer is given up (phase `timeout`, message `stalled`) when the socket is idle this long; 0 or absent: only the deadline. */
  idleMs?: number
}

export interface HttpAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export class HttpClientError extends ShoalError {
  /** Body bytes that had arrived when the exchange failed (what a cut-off transfer wasted). */
  readonly received: number

  constructor(
    code: 'unreachable' | 'too-large',
    message: string,
    /** connect: no answer began; body: the answer broke off; timeout: the deadline passed or the socket idled; aborted: the caller's signal. */
    readonly phase: 'connect' | 'body' | 'timeout' | 'aborted',
    options?: { cause?: unknown; received?: number },
  ) {
    super(code, message, options?.cause !== undefined ? { cause: options.cause } : undefined)
    this.name = 'HttpClientError'
    this.received = options?.received ?? 0
  }
}

/** One request; resolves with the status and the whole (capped) body. */
export function httpExchange(url: string | URL, opts: HttpRequestOptions): Promise<HttpAnswer> {
  const u = typeof url === 'string' ? new URL(url) : url
  return new Promise<HttpAnswer>((resolve, reject) => {
    let settled = false
    let answered = false
    let size = 0
    const fail = (code: 'unreachable' | 'too-large', message: string, phase: HttpClientError['phase'], cause?: unknown) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      req.destroy()
      reject(new HttpClientError(code, message, phase, { cause, received: size }))
    }
    const done = (answer: HttpAnswer) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      resolve(answer)
    }
    const onAbort = () => fail('unreachable', 'aborted', 'aborted')
    const headers: Record<string, string | number> = { ...opts.headers, ...(opts.json !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(opts.json) } : {}) }
    // https (and tls under it) loads on the first https request: an agent that never makes one skips ~5 ms of every start.
    const req = (u.protocol === 'https:' ? process.getBuiltinModule('node:https').request : httpRequest)(u, { method: opts.method ?? 'GET', headers, ...(opts.agent ? { agent: opts.agent } : {}) }, (res) => {
      answered = true
      const status = res.statusCode ?? 0
      const cap = status >= 300 && status !== 304 && opts.errorBodyBytes !== undefined ? opts.errorBodyBytes : undefined
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => {
        size += c.length
        chunks.push(c)
        if (cap !== undefined && size > cap) {
          done({ status, headers: res.headers, body: Buffer.concat(chunks).subarray(0, cap) })
          req.destroy()
        } else if (size > opts.maxBytes) {
          fail('too-large', `sent more than ${opts.maxBytes} bytes`, 'body')
        }
      })
      // One part (a chunk in a single read) is handed on as it is, not copied.
      res.on('end', () => done({ status, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }))
      res.on('error', (err) => fail('unreachable', describe(err), 'body', err))
      res.on('aborted', () => fail('unreachable', 'aborted', 'body'))
      res.on('close', () => {
        if (!res.complete) fail('unreachable', 'answer cut off', 'body')
      })
    })
    const timer = setTimeout(() => fail('unreachable', 'timed out', 'timeout'), opts.timeoutMs)
    if (opts.idleMs) req.setTimeout(opts.idleMs, () => fail('unreachable', 'stalled', 'timeout'))
    req.on('error', (err) => fail('unreachable', describe(err), answered ? 'body' : 'connect', err))
    if (opts.signal?.aborted) onAbort()
    else opts.signal?.addEventListener('abort', onAbort, { once: true })
    req.end(opts.json)
  })
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } }
  return e?.code ?? e?.cause?.code ?? e?.message ?? String(err)
}
