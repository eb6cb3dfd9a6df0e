/**
 * One request through the fake API server: body, bearer-token check, injected faults
 * (a status, or a hang until the client gives up), routing, the request log.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Fault, RequestRecord } from './kube-types.js'
import { status } from './kube-shapes.js'

/** What serving a request needs of the server. */
export interface HttpContext {
  token?: string
  faults: (Fault & { left: number })[]
  hung: Set<ServerResponse>
  requests: RequestRecord[]
  emit(event: string, arg: unknown): boolean
  route(method: string, path: string, q: URLSearchParams, body: string, headers: IncomingMessage['headers']): [number, unknown]
}

export async function handle(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const u = new URL(req.url ?? '/', 'http://x')
  const path = u.pathname.replace(/\/+$/, '') || '/'
  const method = req.method ?? 'GET'
  const record: RequestRecord = { method, path, query: u.search, status: 0 }
  const send = (status: number, body: unknown, contentType = 'application/json') => {
    record.status = status
    ctx.requests.push(record)
    ctx.emit('request', record)
    const text = JSON.stringify(body)
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' })
    res.end(text)
  }
  try {
    const body = await readBody(req)
    if (ctx.token && req.headers.authorization !== `Bearer ${ctx.token}`) {
      return send(401, status(401, 'Unauthorized', 'Unauthorized'))
    }
    const f = ctx.faults.find((x) => x.left > 0 && path.startsWith(x.pathPrefix) && (!x.method || x.method === method))
    if (f) {
      f.left--
      if (f.hang) {
        record.status = -1
        ctx.requests.push(record)
        ctx.emit('request', record)
        ctx.hung.add(res)
        res.once('close', () => ctx.hung.delete(res))
        return
      }
      return send(f.status ?? 500, status(f.status ?? 500, 'InternalError', `injected fault on ${method} ${path}`))
    }
    const r = ctx.route(method, path, u.searchParams, body, req.headers)
    return send(r[0], r[1])
  } catch (err) {
    const e = err as Error & { status?: number; reason?: string }
    return send(e.status ?? 500, status(e.status ?? 500, e.reason ?? 'InternalError', e.message))
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > 4 << 20) reject(Object.assign(new Error('request body too large'), { status: 413, reason: 'RequestEntityTooLarge' }))
      else chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}
