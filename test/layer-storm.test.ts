/**
 * A boot storm on loopback (docs/layers.md): booting workers fetch a version's layers
 * through the boot agent's own chunked path (fetchLayersChunked: signed manifest with chunk
 * hashes, a chunk server per worker, peers from the coordinator's tracker, the
 * coordinator's chunk broker) against a real coordinator. Every layer must come out equal
 * to the signed manifest; the coordinator may hand each chunk out at most twice (plus
 * counted fallbacks); a peer that serves a corrupted chunk is blacklisted and the worker
 * still gets every layer right; and no worker ever passes on a chunk it has not verified.
 */
import { createHash } from 'node:crypto'
import { request, createServer, type Server } from 'node:http'
import { readFile, rm, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fetchLayersChunked, type ChunkedLayers } from '../agent/boot/chunked-layers.js'
import { chunkFetchDefaults } from '../agent/boot/chunk-fetch-config.js'
import { ChunkServer } from '../agent/boot/chunk-server.js'
import { chunkSpan, encodeBits, layerRoutes, LAYER_CHUNK_BYTES } from '../agent/protocol/layer-chunks.js'
import { seededRng } from '../agent/protocol/testing.js'
import { startTestCoordinator, type TestCoordinator } from '../coordinator/testing.js'
import { ApiServer } from '../agent/api/api-server.js'
import { layerChunkRoute, type LayerChunkRoute } from '../agent/api/layer-chunk-route.js'
import { silentLogger } from '../agent/protocol/ports.js'
import type { Manifest } from '../agent/protocol/enroll/index.js'

const MiB = LAYER_CHUNK_BYTES
// 3 + 2 + 1 chunks, the last of each layer short.
const image = { vmlinuz: 4096, 'initramfs.img': 8192, 'base.squashfs': 2 * MiB + 12_345, 'node.squashfs': MiB + 777, 'worker.squashfs': 300_000 }
const cfg = { ...chunkFetchDefaults, originRetryMs: 300, trackerIntervalMs: 200, haveRetryMs: 100, deadlineMs: 60_000 }
const clock = { now: () => Date.now() }

let h: TestCoordinator
let dir: string
let pin: { clusterKey: string; cluster: string; version: string }
let manifest: Manifest

