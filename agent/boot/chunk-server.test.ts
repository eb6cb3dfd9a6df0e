import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { decodeBits, decodeWant, encodeWant, hasBit, HaveAnswer, layerRoutes, setBit, sha256Hex } from '../protocol/layer-chunks.js'
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

/** A running worker's server: one layer of three real chunks, verified on read. */
async function startComplete(extra: Partial<ConstructorParameters<typeof ChunkServer>[0]> = {}): Promise<{ addr: string; s: ChunkServer; path: string; data: Buffer }> {
  const path = join(dir, 'base.squashfs')
  const data = Buffer.from(Array.from({ length: 3 * CHUNK }, (_, i) => (i * 7) & 0xff))
  await writeFile(path, data)
  const sha256 = [0, 1, 2].map((i) => sha256Hex(data.subarray(i * CHUNK, (i + 1) * CHUNK)))
  server = new ChunkServer({ version: 'v1', layers: [{ name: 'base.squashfs', path, size: 3 * CHUNK, chunks: { bytes: CHUNK, sha256 } }], complete: true, clock, ...extra })
  return { addr: await server.listen('127.0.0.1', 0), s: server, path, data }
}

function get(addr: string, range: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`http://${addr}${layerRoutes.layers}/v1/base.squashfs`, { headers: { range } }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }))
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')))
    req.end()
  })
}

describe('ChunkServer of a running worker (complete, verified on read)', () => {
  it('refuses a chunk whose bytes changed since boot, stops offering it, and still serves the others', async () => {
    const refused: string[] = []
    const { addr, s, path, data } = await startComplete({ onRefused: (e) => refused.push(`${e.name}#${e.index} ${e.reason}`) })
    const ok = await get(addr, `bytes=0-${2 * CHUNK - 1}`)
    expect(ok.status).toBe(206)
    expect(ok.body.equals(data.subarray(0, 2 * CHUNK))).toBe(true)
    // One byte of chunk 1 flips in the tmpfs file.
    const bad = Buffer.from(data)
    bad[CHUNK + 5] = bad[CHUNK + 5]! ^ 0x01
    await writeFile(path, bad)
    const r = await get(addr, `bytes=${CHUNK}-${2 * CHUNK - 1}`)
    expect(r.status).toBe(404)
    expect(JSON.parse(r.body.toString()).error.code).toBe('chunk-missing')
    expect(refused).toEqual(['base.squashfs#1 corrupt'])
    expect(s.stats.refused).toBe(1)
    const map = decodeBits(s.have().files['base.squashfs']!, 3)
    expect([0, 1, 2].map((i) => hasBit(map, i))).toEqual([true, false, true])
    // A run over the bad chunk is refused whole; asked again, chunk 1 is simply not here.
    expect((await get(addr, `bytes=0-${2 * CHUNK - 1}`)).status).toBe(404)
    expect((await get(addr, `bytes=${2 * CHUNK}-${3 * CHUNK - 1}`)).status).toBe(206)
    expect(s.stats.servedBytes).toBe(3 * CHUNK)
  })

  it('refuses chunks of a layer file that is gone instead of failing the request', async () => {
    const { addr, s, path } = await startComplete()
    await rm(path)
    const r = await get(addr, `bytes=0-${CHUNK - 1}`)
    expect(r.status).toBe(404)
    expect(s.stats.refused).toBe(1)
    expect(s.stats.servedBytes).toBe(0)
  })

  it('honours the upload cap: bytes sent never pass the burst plus the rate times the (virtual) time', async () => {
    // A clock that stands still until the test moves it, and waits that end only then: no sleeps.
    let now = 0
    const waits: { at: number; resolve: () => void }[] = []
    const vclock = { now: () => now }
    const delay = (ms: number) => new Promise<void>((resolve) => waits.push({ at: now + ms, resolve }))
    const advance = (ms: number) => {
      now += ms
      for (const w of waits.filter((x) => x.at <= now)) {
        waits.splice(waits.indexOf(w), 1)
        w.resolve()
      }
    }
    const rate = CHUNK // one chunk a second; the burst is max(rate / 4, 2 MiB) = 2 MiB
    const burst = 2 * 1024 * 1024
    const { addr, s } = await startComplete({ uploadBytesPerSec: rate, clock: vclock, delay, maxUploads: 64, maxQueueMs: 60_000 })
    const asks = 40 // 40 x 64 KiB = 2.5 MiB: past the burst
    const done = Array.from({ length: asks }, (_, i) => get(addr, `bytes=${(i % 3) * CHUNK}-${((i % 3) + 1) * CHUNK - 1}`))
    await until(() => s.stats.servedChunks + waits.length === asks)
    expect(s.stats.servedBytes).toBe(burst) // the burst went at once; the rest waits for tokens
    expect(waits.length).toBe(asks - burst / CHUNK)
    for (let t = 1; waits.length > 0; t++) {
      advance(1000)
      await until(() => s.stats.servedBytes >= Math.min(asks * CHUNK, burst + t * rate))
      expect(s.stats.servedBytes).toBeLessThanOrEqual(burst + t * rate)
    }
    expect(now).toBe(((asks * CHUNK - burst) / rate) * 1000)
    for (const r of await Promise.all(done)) expect(r.status).toBe(206)
  })

  it('turns an asker away (503 busy) when its bytes would wait past maxQueueMs for the cap, instead of keeping it waiting', async () => {
    let now = 0
    const waits: (() => void)[] = []
    const { addr, s } = await startComplete({ uploadBytesPerSec: CHUNK, clock: { now: () => now }, delay: () => new Promise<void>((r) => waits.push(r)), maxUploads: 64 })
    // The 2 MiB burst is 32 chunks; the 33rd waits 1 s (queued), the 34th would wait 2 s: busy.
    const first = await Promise.all(Array.from({ length: 32 }, (_, i) => get(addr, `bytes=${(i % 3) * CHUNK}-${((i % 3) + 1) * CHUNK - 1}`)))
    expect(first.every((r) => r.status === 206)).toBe(true)
    const queued = get(addr, `bytes=0-${CHUNK - 1}`)
    await until(() => waits.length === 1)
    const turned = await get(addr, `bytes=0-${CHUNK - 1}`)
    expect(turned.status).toBe(503)
    expect(JSON.parse(turned.body.toString()).error.code).toBe('busy')
    expect(s.stats.busy).toBe(1)
    now += 1000
    waits.shift()!()
    expect((await queued).status).toBe(206)
    expect(s.stats.servedBytes).toBe(33 * CHUNK)
  })
})

