import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { httpExchange } from './http-client.js'

const servers: Server[] = []
async function serve(handle: (res: ServerResponse, body: string) => void): Promise<string> {
  const s = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c)).on('end', () => handle(res, body))
  })
  servers.push(s)
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`
}
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
})

describe('httpExchange', () => {
  it('sends JSON and returns the status, headers and body', async () => {
    const url = await serve((res, body) => res.writeHead(201, { etag: '"x"' }).end(`got ${body}`))
    const r = await httpExchange(url, { method: 'POST', json: '{"a":1}', timeoutMs: 5000, maxBytes: 1024 })
    expect({ status: r.status, etag: r.headers.etag, body: r.body.toString() }).toEqual({ status: 201, etag: '"x"', body: 'got {"a":1}' })
  })

  it('stops an endless body at its cap with too-large, and keeps only the head of an error answer', async () => {
    const endless = (status: number) => (res: ServerResponse) => {
      res.writeHead(status)
      const pump = () => {
        while (!res.destroyed && res.write(Buffer.alloc(16 * 1024, 0x61)));
        if (!res.destroyed) res.once('drain', pump)
      }
      pump()
    }
    await expect(httpExchange(await serve(endless(200)), { timeoutMs: 10_000, maxBytes: 100_000 })).rejects.toMatchObject({ code: 'too-large', phase: 'body', message: 'sent more than 100000 bytes' })
    const r = await httpExchange(await serve(endless(500)), { timeoutMs: 10_000, maxBytes: 100_000, errorBodyBytes: 4096 })
    expect([r.status, r.body.length]).toEqual([500, 4096])
  })

  it('gives up at the deadline on a server that never answers, and names a refused connection', async () => {
    const hang = await serve(() => undefined)
    await expect(httpExchange(hang, { timeoutMs: 200, maxBytes: 1024 })).rejects.toMatchObject({ code: 'unreachable', phase: 'timeout', message: 'timed out' })
    await expect(httpExchange('http://127.0.0.1:9', { timeoutMs: 5000, maxBytes: 1024 })).rejects.toMatchObject({ code: 'unreachable', phase: 'connect', message: 'ECONNREFUSED' })
  })

  it('gives up a transfer whose socket idles (idleMs) as a timeout, counting the bytes that came', async () => {
    const url = await serve((res) => {
      res.writeHead(206, { 'content-length': 5000 })
      res.write(Buffer.alloc(1000, 0x61)) // then nothing more
    })
    await expect(httpExchange(url, { timeoutMs: 10_000, idleMs: 150, maxBytes: 5000 })).rejects.toMatchObject({ code: 'unreachable', phase: 'timeout', message: 'stalled', received: 1000 })
  })

  it('says an answer cut off short of its length broke off, with the bytes that came', async () => {
    const url = await serve((res) => {
      res.writeHead(206, { 'content-length': 5000 })
      res.write(Buffer.alloc(100, 0x61), () => res.destroy())
    })
    await expect(httpExchange(url, { timeoutMs: 10_000, maxBytes: 5000 })).rejects.toMatchObject({ code: 'unreachable', phase: 'body', received: 100 })
  })

  it("ends at the caller's signal (phase aborted), before or during the exchange", async () => {
    const early = new AbortController()
    early.abort()
    const hang = await serve(() => undefined)
    await expect(httpExchange(hang, { timeoutMs: 10_000, maxBytes: 1024, signal: early.signal })).rejects.toMatchObject({ phase: 'aborted' })
    const late = new AbortController()
    const asked = await serve(() => late.abort())
    await expect(httpExchange(asked, { timeoutMs: 10_000, maxBytes: 1024, signal: late.signal })).rejects.toMatchObject({ code: 'unreachable', phase: 'aborted', message: 'aborted' })
  })
})