// A coordinator per test: its broker remembers who got which chunk (on a clock that stands still).
beforeEach(async () => {
  h = await startTestCoordinator({ images: { v1: image } })
  dir = await mkdtemp(join(tmpdir(), 'shoal-storm-test-'))
  pin = { clusterKey: h.coordinator.state.publicKey, cluster: h.coordinator.state.clusterId, version: 'v1' }
  manifest = (await (await fetch(`${h.url}/images/v1/manifest?chunks=1`)).json()) as Manifest
}, 30_000)
afterEach(async () => {
  await h?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const layers = () => manifest.layers.map((n) => manifest.files.find((f) => f.name === n)!)

async function expectLayersVerified(r: ChunkedLayers): Promise<void> {
  for (const want of layers()) {
    const got = r.fetched.find((f) => f.name === want.name)!
    expect(got.sha256, `${want.name} as measured`).toBe(want.sha256)
    expect(sha(await readFile(got.path)), `${want.name} on disk`).toBe(want.sha256)
  }
}

function worker(name: string, seed: number, peers: string[] = [], manifestFile?: string) {
  return fetchLayersChunked(workerInput(name, seed, peers, manifestFile))
}

function workerInput(name: string, seed: number, peers: string[] = [], manifestFile?: string): Parameters<typeof fetchLayersChunked>[0] {
  return {
    coordinator: h.url,
    pin,
    layerDir: join(dir, name),
    ...(manifestFile ? { manifestFile } : {}),
    listen: { host: '127.0.0.1', port: 0 },
    peers,
    clock,
    rng: seededRng(seed),
    say: () => undefined,
    config: cfg,
  }
}

describe('layer chunks: manifest', () => {
  it('the plain manifest has no chunks (strict older agents accept it); ?chunks=1 lists one sha256 per MiB of each layer', async () => {
    const plain = (await (await fetch(`${h.url}/images/v1/manifest`)).json()) as Manifest
    expect(plain.files.every((f) => f.chunks === undefined)).toBe(true)
    for (const f of layers()) {
      expect(f.chunks!.bytes).toBe(MiB)
      expect(f.chunks!.sha256).toHaveLength(Math.ceil(f.size / MiB))
    }
    expect(manifest.files.find((f) => f.name === 'vmlinuz')!.chunks).toBeUndefined()
  })
})

describe('layer chunks: a storm of booting workers', () => {
  it('every worker verifies every layer; the coordinator hands each chunk out at most twice plus counted fallbacks', async () => {
    const N = 6
    const seed = Date.now() % 100_000
    console.log(`layer-storm seed ${seed}`)
    const results = await Promise.all(Array.from({ length: N }, (_, i) => worker(`w${i}`, seed + i)))
    try {
      const chunks = layers().reduce((s, f) => s + f.chunks!.sha256.length, 0)
      let originChunks = 0
      let fallbacks = 0
      for (const r of results) {
        expect(r).toBeDefined()
        await expectLayersVerified(r!)
        originChunks += r!.stats.originChunks
        fallbacks += r!.stats.fallbacks
        expect(r!.stats.badChunks).toBe(0)
      }
      // The broker's rule, which the N=50 target stands on: two copies, then peers.
      expect(originChunks).toBeLessThanOrEqual(2 * chunks + fallbacks)
      expect(results.reduce((s, r) => s + r!.stats.peerChunks, 0)).toBeGreaterThanOrEqual(N * chunks - 2 * chunks - fallbacks)
    } finally {
      await Promise.all(results.map((r) => r?.server.close()))
    }
  }, 90_000)

  it('a running worker serves its layers on its agent API (kept manifest, verified files): 4 booting workers take under a tenth of the bytes from the coordinator', async () => {
    const running = await runningWorker()
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => worker(`r${i}`, 100 + i, [running.addr])))
    try {
      let bytes = 0
      let origin = 0
      for (const r of results) {
        await expectLayersVerified(r!)
        expect(r!.stats.badChunks).toBe(0)
        bytes += r!.stats.bytes
        origin += r!.stats.originBytes
      }
      expect(origin / bytes).toBeLessThan(0.1)
      const served = (await running.route.loaded())!.stats
      expect(served.servedChunks).toBeGreaterThan(0)
      expect(served.refused).toBe(0)
    } finally {
      await running.close()
      await Promise.all(results.map((r) => r?.server.close()))
    }
  }, 90_000)

  it('a running worker whose layer file changed since boot refuses that chunk (never sends it); the booting worker gets it elsewhere', async () => {
    const running = await runningWorker()
    const f = layers()[0]!
    const path = join(dir, 'seed', f.name)
    const bytes = await readFile(path)
    bytes[MiB + 3] = bytes[MiB + 3]! ^ 0x10 // chunk 1
    await writeFile(path, bytes)
    try {
      const r = await worker('after-corruption', 21, [running.addr])
      await expectLayersVerified(r!)
      expect(r!.stats.badChunks).toBe(0)
      expect(r!.stats.blacklisted).toEqual([])
      expect(r!.stats.peerChunks).toBeGreaterThan(0)
      const served = (await running.route.loaded())!.stats
      expect(served.refused).toBe(1)
      // Its have map no longer offers chunk 1; the other chunks of that layer it still serves.
      const have = JSON.parse((await rangeGet(`http://${running.addr}${layerRoutes.layers}/v1/have?after=-1`, '')).body.toString())
      expect(Buffer.from(have.files[f.name], 'base64')[0]! & 0b111).toBe(0b101)
      await r!.server.close()
    } finally {
      await running.close()
    }
  }, 90_000)

  it('an agent without a kept manifest answers 404 under /v1/layers (the fetcher drops it), and other routes as before', async () => {
    const api = await agentApi(layerChunkRoute({ version: 'v1', cluster: pin.cluster, clusterKey: pin.clusterKey, manifestFile: join(dir, 'none.json'), layerDir: join(dir, 'none'), uploadBytesPerSec: MiB, clock, logger: silentLogger }))
    try {
      const r = await rangeGet(`http://${api.addr}${layerRoutes.layers}/v1/have?after=-1`, '')
      expect(r.status).toBe(404)
      expect(JSON.parse(r.body.toString()).error.message).toMatch(/booted without chunk sharing/)
      expect((await rangeGet(`http://${api.addr}/v1/cluster`, '')).status).toBe(200)
    } finally {
      await api.close()
    }
  })

  it('a peer serving a corrupted chunk is blacklisted, the worker still boots, and no corrupted byte is ever passed on', async () => {
    const bad = await corruptPeer()
    try {
      const victim = await worker('victim0', 11, [bad.addr])
      expect(victim).toBeDefined()
      expect(victim!.stats.blacklisted).toEqual([bad.addr])
      expect(victim!.stats.badChunks).toBeGreaterThanOrEqual(1)
      expect(bad.served()).toBeGreaterThanOrEqual(1)
      await expectLayersVerified(victim!)
      // Every chunk the victim serves is the signed one (it wrote and announced only verified chunks).
      const addr = victim!.address!
      for (const f of layers()) {
        for (let i = 0; i < f.chunks!.sha256.length; i++) {
          const span = chunkSpan(f.size, MiB, i)
          const body = await rangeGet(`http://${addr}${layerRoutes.layers}/v1/${f.name}`, `bytes=${span.start}-${span.end}`)
          expect(body.status).toBe(206)
          expect(sha(body.body)).toBe(f.chunks!.sha256[i])
        }
      }
      // A worker following the victim never sees a bad chunk from it.
      const follower = await worker('follower0', 12, [addr])
      expect(follower!.stats.badChunks).toBe(0)
      await expectLayersVerified(follower!)
      await follower!.server.close()
      await victim!.server.close()
    } finally {
      await bad.close()
    }
  }, 90_000)

  it('a peer that has every chunk but is always busy (503) does not hold the boot: its chunks go to the coordinator, not as fallbacks', async () => {
    await fetchBesideFakePeer('busy', 'busy0', 31, { busyOriginMs: 200 }, (r, busy) => {
      // Before: a chunk some peer had never went to the coordinator, so this fetch ran into its deadline.
      expect(r!.stats.originChunks).toBe(layers().reduce((s, f) => s + f.chunks!.sha256.length, 0))
      expect(r!.stats.busyToOrigin).toBeGreaterThan(0)
      expect(r!.stats.fallbacks).toBe(0)
      expect(busy.served()).toBe(0)
    })
  }, 90_000)

  it('a chunk a slow peer trickles is raced to the coordinator after raceAfterMs; the first verified copy is kept and the slow transfer cut off', async () => {
    await fetchBesideFakePeer('slow', 'race0', 32, { raceAfterMs: 300 }, (r, slow) => {
      expect(r!.stats.races).toBeGreaterThan(0)
      expect(r!.stats.badChunks).toBe(0)
      // The slow peer (64 KiB/s: 16 s a full chunk) had transfers cut off once the coordinator's copy verified,
      // and never got to send a whole 1 MiB chunk: its pace is per byte, so a layer's short last chunk, sent in
      // a fraction of a second, does not make it look fast (counted per chunk it did, in 1 of 3 runs, and its
      // chunks were then no longer raced: the test took 20-34 s).
      expect(r!.stats.originChunks).toBeGreaterThan(0)
      expect(slow.cut()).toBeGreaterThan(0)
      expect(slow.servedWhole()).toBe(0)
    })
  }, 90_000)

  it('the fetch returns once its last chunk is in: a tracker answer still out is cut off, not waited for', async () => {
    // The coordinator behind a front that holds every tracker request (a storm's busy uplink): before, the
    // fetch's return waited for that answer (up to its 15 s deadline), then paused 5 s more; 14 s is under that.
    const front = await holdTracker()
    try {
      let timer: NodeJS.Timeout | undefined
      const r = await Promise.race([
        fetchLayersChunked({ ...workerInput('tr0', 41), coordinator: front.url }),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the fetch waited for the held tracker answer')), 14_000))),
      ]).finally(() => clearTimeout(timer))
      await expectLayersVerified(r!)
      expect(front.held()).toBeGreaterThan(0)
      // Every held tracker request was cut off by the worker (none still open, none answered).
      await front.drained()
      await r!.server.close()
    } finally {
      await front.close()
    }
  }, 30_000)

  it('a booting worker answers 404 for a chunk it has not verified yet', async () => {
    const f = layers()[0]!
    const server = new ChunkServer({ version: 'v1', layers: [{ name: f.name, path: join(dir, 'none'), size: f.size, chunks: f.chunks! }], clock })
    const addr = await server.listen('127.0.0.1', 0)
    try {
      const r = await rangeGet(`http://${addr}${layerRoutes.layers}/v1/${f.name}`, `bytes=0-${MiB - 1}`)
      expect(r.status).toBe(404)
      expect(JSON.parse(r.body.toString()).error.code).toBe('chunk-missing')
    } finally {
      await server.close()
    }
  })
})

