/**
 * The image server over real HTTP on loopback: what a booting worker (and curl/iPXE)
 * relies on — full and ranged GETs, HEAD, ETag/If-None-Match, 416 on bad ranges, the
 * signed manifest, and no way out of the images directory.
 */
import { createHash, randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { writeFile, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyManifest } from '../agent/protocol/enroll/index.js'
import { startTestCoordinator, type TestCoordinator } from '../coordinator/testing.js'

const kernel = randomBytes(300_000)
const layer = randomBytes(2 * 1024 * 1024 + 17)
let h: TestCoordinator

beforeAll(async () => {
  h = await startTestCoordinator({
    // Small chunks: a 2 MB file then takes ~130 reads, so buffer reuse is exercised hard.
    config: { fileChunkBytes: 16 * 1024 },
    images: {
      v1: { vmlinuz: kernel, 'initramfs.img': 5000, 'base.squashfs': layer, 'worker.squashfs': 100, 'empty.bin': Buffer.alloc(0) },
      v2: {
        vmlinuz: 10,
        'initramfs.img': 10,
        'worker.squashfs': 10,
        'manifest.json': JSON.stringify({ files: [{ name: 'vmlinuz' }, { name: 'initramfs.img' }, { name: 'worker.squashfs', size: 999 }] }),
      },
    },
  })
})
afterAll(() => h?.close())

/** Raw request (fetch hides some of what we check, e.g. HEAD bodies and exact bytes). */
function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${h.url}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('image files', () => {
  it('GET streams the whole file with length, ETag and Accept-Ranges', async () => {
    const r = await get('/images/v1/base.squashfs')
    expect(r.status).toBe(200)
    expect(r.headers['content-length']).toBe(String(layer.length))
    expect(r.headers['accept-ranges']).toBe('bytes')
    expect(r.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/)
    expect(r.body.equals(layer)).toBe(true)
  })

  it('HEAD gives the same headers and no body', async () => {
    const full = await get('/images/v1/vmlinuz')
    const head = await get('/images/v1/vmlinuz', {}, 'HEAD')
    expect(head.status).toBe(200)
    expect(head.body.length).toBe(0)
    expect(head.headers['content-length']).toBe(String(kernel.length))
    expect(head.headers.etag).toBe(full.headers.etag)
  })

  it('Range: first-last, open-ended and suffix give 206 with the exact bytes', async () => {
    const a = await get('/images/v1/vmlinuz', { Range: 'bytes=100-199' })
    expect(a.status).toBe(206)
    expect(a.headers['content-range']).toBe(`bytes 100-199/${kernel.length}`)
    expect(a.body.equals(kernel.subarray(100, 200))).toBe(true)

    const b = await get('/images/v1/vmlinuz', { Range: `bytes=${kernel.length - 10}-` })
    expect(b.status).toBe(206)
    expect(b.body.equals(kernel.subarray(kernel.length - 10))).toBe(true)

    const c = await get('/images/v1/vmlinuz', { Range: 'bytes=-5' })
    expect(c.status).toBe(206)
    expect(c.body.equals(kernel.subarray(kernel.length - 5))).toBe(true)

    const clipped = await get('/images/v1/vmlinuz', { Range: `bytes=${kernel.length - 3}-99999999` })
    expect(clipped.status).toBe(206)
    expect(clipped.headers['content-range']).toBe(`bytes ${kernel.length - 3}-${kernel.length - 1}/${kernel.length}`)
    expect(clipped.body.length).toBe(3)
  })

  it('a ranged HEAD answers 206 headers without a body', async () => {
    const r = await get('/images/v1/vmlinuz', { Range: 'bytes=0-9' }, 'HEAD')
    expect(r.status).toBe(206)
    expect(r.headers['content-length']).toBe('10')
    expect(r.body.length).toBe(0)
  })

  it.each([
    ['bytes=abc', 'malformed'],
    ['bytes=10-5', 'malformed'],
    ['bytes=-', 'malformed'],
    ['bytes=--1', 'malformed'],
    ['items=0-5', 'unsupported'],
    ['bytes=99999999-', 'past the end'],
    ['bytes=-0', 'no bytes'],
  ])('Range %s -> 416 with Content-Range */size and a JSON reason', async (range, why) => {
    const r = await get('/images/v1/vmlinuz', { Range: range })
    expect(r.status).toBe(416)
    expect(r.headers['content-range']).toBe(`bytes */${kernel.length}`)
    expect(JSON.parse(r.body.toString()).error.message).toContain(why)
  })

  it('any Range on an empty file is 416; a plain GET is 200 with no body', async () => {
    expect((await get('/images/v1/empty.bin', { Range: 'bytes=0-0' })).status).toBe(416)
    const r = await get('/images/v1/empty.bin')
    expect(r.status).toBe(200)
    expect(r.body.length).toBe(0)
  })

  it('several ranges at once get the whole file (allowed by RFC 9110)', async () => {
    const r = await get('/images/v1/vmlinuz', { Range: 'bytes=0-1,5-6' })
    expect(r.status).toBe(200)
    expect(r.body.length).toBe(kernel.length)
  })

  it('If-None-Match with the current ETag -> 304 without body; a stale one -> 200', async () => {
    const { headers } = await get('/images/v1/vmlinuz', {}, 'HEAD')
    const etag = headers.etag as string
    const r = await get('/images/v1/vmlinuz', { 'If-None-Match': etag })
    expect(r.status).toBe(304)
    expect(r.body.length).toBe(0)
    expect((await get('/images/v1/vmlinuz', { 'If-None-Match': `"nope", W/${etag}` })).status).toBe(304)
    expect((await get('/images/v1/vmlinuz', { 'If-None-Match': '"stale"' })).status).toBe(200)
  })

  it('If-Range: a matching ETag keeps the range, a stale one gets the whole file', async () => {
    const { headers } = await get('/images/v1/vmlinuz', {}, 'HEAD')
    expect((await get('/images/v1/vmlinuz', { Range: 'bytes=0-9', 'If-Range': headers.etag as string })).status).toBe(206)
    const stale = await get('/images/v1/vmlinuz', { Range: 'bytes=0-9', 'If-Range': '"old"' })
    expect(stale.status).toBe(200)
    expect(stale.body.length).toBe(kernel.length)
  })

  it('the ETag changes when the file changes', async () => {
    const path = join(h.imagesDir, 'v1', 'worker.squashfs')
    const before = (await get('/images/v1/worker.squashfs', {}, 'HEAD')).headers.etag
    await writeFile(path, randomBytes(101))
    await utimes(path, new Date(), new Date(Date.now() + 5000))
    const after = (await get('/images/v1/worker.squashfs', {}, 'HEAD')).headers.etag
    expect(after).not.toBe(before)
  })

  it.each(['/images/v1/..%2F..%2Fdata%2FLOCK', '/images/../data/LOCK', '/images/v1/.hidden', '/images/v1/missing', '/images/v9/vmlinuz', '/images/v1', '/images/v1/a/b'])(
    '%s -> 404, never a file outside the version directory',
    async (path) => {
      const r = await get(path)
      expect(r.status).toBe(404)
      expect(JSON.parse(r.body.toString()).error.code).toBe('not-found')
    },
  )

  it('many concurrent full and ranged downloads each get exactly the right bytes (buffers are reused safely)', async () => {
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
    const want = sha(layer)
    const ranges = [[0, 99_999], [16_383, 16_384 * 3], [1_000_000, layer.length - 1]] as const
    const results = await Promise.all([
      ...Array.from({ length: 12 }, () => get('/images/v1/base.squashfs')),
      ...ranges.map(([a, b]) => get('/images/v1/base.squashfs', { Range: `bytes=${a}-${b}` })),
    ])
    for (const r of results.slice(0, 12)) expect(sha(r.body)).toBe(want)
    ranges.forEach(([a, b], i) => expect(results[12 + i]!.body.equals(layer.subarray(a, b + 1))).toBe(true))
  })

  it('a client that hangs up mid-download does not disturb the next one', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = request(`${h.url}/images/v1/base.squashfs`, (res) => {
        res.once('data', () => {
          req.destroy()
          resolve()
        })
      })
      req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err)))
      req.end()
    })
    const r = await get('/images/v1/base.squashfs')
    expect(r.body.equals(layer)).toBe(true)
  })

  it('POST on an image -> 405', async () => {
    expect((await get('/images/v1/vmlinuz', {}, 'POST')).status).toBe(405)
  })
})

