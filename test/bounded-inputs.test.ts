/**
 * Every input bounded, on loopback: a request body that never ends is refused and its
 * connection closed (agent and coordinator); a forwarded inventory of any size, a watch
 * stream without a newline, an agent answer that never ends and a coordinator error body
 * that never ends each cost a capped number of bytes and a deadline; the image store serves
 * nothing a symlink points at outside its tree. Each test is bounded in time and bytes.
 */
import { symlink } from 'node:fs/promises'
import { createServer, type Server, type ServerResponse } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { AgentClient } from '../agent/api/agent-client.js'
import { ApiServer, MAX_FORWARDED_INVENTORY_BYTES, type ApiSource } from '../agent/api/api-server.js'
import { HttpCoordinator } from '../agent/boot/coordinator-client.js'
import type { MemberView } from '../agent/protocol/mesh-types.js'
import { startTestCoordinator, testMachine, type TestCoordinator } from '../coordinator/testing.js'

const cleanup: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

/**
 * Sends an endless chunked body (64 KiB chunks as fast as the socket takes them) and
 * reports how many bytes went out before the server closed the connection, what it
 * answered, and how long it took. Gives up (and fails the bound) after `deadlineMs`.
 */
function endlessBody(port: number, head: string, deadlineMs = 10_000): Promise<{ sent: number; answer: string; ms: number; closed: boolean }> {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const sock = connect(port, '127.0.0.1')
    const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 0x20), Buffer.from('\r\n')])
    let sent = 0
    let answer = ''
    let done = false
    const finish = (closed: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      resolve({ sent, answer, ms: performance.now() - t0, closed })
    }
    const timer = setTimeout(() => finish(false), deadlineMs)
    const pump = () => {
      while (!done && !sock.destroyed) {
        sent += chunk.length
        if (!sock.write(chunk)) return void sock.once('drain', pump)
      }
    }
    sock.on('connect', () => {
      sock.write(`${head}\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n`)
      pump()
    })
    sock.on('data', (d) => (answer += d.toString('latin1')))
    sock.on('error', () => finish(true))
    sock.on('close', () => finish(true))
    sock.on('end', () => finish(true))
  })
}

/** A loopback HTTP server whose handler the test writes; counts the body bytes it wrote. */
async function fakeServer(handler: (res: ServerResponse, path: string, count: (n: number) => void) => void): Promise<{ address: string; port: number; written: () => number }> {
  let written = 0
  const server: Server = createServer((req, res) => handler(res, req.url ?? '/', (n) => (written += n)))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  cleanup.push(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))))
  const port = (server.address() as AddressInfo).port
  return { address: `127.0.0.1:${port}`, port, written: () => written }
}

/** Writes `chunk` until the client goes away or `maxBytes` were written. */
function flood(res: ServerResponse, chunk: Buffer, count: (n: number) => void, maxBytes = 512 * 1024 * 1024): void {
  let total = 0
  const pump = () => {
    while (!res.destroyed && total < maxBytes) {
      total += chunk.length
      count(chunk.length)
      if (!res.write(chunk)) return void res.once('drain', pump)
    }
    res.end()
  }
  res.on('close', () => (total = maxBytes))
  pump()
}

function stubSource(members: MemberView[]): ApiSource {
  return { selfId: 'n1', startedAt: 0, now: () => Date.now(), view: () => members, counters: () => ({}), on: () => undefined, off: () => undefined }
}

async function startAgentApi(members: MemberView[] = [], opts: { forwardTimeoutMs?: number } = {}): Promise<number> {
  const api = new ApiServer({ source: stubSource(members), ...opts })
  const { port } = await api.listen(0, '127.0.0.1')
  cleanup.push(() => api.close())
  return port
}

const member = (id: string, api: string): MemberView => ({ id, status: 'alive', inc: 0, updatedAt: 0, statusSince: 0, record: { id, api, phase: 'ready' } as unknown as MemberView['record'] })

describe('a request body that never ends', () => {
  let h: TestCoordinator
  afterEach(() => h?.close())

  it.each([
    ['POST /v1/enroll (past maxBodyBytes)', 'POST /v1/enroll HTTP/1.1', '413'],
    ['GET /boot/ipxe with a body', 'GET /boot/ipxe?mac=52:54:00:00:60:01 HTTP/1.1', '200'],
    ['POST /v1/admin/assign without a token', 'POST /v1/admin/assign HTTP/1.1', '401'],
    ['POST /v1/assign (unauthenticated, waves)', 'POST /v1/assign HTTP/1.1', '413'],
  ])('coordinator, %s: answered and the connection closed, not drained', async (_what, head, status) => {
    h = await startTestCoordinator({ config: { maxBodyBytes: 4096 } })
    const r = await endlessBody(Number(new URL(h.url).port), head)
    expect(r.closed).toBe(true)
    expect(r.answer).toMatch(new RegExp(`^HTTP/1.1 ${status} `))
    expect(r.answer.toLowerCase()).toContain('connection: close')
    // What was in flight when it closed, not gigabytes.
    expect(r.sent).toBeLessThan(64 * 1024 * 1024)
    // The server is still fine.
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200)
  })

  it('agent: any route, answered and closed', async () => {
    const port = await startAgentApi()
    const r = await endlessBody(port, 'GET /v1/cluster HTTP/1.1')
    expect(r.closed).toBe(true)
    expect(r.answer).toMatch(/^HTTP\/1.1 200 /)
    expect(r.sent).toBeLessThan(64 * 1024 * 1024)
    const r2 = await endlessBody(port, 'POST /v1/cluster HTTP/1.1')
    expect(r2.closed).toBe(true)
    expect(r2.answer).toMatch(/^HTTP\/1.1 405 /)
  })
})

