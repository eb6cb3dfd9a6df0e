/**
 * JSON over node:http for every shoal server (the agent's API, the coordinator): bounded
 * body reading, zod validation at the edge, and one error shape (`ErrorReply`) for every
 * failure, so a client always learns what was wrong.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { z } from 'zod'
import { HttpError, type ErrorReply, type Issue } from './http-error.js'
import type { ErrorCode, ForeignCode } from '../protocol/error-codes.js'

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...closeIfUnread(res), ...headers })
  res.end(text)
}

/**
 * `Connection: close` when the request's body was not read to its end (refused past its
 * limit, or never wanted): node:http would otherwise read and discard it to keep the
 * connection alive, for as long as the client sends. Closing bounds what a refused
 * request costs to what is already in flight.
 */
export function closeIfUnread(res: ServerResponse): Record<string, string> {
  return res.req && !res.req.complete ? { Connection: 'close' } : {}
}

export function sendError(res: ServerResponse, status: number, code: ErrorCode | ForeignCode, message: string, issues?: Issue[]): void {
  const body: ErrorReply = { error: { code, message, ...(issues ? { issues } : {}) } }
  if (res.headersSent) {
    res.destroy()
    return
  }
  sendJson(res, status, body)
}

/** Reads the whole body up to `maxBytes` (413 past it) and parses it as JSON (400 if not). */
export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new HttpError(413, 'too-large', `request body of ${declared} bytes exceeds the ${maxBytes}-byte limit`)
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes) {
      // Not drained: the answer carries Connection: close (sendJson) and the socket ends with it.
      throw new HttpError(413, 'too-large', `request body exceeds the ${maxBytes}-byte limit`)
    }
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') throw new HttpError(400, 'bad-request', 'request body is empty; send a JSON object')
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new HttpError(400, 'bad-request', `request body is not valid JSON: ${(err as Error).message}`)
  }
}

/** Validates with zod; 400 with every issue (path + message) when it does not fit. */
export function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  const issues = r.error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }))
  throw new HttpError(400, 'bad-request', `invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues)
}

/** Bearer token from the Authorization header. */
export function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization
  if (!h) return undefined
  const m = /^Bearer\s+(\S+)$/i.exec(h.trim())
  return m ? m[1] : undefined
}

export function sendText(res: ServerResponse, status: number, text: string, head = false): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...closeIfUnread(res) })
  res.end(head ? undefined : text)
}
