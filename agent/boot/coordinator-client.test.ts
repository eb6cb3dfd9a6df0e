import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpCoordinator } from './coordinator-client.js'

const layer = Buffer.alloc(300_000, 7)
let server: Server
let base = ''
const tmp = mkdtempSync(join(tmpdir(), 'shoal-boot-client-'))

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/images/v1/base.squashfs') return res.end(layer)
    if (req.url === '/v1/enroll') {
      res.writeHead(403, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ error: { code: 'token-expired', message: 'join token expired 3 min ago' } }))
    }
    if (req.url === '/images/v1/manifest') return res.end('{"half":')
    res.writeHead(503).end('restarting')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => {
  server.close()
  rmSync(tmp, { recursive: true, force: true })
})

describe('HttpCoordinator', () => {
  it('streams a layer to disk and reports the sha256 of exactly what it wrote', async () => {
    const dest = join(tmp, 'base.squashfs')
    const r = await new HttpCoordinator(base, 5000).download('v1', 'base.squashfs', dest, layer.length)
    expect(r).toEqual({ sha256: createHash('sha256').update(layer).digest('hex'), size: layer.length })
    expect(readFileSync(dest).equals(layer)).toBe(true)
  })

  it('stops and deletes a download that grows past the size the manifest lists', async () => {
    const dest = join(tmp, 'big.squashfs')
    await expect(new HttpCoordinator(base, 5000).download('v1', 'base.squashfs', dest, 1000)).rejects.toThrow(/larger than the 1000 bytes/)
    expect(existsSync(dest)).toBe(false)
  })

  it("turns the coordinator's refusals, 5xx, bad bodies and a dead port into ShoalErrors with codes", async () => {
    const c = new HttpCoordinator(base, 5000)
    await expect(c.enroll({} as never)).rejects.toMatchObject({ code: 'token-expired', message: expect.stringMatching(/join token expired/) })
    await expect(c.joinToken('52:54:00:00:00:01')).rejects.toMatchObject({ code: 'unreachable' })
    await expect(c.manifest('v1')).rejects.toMatchObject({ code: 'bad-answer' })
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const port = (closed.address() as AddressInfo).port
    await new Promise((r) => closed.close(r))
    await expect(new HttpCoordinator(`http://127.0.0.1:${port}`, 2000).manifest('v1')).rejects.toMatchObject({ code: 'unreachable', message: expect.stringMatching(/ECONNREFUSED/) })
  })
})