describe('manifest', () => {
  it('lists every file with sha256 and size, stacks layers base first, and verifies against the cluster key', async () => {
    const r = await get('/images/v1/manifest')
    expect(r.status).toBe(200)
    const m = JSON.parse(r.body.toString())
    const key = h.coordinator.state.publicKey
    expect(verifyManifest(m, key, { version: 'v1', cluster: h.coordinator.state.clusterId }).ok).toBe(true)
    const base = m.files.find((f: { name: string }) => f.name === 'base.squashfs')
    expect(base).toEqual({ name: 'base.squashfs', size: layer.length, sha256: createHash('sha256').update(layer).digest('hex') })
    expect(m.layers).toEqual(['base.squashfs', 'worker.squashfs'])
    expect(m.kernel).toBe('vmlinuz')
    expect(m.initramfs).toBe('initramfs.img')
    // ETag round trip on the manifest too.
    expect((await get('/images/v1/manifest', { 'If-None-Match': r.headers.etag as string })).status).toBe(304)
  })

  it('a version whose files contradict its manifest.json is refused (503), not signed', async () => {
    const r = await get('/images/v2/manifest')
    expect(r.status).toBe(503)
    expect(JSON.parse(r.body.toString()).error.message).toContain('worker.squashfs is 10 bytes')
  })

  it('an unknown version -> 404', async () => {
    expect((await get('/images/nope/manifest')).status).toBe(404)
  })
})