describe('ChunkServer: its upload cap in the have answer, and its slots', () => {
  /** The have answer as it was before `upload`: what a booting worker that predates it parses, strictly. */
  const OldHaveAnswer = z.object({ v: z.literal(1), version: z.string().max(64), gen: z.number().int().nonnegative(), files: z.record(z.string().max(128), z.string().max(16_384)) }).strict()

  function rawPoll(addr: string, query: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = request(`http://${addr}${layerRoutes.layers}/v1/have?${query}`, (res) => {
        const parts: Buffer[] = []
        res.on('data', (c: Buffer) => parts.push(c))
        res.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString())))
      })
      req.on('error', reject)
      req.setTimeout(10_000, () => req.destroy(new Error('have poll not answered within 10 s')))
      req.end()
    })
  }

  it('a capped server tells its cap only to an asker that passes cap=1; an older asker gets the answer its strict schema accepts', async () => {
    const { addr } = await startComplete({ uploadBytesPerSec: 880_000 })
    const asked = HaveAnswer.parse(await rawPoll(addr, 'after=-1&cap=1'))
    expect(asked.upload).toBe(880_000)
    const old = await rawPoll(addr, 'after=-1')
    expect(OldHaveAnswer.safeParse(old).success).toBe(true)
    // Had it been sent to an older asker, that asker would have refused the whole answer.
    expect(OldHaveAnswer.safeParse(asked).success).toBe(false)
  })

  it('an uncapped server (a booting worker) tells no cap, also when asked', async () => {
    const { addr } = await start()
    const a = await rawPoll(addr, 'after=-1&cap=1')
    expect(OldHaveAnswer.safeParse(a).success).toBe(true)
    expect(HaveAnswer.parse(a).upload).toBeUndefined()
  })

  it('a capped server has no more upload slots than give each transfer a chunk a second, at least one; uncapped four', async () => {
    const slots = async (extra: Partial<ConstructorParameters<typeof ChunkServer>[0]>) => {
      const { s } = await startComplete(extra)
      await s.close()
      return s.slots
    }
    expect(await slots({})).toBe(4)
    expect(await slots({ uploadBytesPerSec: Math.round(0.84 * CHUNK) })).toBe(1)
    expect(await slots({ uploadBytesPerSec: 2 * CHUNK })).toBe(2)
    expect(await slots({ uploadBytesPerSec: 25 * CHUNK })).toBe(4)
    expect(await slots({ uploadBytesPerSec: CHUNK, maxUploads: 64 })).toBe(64)
  })

  it('with one slot, a second asker is turned away busy while the first transfer runs', async () => {
    let now = 0
    const waits: (() => void)[] = []
    const { addr, s } = await startComplete({ uploadBytesPerSec: CHUNK, clock: { now: () => now }, delay: () => new Promise<void>((r) => waits.push(r)), maxQueueMs: 60_000 })
    expect(s.slots).toBe(1)
    // The 2 MiB burst one after the other (each takes the one slot in turn); then the next transfer waits for the cap, holding the slot.
    for (let i = 0; i < 32; i++) expect((await get(addr, `bytes=${(i % 3) * CHUNK}-${((i % 3) + 1) * CHUNK - 1}`)).status).toBe(206)
    const first = get(addr, `bytes=0-${CHUNK - 1}`)
    await until(() => waits.length === 1)
    expect((await get(addr, `bytes=${CHUNK}-${2 * CHUNK - 1}`)).status).toBe(503)
    now += 1000
    waits.shift()!()
    expect((await first).status).toBe(206)
  })
})