/**
 * A worker that booted v1 in chunks and now runs: its boot kept the manifest beside the
 * layers, and its agent API (ApiServer, with the run-mode route) serves them, capped.
 */
async function runningWorker(): Promise<{ addr: string; route: LayerChunkRoute; close: () => Promise<void> }> {
  const manifestFile = join(dir, 'seed.manifest.json')
  const first = await worker('seed', 7, [], manifestFile)
  await first!.server.close()
  const route = layerChunkRoute({ version: 'v1', cluster: pin.cluster, clusterKey: pin.clusterKey, manifestFile, layerDir: join(dir, 'seed'), uploadBytesPerSec: 64 * MiB, clock, logger: silentLogger })
  return agentApi(route)
}

async function agentApi(route: LayerChunkRoute): Promise<{ addr: string; route: LayerChunkRoute; close: () => Promise<void> }> {
  const source = { selfId: 'running', startedAt: 0, now: () => Date.now(), view: () => [], counters: () => ({}), on: () => undefined, off: () => undefined }
  const api = new ApiServer({ source, extraRoutes: (req, res, url) => route(req, res, url) })
  const b = await api.listen(0, '127.0.0.1')
  return {
    addr: `127.0.0.1:${b.port}`,
    route,
    close: async () => {
      await api.close()
      await route.close()
    },
  }
}

