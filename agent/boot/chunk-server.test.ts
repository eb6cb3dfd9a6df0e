import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { decodeBits, decodeWant, encodeWant, hasBit, HaveAnswer, layerRoutes, setBit } from '../protocol/layer-chunks.js'
import { ChunkPace } from './chunk-pace.js'
import { ChunkServer } from './chunk-server.js'

const CHUNK = 64 * 1024
const clock = { now: () => Date.now() }
let dir: string
let server: ChunkServer | undefined

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-chunk-server-'))
})
afterEach(async () => {
  await server?.close()
  server = undefined
  await rm(dir, { recursive: true, force: true })
})

/**
 * A server of one layer of three chunks (hashes unused: the server serves what it was told
 * is verified). Polls are held a minute, past the client's 10 s: an answer comes from a
 * chunk, never from the hold running out.
 */
async function start(haveWaitMs = 60_000): Promise<{ addr: string; s: ChunkServer }> {
  const path = join(dir, 'base.squashfs')
  await writeFile(path, Buffer.alloc(3 * CHUNK))
  server = new ChunkServer({ version: 'v1', layers: [{ name: 'base.squashfs', path, size: 3 * CHUNK, chunks: { bytes: CHUNK, sha256: ['a', 'b', 'c'].map((c) => c.repeat(64)) } }], haveWaitMs, clock })
  return { addr: await server.listen('127.0.0.1', 0), s: server }
}

function poll(addr: string, query: string): Promise<HaveAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(`http://${addr}${layerRoutes.layers}/v1/have?${query}`, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => resolve(HaveAnswer.parse(JSON.parse(Buffer.concat(parts).toString()))))
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error('have poll not answered within 10 s')))
    req.end()
  })
}

/** Resolves once `cond` holds, checked every event-loop turn; fails after `ms`. */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((r) => setImmediate(r))
  }
}

const want = (...chunks: number[]) => {
  const bits = new Uint8Array(1)
  for (const c of chunks) setBit(bits, c)
  return encodeURIComponent(encodeWant([bits]))
}

describe('ChunkServer have polls with want', () => {
  it('holds a poll until it has a chunk the asker wants; a chunk the asker does not want answers only polls without want', async () => {
    const { addr, s } = await start()
    s.markVerified('base.squashfs', 0)
    let answered = false
    const wanting = poll(addr, `after=1&want=${want(2)}`).then((a) => ((answered = true), a))
    const plainPoll = poll(addr, 'after=1')
    await until(() => s.heldPolls === 2)
    s.markVerified('base.squashfs', 1)
    // Both polls wait on the same coalescing timer: the one without want hears of chunk 1, the wanting one is still held.
    const plain = await plainPoll
    expect(plain.gen).toBe(2)
    expect(s.heldPolls).toBe(1)
    expect(answered).toBe(false)
    s.markVerified('base.squashfs', 2)
    const got = await wanting
    expect(got.gen).toBe(3)
    expect(hasBit(decodeBits(got.files['base.squashfs']!, 3), 2)).toBe(true)
  })

  it('answers at once when it already has a wanted chunk, whatever the generation (a restarted server counts from 0)', async () => {
    const { addr, s } = await start()
    s.markVerified('base.squashfs', 1)
    const a = await poll(addr, `after=99&want=${want(0, 1)}`)
    expect(a.gen).toBe(1)
  })

  it('a want that does not fit the layers is ignored: the poll behaves as one without want', async () => {
    const { addr, s } = await start()
    expect(decodeWant('AA.AA', [3])).toBeUndefined()
    expect(decodeWant('A+', [3])).toBeUndefined()
    s.markVerified('base.squashfs', 0)
    const a = await poll(addr, 'after=0&want=AAAA.BB')
    expect(a.gen).toBe(1)
  })
})

describe('ChunkPace', () => {
  it('scales a wait with the median recent transfer, between a floor and a cap', () => {
    const p = new ChunkPace(4)
    expect(p.scaled(2000, 2, 30_000)).toBe(2000)
    for (const ms of [100, 5000, 6000, 7000]) p.add(ms)
    expect(p.median()).toBe(6000)
    expect(p.scaled(2000, 2, 30_000)).toBe(12_000)
    expect(p.scaled(2000, 10, 30_000)).toBe(30_000)
    // Only the last 4 count: the host got quiet again.
    for (const ms of [50, 60, 70, 80]) p.add(ms)
    expect(p.scaled(2000, 2, 30_000)).toBe(2000)
  })
})
