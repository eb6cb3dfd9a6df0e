/**
 * GET/HEAD /images/VERSION/FILE: an image's signed manifest (ETag, `?chunks=1` with its
 * per-MiB sha256 list) or one of its files, ranged, through the chunk broker (which may
 * send an asker to the peers that already hold a chunk), counted in the metrics and,
 * with auditImages, in the audit log.
 */
import { createHash } from 'node:crypto'
import { HttpError, sendJson, type Exchange, type Router } from '../agent/http/index.js'
import { routes } from '../agent/protocol/enroll/index.js'
import { ShoalError } from '../agent/protocol/errors.js'
import type { Logger } from '../agent/protocol/ports.js'
import { admitChunk, type ChunkBroker } from './chunk-broker.js'
import type { ClusterState } from './cluster-state.js'
import type { CoordinatorConfig } from './coordinator-config.js'
import type { CoordinatorMetrics } from './coordinator-metrics.js'
import type { ImageStore } from './image-store.js'
import { serveFile, statFile } from './static-file.js'

export interface ImageContext {
  images: ImageStore
  broker: ChunkBroker
  config: Pick<CoordinatorConfig, 'fileChunkBytes' | 'auditImages'>
  metrics: CoordinatorMetrics
  /** Undefined while the coordinator closes (the audit line is then skipped). */
  state: ClusterState | undefined
  log: Logger
}

/** Adds /images/* to the coordinator's router. */
export function addImageRoutes(router: Router<Exchange>, context: () => ImageContext): void {
  router.on(['GET', 'HEAD'], `${routes.images}/*`, ({ req, res, url, method }) => serveImage(context(), { req, res, url, method }))
}

async function serveImage(c: ImageContext, { req, res, url, method }: Exchange): Promise<void> {
  const path = url.pathname
  const parts = path.slice(routes.images.length + 1).split('/')
  if (parts.length !== 2) throw new HttpError(404, 'not-found', `expected ${routes.images}/VERSION/FILE, got ${path}`)
  const [version, file] = parts.map((p) => safeDecode(p)) as [string, string]
  if (file === routes.manifestFile) {
    let manifest
    try {
      manifest = await c.images.manifest(version, { chunks: url.searchParams.get('chunks') === '1' })
    } catch (err) {
      if (err instanceof ShoalError && err.code === 'not-found') throw new HttpError(404, 'not-found', err.message)
      throw new HttpError(503, 'image-unavailable', (err as Error).message)
    }
    const text = JSON.stringify(manifest)
    const etag = `"${createHash('sha256').update(text).digest('hex').slice(0, 32)}"`
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ETag: etag })
      return void res.end()
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ETag: etag, 'Cache-Control': 'no-cache' })
    return void res.end(method === 'HEAD' ? undefined : text)
  }
  const filePath = await c.images.servablePath(version, file)
  const st = filePath ? await statFile(filePath) : undefined
  if (!filePath || !st) throw new HttpError(404, 'not-found', `no file ${file} in image version ${version}`)
  const brokered = await admitChunk(c.broker, req, version, file, st.size)
  if (brokered && 'refused' in brokered) return sendJson(res, 429, brokered.refused.body, brokered.refused.headers)
  const result = await serveFile(req, res, filePath, st, { chunkBytes: c.config.fileChunkBytes }).finally(() => brokered?.release())
  c.metrics.imageResponses.inc({ status: String(result.status), aborted: result.aborted ? 'true' : 'false' })
  if (!result.aborted) c.metrics.imageBytes.inc(result.bytes)
  if (c.config.auditImages && method === 'GET' && (result.status === 200 || result.status === 206)) {
    await c.state
      ?.audit({ kind: 'image', image: version, remote: req.socket.remoteAddress, detail: { file, status: result.status, bytes: result.bytes, ...(result.range ? { range: result.range } : {}), ...(result.aborted ? { aborted: true } : {}) } })
      .catch((err) => c.log.warn({ component: 'audit', err: (err as Error).message }, 'audit write failed'))
  }
}

/** A path part as written, or a NUL (never a file name) when it does not decode. */
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return '\0'
  }
}