function rangeGet(url: string, range: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: range ? { range } : {} }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }))
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')))
    req.end()
  })
}

/** A chunk server that claims every chunk and serves each with one byte flipped. */
async function corruptPeer(): Promise<{ addr: string; served: () => number; close: () => Promise<void> }> {
  const plain = (await (await fetch(`${h.url}/images/v1/manifest?chunks=1`)).json()) as Manifest
  let served = 0
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x')
    if (url.pathname.endsWith('/have')) {
      const files: Record<string, string> = {}
      for (const f of layers()) files[f.name] = encodeBits(new Uint8Array(Math.ceil(f.chunks!.sha256.length / 8)).fill(0xff))
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ v: 1, version: 'v1', gen: 1, files }))
    }
    const name = decodeURIComponent(url.pathname.split('/').pop()!)
    const m = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range))
    if (!plain.files.some((f) => f.name === name) || !m) return res.writeHead(404).end()
    const upstream = await fetch(`${h.url}/images/v1/${name}`, { headers: { range: req.headers.range! } })
    const body = Buffer.from(await upstream.arrayBuffer())
    body[0] = body[0]! ^ 0xff
    served++
    res.writeHead(206, { 'content-length': body.length, 'content-range': `bytes ${m[1]}-${m[2]}/*` })
    res.end(body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const addr = `127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    addr,
    served: () => served,
    close: () => {
      server.closeAllConnections()
      return new Promise((r) => server.close(() => r()))
    },
  }
}

/**
 * A peer that claims every chunk and never delivers one: 'busy' answers every range 503
 * busy (all its upload slots taken), 'slow' sends the right bytes at 64 KiB/s (a capped
 * worker shared by a rack: 16 s a chunk).
 */
type FakePeer = { addr: string; served: () => number; servedWhole: () => number; cut: () => number; close: () => Promise<void> }

/** One worker fetches with only a fake peer (and the coordinator) to ask; its layers verified, `check` looks at the rest, then both close. */
async function fetchBesideFakePeer(mode: 'busy' | 'slow', name: string, seed: number, config: Partial<typeof cfg>, check: (r: Awaited<ReturnType<typeof fetchLayersChunked>>, peer: FakePeer) => void): Promise<void> {
  const peer = await fakePeer(mode)
  try {
    const r = await fetchLayersChunked({ ...workerInput(name, seed, [peer.addr]), config: { ...cfg, ...config } })
    await expectLayersVerified(r!)
    check(r, peer)
    await r!.server.close()
  } finally {
    await peer.close()
  }
}

async function fakePeer(mode: 'busy' | 'slow'): Promise<FakePeer> {
  let served = 0
  let servedWhole = 0
  let cut = 0
  const timers = new Set<NodeJS.Timeout>()
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x')
    if (url.pathname.endsWith('/have')) {
      const files: Record<string, string> = {}
      for (const f of layers()) files[f.name] = encodeBits(new Uint8Array(Math.ceil(f.chunks!.sha256.length / 8)).fill(0xff))
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ v: 1, version: 'v1', gen: 1, files }))
    }
    if (mode === 'busy') {
      res.writeHead(503, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ error: { code: 'busy', message: 'every upload slot is taken' } }))
    }
    const name = decodeURIComponent(url.pathname.split('/').pop()!)
    const m = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range))
    if (!layers().some((f) => f.name === name) || !m) return res.writeHead(404).end()
    const body = Buffer.from(await (await fetch(`${h.url}/images/v1/${name}`, { headers: { range: req.headers.range! } })).arrayBuffer())
    res.writeHead(206, { 'content-length': body.length, 'content-range': `bytes ${m[1]}-${m[2]}/*` })
    let at = 0
    const tick = setInterval(() => {
      res.write(body.subarray(at, (at += 6554)))
      if (at >= body.length) {
        clearInterval(tick)
        timers.delete(tick)
        served++
        if (body.length >= MiB) servedWhole++
        res.end()
      }
    }, 100)
    timers.add(tick)
    res.on('close', () => {
      if (at < body.length) cut++
      clearInterval(tick)
      timers.delete(tick)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return {
    addr: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    served: () => served,
    servedWhole: () => servedWhole,
    cut: () => cut,
    close: () => {
      for (const t of timers) clearInterval(t)
      server.closeAllConnections()
      return new Promise((r) => server.close(() => r()))
    },
  }
}

/** The coordinator behind a front that passes everything through but holds every tracker request unanswered. */
async function holdTracker(): Promise<{ url: string; held: () => number; drained: () => Promise<void>; close: () => Promise<void> }> {
  const target = new URL(h.url)
  let held = 0
  const open = new Set<unknown>()
  let onDrained = () => undefined as void
  const server: Server = createServer((req, res) => {
    if (req.url!.startsWith(layerRoutes.peers)) {
      held++
      open.add(req)
      res.on('close', () => {
        open.delete(req)
        if (open.size === 0) onDrained()
      })
      return
    }
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers)
      r.pipe(res)
    })
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held,
    /** Resolves once no held request is open (the worker closed them all). */
    drained: () => new Promise<void>((resolve) => (open.size === 0 ? resolve() : (onDrained = resolve))),
    close: () => {
      server.closeAllConnections()
      return new Promise((r) => server.close(() => r()))
    },
  }
}
