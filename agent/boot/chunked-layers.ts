/**
 * The boot agent's chunked layer fetch, start to finish (docs/layers.md): the manifest with
 * chunk hashes (`?chunks=1`, signature checked against the pinned cluster key), a chunk
 * server for what this worker verifies, the chunk fetch from peers and the coordinator,
 * and a last whole-file sha256 of every layer, so the layers reach verifyAndMountRoot
 * exactly as a whole-file download would. Undefined when the coordinator predates chunks
 * (its manifest has none): the caller then downloads whole files as before.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { ShoalError } from '../protocol/errors.js'
import { chunksFit } from '../protocol/layer-chunks.js'
import type { Clock, Rng } from '../protocol/ports.js'
import { routes } from '../protocol/enroll/index.js'
import { httpExchange } from '../http/http-client.js'
import { fetchChunks } from './chunk-fetch.js'
import { chunkFetchDefaults, type ChunkFetchConfig, type ChunkFetchStats } from './chunk-fetch-config.js'
import { ChunkServer } from './chunk-server.js'
import { sha256File } from './sha256-file.js'
import { layerEntries, openManifest, type FetchedLayer, type ManifestPin } from './root-stack.js'

export interface ChunkedLayersInput {
  coordinator: string
  pin: ManifestPin
  layerDir: string
  /** Where this worker's chunk server listens (its LAN address and the agent API port); absent: fetch only. */
  listen?: { host: string; port: number }
  domain?: string
  /** shoal.peers= */
  peers: readonly string[]
  clock: Clock
  rng: Rng
  say(line: string): void
  trace?(line: string): void
  config?: ChunkFetchConfig
  /** Upload cap of the chunk server (absent while booting: the worker runs nothing else). */
  uploadBytesPerSec?: number
  /**
   * Where to keep the signed manifest once every layer is in, for the run-mode agent to
   * serve the layers' chunks (agent/api/layer-chunk-route.ts); absent: not kept.
   */
  manifestFile?: string
}

export interface ChunkedLayers {
  /** The signed manifest (with chunks) as served: verifyAndMountRoot checks it again. */
  manifest: unknown
  fetched: FetchedLayer[]
  stats: ChunkFetchStats
  /** Serving this worker's verified chunks; the caller closes it (or the process ends with it). */
  server: ChunkServer
  /** HOST:PORT of the server, when it listens. */
  address?: string
}

export async function fetchLayersChunked(input: ChunkedLayersInput): Promise<ChunkedLayers | undefined> {
  const { pin } = input
  const url = `${input.coordinator.replace(/\/+$/, '')}${routes.images}/${encodeURIComponent(pin.version)}/${routes.manifestFile}?chunks=1`
  let raw: unknown
  const asked = input.clock.now()
  try {
    const r = await httpExchange(url, { headers: { accept: 'application/json' }, timeoutMs: 30_000, maxBytes: 64 * 1024 * 1024 })
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`)
    raw = JSON.parse(r.body.toString('utf8'))
  } catch (err) {
    throw new ShoalError('unreachable', `cannot fetch the manifest of ${pin.version} from ${input.coordinator}: ${(err as Error).message}`, { cause: err })
  }
  // A round trip to the coordinator as this host and network run now: the fetch waits for peers' first answers in proportion.
  const startRttMs = input.clock.now() - asked
  const manifest = openManifest(raw, pin)
  const entries = layerEntries(manifest)
  if (!entries.every(chunksFit)) return undefined
  await mkdir(input.layerDir, { recursive: true })
  const files = entries.map((e) => ({ name: e.name, size: e.size, chunks: e.chunks!, path: `${input.layerDir}/${e.name}` }))
  const server = new ChunkServer({ version: pin.version, layers: files, clock: input.clock, ...(input.uploadBytesPerSec ? { uploadBytesPerSec: input.uploadBytesPerSec } : {}) })
  let address: string | undefined
  if (input.listen) {
    try {
      address = await server.listen(input.listen.host, input.listen.port)
    } catch (err) {
      input.say(`cannot serve layer chunks on ${input.listen.host}:${input.listen.port} (${(err as Error).message}); fetching without sharing`)
    }
  }
  input.say(`image ${pin.version}: manifest signature ok; fetching ${files.length} layers in ${files.reduce((s, f) => s + f.chunks.sha256.length, 0)} chunks from peers and the coordinator${address ? `, sharing on ${address}` : ''}`)
  let stats: ChunkFetchStats
  try {
    stats = await fetchChunks(
      { coordinator: input.coordinator, version: pin.version, files, ...(address ? { self: address } : {}), ...(input.domain ? { domain: input.domain } : {}), peers: input.peers, startRttMs, server, clock: input.clock, rng: input.rng, say: input.say, ...(input.trace ? { trace: input.trace } : {}) },
      input.config ?? chunkFetchDefaults,
    )
  } catch (err) {
    await server.close()
    throw err
  }
  const fetched: FetchedLayer[] = []
  for (const f of files) fetched.push({ name: f.name, path: f.path, size: f.size, sha256: await sha256File(f.path) })
  if (input.manifestFile) {
    // Written whole or not at all: a reader never sees half a manifest.
    await writeFile(`${input.manifestFile}.tmp`, JSON.stringify(raw))
    await rename(`${input.manifestFile}.tmp`, input.manifestFile)
  }
  const mib = (b: number) => (b / 1048576).toFixed(1)
  input.say(
    `layers: ${mib(stats.bytes)} MiB in ${(stats.ms / 1000).toFixed(1)} s, ${mib(stats.peerBytes)} MiB from ${stats.peersSeen} peers, ${mib(stats.originBytes)} MiB from the coordinator` +
      `${stats.fallbacks ? ` (${stats.fallbacks} fallbacks)` : ''}${stats.blacklisted.length ? `; blacklisted ${stats.blacklisted.join(', ')}` : ''}`,
  )
  return { manifest: raw, fetched, stats, server, ...(address ? { address } : {}) }
}

