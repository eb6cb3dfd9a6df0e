/**
 * One booting worker of the storm benchmark (bench/storm.ts), bundled and run as its own
 * node process: the boot agent's layer fetch path and nothing else (no QEMU, no enrollment).
 * Reads its job as JSON from argv[2], prints `{"ready":true}`, waits for `go` on stdin,
 * fetches, prints one JSON result line, and then keeps serving its chunks (p2p) until
 * stdin closes.
 *   mode "p2p":  fetchLayersChunked (manifest ?chunks=1, chunk server, peers, broker)
 *   mode "http": today's path, each layer whole from the coordinator (HttpCoordinator.download)
 *   mode "running": a worker that booted the image earlier and runs it: the run-mode agent's
 *                layer-chunk route (agent/api/layer-chunk-route.ts: kept manifest, upload cap,
 *                every chunk re-hashed) over the image's files; ready once it listens (its
 *                address in the ready line); `stats` on stdin prints what it served.
 */
import { createInterface } from 'node:readline'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { layerChunkRoute, type LayerChunkRoute } from '../agent/api/layer-chunk-route.js'
import { silentLogger } from '../agent/protocol/ports.js'
import { fetchLayersChunked, type ChunkedLayers } from '../agent/boot/chunked-layers.js'
import { chunkFetchDefaults, type ChunkFetchConfig } from '../agent/boot/chunk-fetch-config.js'
import { HttpCoordinator } from '../agent/boot/coordinator-client.js'
import { checkLayers, layerEntries, openManifest } from '../agent/boot/root-stack.js'

interface Job {
  mode: 'p2p' | 'http' | 'running'
  /** Chunk servers to ask (shoal.peers=: the running workers the boot script names). */
  peers?: string[]
  /** mode running: the kept manifest's path and the upload cap. */
  manifestFile?: string
  uploadBytesPerSec?: number
  coordinator: string
  pin: { clusterKey: string; cluster: string; version: string }
  layerDir: string
  seed: number
  /** Overrides of the fetch's tuning (bench/storm.ts --fetch-config), for experiments. */
  config?: Partial<ChunkFetchConfig>
}

const job = JSON.parse(process.argv[2]!) as Job
const clock = { now: () => Date.now() }
let s = job.seed >>> 0 || 1
const next = () => {
  s ^= s << 13
  s ^= s >>> 17
  s ^= s << 5
  return (s >>> 0) / 2 ** 32
}
const rng = { next, int: (n: number) => Math.floor(next() * n) }
const out = (o: object) => process.stdout.write(JSON.stringify(o) + '\n')

async function run(): Promise<object> {
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const cpuMs = () => {
    const c = process.cpuUsage(cpu0)
    return Math.round((c.user + c.system) / 1000)
  }
  await mkdir(job.layerDir, { recursive: true })
  if (job.mode === 'http') {
    const api = new HttpCoordinator(job.coordinator, 300_000)
    const manifest = openManifest(await api.manifest(job.pin.version), job.pin)
    const fetched = []
    let bytes = 0
    for (const e of layerEntries(manifest)) {
      const path = `${job.layerDir}/${e.name}`
      const got = await api.download(job.pin.version, e.name, path, e.size)
      fetched.push({ name: e.name, path, ...got })
      bytes += got.size
    }
    checkLayers(manifest, fetched)
    return { done: true, ms: performance.now() - t0, cpuMs: cpuMs(), bytes, originBytes: bytes }
  }
  let manifestMs: number | undefined
  const r: ChunkedLayers | undefined = await fetchLayersChunked({
    coordinator: job.coordinator,
    pin: job.pin,
    layerDir: job.layerDir,
    listen: { host: '127.0.0.1', port: 0 },
    peers: job.peers ?? [],
    ...(job.config ? { config: { ...chunkFetchDefaults, ...job.config } } : {}),
    clock,
    rng,
    say: (line) => {
      // The first line says the manifest is verified: what the start cost, before any chunk.
      manifestMs ??= performance.now() - t0
      process.stderr.write(`[worker ${job.seed}] ${line}\n`)
    },
    ...((process.env.SHOAL_STORM_TRACE ?? '').split(',').includes(String(job.seed)) ? { trace: (line: string) => process.stderr.write(`[trace ${job.seed}] ${line}\n`) } : {}),
  })
  if (!r) throw new Error('the coordinator served no chunks')
  server = r.server
  checkLayers(openManifest(r.manifest, job.pin), r.fetched)
  const st = r.stats
  return { done: true, ms: performance.now() - t0, manifestMs, cpuMs: cpuMs(), bytes: st.bytes, originBytes: st.originBytes, peerBytes: st.peerBytes, wastedBytes: st.wastedBytes, fallbacks: st.fallbacks, refusals: st.refusals, badChunks: st.badChunks, slowPeers: st.slowPeers, races: st.races, busyToOrigin: st.busyToOrigin, peersSeen: st.peersSeen, fetchMs: st.ms, waits: st.waits }
}

/** A running worker: the manifest kept (fetched here, before the storm), the route on a plain HTTP server. */
async function runRunning(): Promise<void> {
  const r = await fetch(`${job.coordinator}/images/${job.pin.version}/manifest?chunks=1`)
  await writeFile(job.manifestFile!, Buffer.from(await r.arrayBuffer()))
  route = layerChunkRoute({ version: job.pin.version, cluster: job.pin.cluster, clusterKey: job.pin.clusterKey, manifestFile: job.manifestFile!, layerDir: job.layerDir, uploadBytesPerSec: job.uploadBytesPerSec!, clock, logger: { ...silentLogger, warn: (o, m) => process.stderr.write(`[running ${job.seed}] ${m} ${JSON.stringify(o)}\n`) } })
  const http = createServer((req, res) => {
    if (!route!(req, res, new URL(req.url ?? '/', 'http://x'))) res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()))
  if (!(await route.loaded())) throw new Error('the running worker serves no chunks')
  out({ ready: true, addr: `127.0.0.1:${(http.address() as AddressInfo).port}` })
}

let server: ChunkedLayers['server'] | undefined
let route: LayerChunkRoute | undefined
const lines = createInterface({ input: process.stdin })
lines.on('line', (l) => {
  if (l.trim() === 'stats') {
    void route?.loaded().then((s) => out({ stats: true, ...s?.stats }))
    return
  }
  if (l.trim() !== 'go' || job.mode === 'running') return
  run().then(out, (err) => out({ done: false, error: (err as Error)?.stack ?? String(err) }))
})
lines.on('close', () => {
  void Promise.all([server?.close(), route?.close()]).finally(() => process.exit(0))
})
if (job.mode === 'running') runRunning().catch((err) => (out({ done: false, error: (err as Error)?.stack ?? String(err) }), process.exit(1)))
else out({ ready: true })
