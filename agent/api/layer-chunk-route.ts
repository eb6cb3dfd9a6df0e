/**
 * A running worker's share of a boot storm (docs/layers.md, "Running workers serve their
 * layers"): the layers this node booted stay in its tmpfs (/run/shoal/layers), the boot
 * agent kept the signed manifest with their chunk hashes beside them, and this route
 * serves their chunks to booting workers of the same image on the agent API:
 *
 *   GET /v1/layers/{version}/have?after=GEN[&want=W]    which chunks this node serves (all of them)
 *   GET /v1/layers/{version}/{file}  + Range: bytes=A-B  whole chunks -> 206, else 404
 *
 * The same ChunkServer as a booting worker's (agent/boot/chunk-server.ts), `complete`, with
 * an upload cap (the node runs workloads) and every chunk hashed again as it is read: a file
 * changed or gone since boot is refused (404) and logged, never passed on.
 *
 * Nothing of it runs at the agent's start: the chunk server's module, the manifest file and
 * its signature are loaded on the first request under /v1/layers/ (a node of a rack that
 * never reboots together pays nothing). The tracker names this node from its mesh record
 * (image + api, coordinator/chunk-broker.ts runningChunkServers); it does not poll the
 * tracker itself: 10,000 running workers re-registering every 30 s would be 333 requests a
 * second to the coordinator for nothing.
 */
import { readFile, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import type { ChunkServer, ServedLayer } from '../boot/chunk-server.js'
import type { Clock, Logger } from '../protocol/ports.js'

/** 25 MiB/s (~210 Mbit/s): a fifth of a 1 Gbit/s NIC, so the pods keep the rest; a rack of running workers still outruns one coordinator uplink. */
export const RUNNING_UPLOAD_BYTES_PER_SEC = 25 * 1024 * 1024

export interface LayerChunkRouteOptions {
  /** The image this node runs: only its chunks are served. */
  version: string
  cluster: string
  /** The manifest must carry this key's signature. */
  clusterKey: string
  /** The signed manifest with chunk hashes (?chunks=1) as the boot agent verified it. */
  manifestFile: string
  /** Where the layer files are (named as in the manifest). */
  layerDir: string
  /** Upload cap in bytes/s; 0 serves nothing. */
  uploadBytesPerSec: number
  clock: Clock
  logger: Logger
  /** Test only: the cap's wait (ChunkServerOptions.delay). */
  delay?(ms: number): Promise<void>
}

export interface LayerChunkRoute {
  /** An ApiServer extra route: true when it answered (a path under /v1/layers/). */
  (req: IncomingMessage, res: ServerResponse, url: URL): false | Promise<true>
  /** The chunk server once loaded (stats; tests). */
  loaded(): Promise<ChunkServer | undefined>
  close(): Promise<void>
}

const PREFIX = '/v1/layers/'

export function layerChunkRoute(opts: LayerChunkRouteOptions): LayerChunkRoute {
  let loading: Promise<{ server?: ChunkServer; why?: string }> | undefined
  let closed = false
  type Loaded = { server?: ChunkServer; why?: string }
  const load = () => (loading ??= open(opts).catch((err: Error): Loaded => {
      opts.logger.warn({ component: 'layer-chunks', err: err.message }, 'not serving layer chunks')
      return { why: `this node serves no layer chunks: ${err.message}` }
    }))
  // Synchronous false for every other path, so a caller can chain routes with ||.
  const route = ((req: IncomingMessage, res: ServerResponse, url: URL): false | Promise<true> => (url.pathname.startsWith(PREFIX) ? serve(req, res) : false)) as LayerChunkRoute
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<true> => {
    const { server, why } = await load()
    if (server && !closed && server.handle(req, res)) return true
    const text = JSON.stringify({ error: { code: 'not-found', message: why ?? `this node serves the layer chunks of image ${opts.version} only` } })
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
    return true
  }
  route.loaded = async () => (await load()).server
  route.close = async () => {
    closed = true
    if (loading) await (await loading).server?.close()
  }
  return route
}

/** Reads and checks the kept manifest and the layer files; the reason in `why` when nothing can be served. */
async function open(opts: LayerChunkRouteOptions): Promise<{ server?: ChunkServer; why?: string }> {
  const log = (msg: string, fields: object = {}) => opts.logger.info({ component: 'layer-chunks', ...fields }, msg)
  if (opts.uploadBytesPerSec <= 0) return { why: 'this node serves no layer chunks (its upload cap is 0)' }
  let raw: unknown
  try {
    raw = JSON.parse(await readFile(opts.manifestFile, 'utf8'))
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `no chunked manifest at ${opts.manifestFile} (this node booted without chunk sharing)` : `cannot read ${opts.manifestFile}: ${(err as Error).message}`
    log(`not serving layer chunks: ${why}`)
    return { why: `this node serves no layer chunks: ${why}` }
  }
  const [{ ChunkServer }, { verifyManifest }, { chunksFit }] = await Promise.all([import('../boot/chunk-server.js'), import('../protocol/enroll/index.js'), import('../protocol/layer-chunks.js')])
  const checked = verifyManifest(raw, opts.clusterKey, { cluster: opts.cluster, version: opts.version })
  if (!checked.ok) {
    opts.logger.warn({ component: 'layer-chunks', reason: checked.reason, detail: checked.detail }, `not serving layer chunks: the manifest at ${opts.manifestFile} is refused`)
    return { why: `this node serves no layer chunks: its manifest is refused (${checked.reason})` }
  }
  const m = checked.value
  const layers: ServedLayer[] = []
  for (const name of m.layers) {
    const f = m.files.find((x) => x.name === name)
    if (!f || !chunksFit(f)) continue
    const path = join(opts.layerDir, f.name)
    const size = await stat(path).then((s) => s.size, () => -1)
    if (size !== f.size) {
      opts.logger.warn({ component: 'layer-chunks', file: path, size, expected: f.size }, `not serving ${f.name}: the file is ${size < 0 ? 'gone' : `${size} bytes, not ${f.size}`}`)
      continue
    }
    layers.push({ name: f.name, path, size: f.size, chunks: f.chunks })
  }
  if (layers.length === 0) return { why: 'this node serves no layer chunks: none of its layer files matches the manifest' }
  const server = new ChunkServer({
    version: opts.version,
    layers,
    complete: true,
    uploadBytesPerSec: opts.uploadBytesPerSec,
    clock: opts.clock,
    ...(opts.delay ? { delay: opts.delay } : {}),
    onRefused: (e) => opts.logger.warn({ component: 'layer-chunks', file: e.name, chunk: e.index, reason: e.reason }, `not serving chunk ${e.index} of ${e.name} any more: ${e.reason === 'corrupt' ? 'it no longer matches the signed manifest' : 'it cannot be read'}`),
  })
  log(`serving the chunks of ${layers.length} layers of image ${opts.version} to booting workers, at most ${(opts.uploadBytesPerSec / 1048576).toFixed(1)} MiB/s`, { layers: layers.map((l) => l.name) })
  return { server }
}