describe('answers are capped in bytes and time', () => {
  it("a forwarded inventory of 400 MB: the agent stops at its cap and answers 502; the insider's server sent little", async () => {
    const insider = await fakeServer((res, _path, count) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"inventory":{"x":"')
      flood(res, Buffer.alloc(1024 * 1024, 0x61), count, 400 * 1024 * 1024)
    })
    const port = await startAgentApi([member('n2', insider.address)], { forwardTimeoutMs: 20_000 })
    const t0 = performance.now()
    const res = await fetch(`http://127.0.0.1:${port}/v1/nodes/n2/inventory`)
    expect(res.status).toBe(502)
    expect((await res.json()).error.message).toMatch(new RegExp(`larger than ${MAX_FORWARDED_INVENTORY_BYTES} bytes`))
    expect(performance.now() - t0).toBeLessThan(15_000)
    expect(insider.written()).toBeLessThan(64 * 1024 * 1024)
  })

  it('a forwarded inventory that trickles forever: 502 after the deadline, not never', async () => {
    const slow = await fakeServer((res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(' ')), 50)
      res.on('close', () => clearInterval(t))
    })
    const port = await startAgentApi([member('n2', slow.address)], { forwardTimeoutMs: 500 })
    const t0 = performance.now()
    const res = await fetch(`http://127.0.0.1:${port}/v1/nodes/n2/inventory`)
    expect(res.status).toBe(502)
    expect((await res.json()).error.message).toContain('no complete answer within 500 ms')
    expect(performance.now() - t0).toBeLessThan(5000)
  })

  it("a watch stream with no newline: the CLI's client gives up at its line cap", async () => {
    const bad = await fakeServer((res, _path, count) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      flood(res, Buffer.alloc(1024 * 1024, 0x61), count)
    })
    const client = new AgentClient(bad.address, 2000)
    cleanup.push(() => client.close())
    await expect(client.watch(() => undefined)).rejects.toThrow(/line longer than \d+ bytes without a newline/)
    expect(bad.written()).toBeLessThan(96 * 1024 * 1024)
  })

  it("an agent answer that never ends: the CLI's client stops at its cap", async () => {
    const bad = await fakeServer((res, _path, count) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      flood(res, Buffer.alloc(1024 * 1024, 0x20), count)
    })
    const client = new AgentClient(bad.address, 5000)
    cleanup.push(() => client.close())
    await expect(client.cluster()).rejects.toMatchObject({ code: 'agent-error', message: expect.stringMatching(/larger than/) })
    expect(bad.written()).toBeLessThan(160 * 1024 * 1024)
  })

  it("the boot agent: a coordinator error body that never ends costs its first 4 KiB", async () => {
    const bad = await fakeServer((res, _path, count) => {
      res.writeHead(403, { 'content-type': 'application/json' })
      flood(res, Buffer.alloc(64 * 1024, 0x78), count)
    })
    const api = new HttpCoordinator(`http://${bad.address}`, 5000)
    const t0 = performance.now()
    await expect(api.enroll(testMachine(1).request('ab'.repeat(32)))).rejects.toMatchObject({ code: 'http-403' })
    expect(performance.now() - t0).toBeLessThan(5000)
    expect(bad.written()).toBeLessThan(32 * 1024 * 1024)
  })
})

describe('the image store', () => {
  let h: TestCoordinator
  afterEach(() => h?.close())

  it('serves and hashes nothing a symlink points at outside its tree; a symlink inside it is fine', async () => {
    h = await startTestCoordinator({ images: { v1: { vmlinuz: 100, 'initramfs.img': 100, 'base.squashfs': 100 }, v2: { vmlinuz: 100, 'initramfs.img': 100 } } })
    await symlink('/etc/passwd', join(h.imagesDir, 'v1', 'passwd.squashfs'))
    await symlink('../v2/vmlinuz', join(h.imagesDir, 'v1', 'shared.img'))
    expect((await fetch(`${h.url}/images/v1/passwd.squashfs`)).status).toBe(404)
    const manifest = await fetch(`${h.url}/images/v1/manifest`)
    expect(manifest.status).toBe(503)
    expect((await manifest.json()).error.message).toMatch(/passwd\.squashfs resolves to a place outside/)
    const shared = await fetch(`${h.url}/images/v1/shared.img`)
    expect(shared.status).toBe(200)
    expect((await shared.arrayBuffer()).byteLength).toBe(100)
    const ok = await fetch(`${h.url}/images/v2/manifest`)
    expect(ok.status).toBe(200)
    expect(JSON.stringify(await ok.json())).not.toContain('passwd')
  })
})
