/**
 * The boot agent's view of the coordinator (routes and schemas: coordinator/enroll-api.ts).
 * `CoordinatorApi` is the port; `HttpCoordinator` speaks HTTP with node's built-in fetch,
 * so the initramfs needs no HTTP library. Every answer is parsed with zod at this edge.
 * Failures are ShoalErrors: 'unreachable' (network, timeout, 5xx: retry), the coordinator's
 * own code for 4xx (e.g. 'token-used'), 'bad-answer' for a body that does not parse.
 */
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { get as httpGet, type IncomingMessage } from 'node:http'
import { get as httpsGet } from 'node:https'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { z } from 'zod'
import { ShoalError } from '../protocol/errors.js'
import { EnrollAnswer, ErrorBody, JoinTokenResponse, routes, type EnrollRequest } from '../../coordinator/enroll-api.js'

export interface DownloadResult {
  /** sha256 of exactly the bytes written to the file. */
  sha256: string
  size: number
}

export interface CoordinatorApi {
  enroll(req: EnrollRequest): Promise<EnrollAnswer>
  joinToken(mac: string): Promise<JoinTokenResponse>
  /** The current signed roster, unparsed (the caller verifies it). */
  roster(): Promise<unknown>
  /** The signed manifest of `version`, unparsed (the caller verifies it). */
  manifest(version: string): Promise<unknown>
  /** Streams /images/{version}/{file} to `dest`, hashing what it writes; stops past maxBytes. */
  download(version: string, file: string, dest: string, maxBytes: number): Promise<DownloadResult>
}

export class HttpCoordinator implements CoordinatorApi {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  async enroll(req: EnrollRequest): Promise<EnrollAnswer> {
    return this.json(routes.enroll, EnrollAnswer, { method: 'POST', body: JSON.stringify(req), headers: { 'content-type': 'application/json' } })
  }

  async joinToken(mac: string): Promise<JoinTokenResponse> {
    return this.json(`${routes.joinToken}?mac=${encodeURIComponent(mac)}`, JoinTokenResponse)
  }

  async roster(): Promise<unknown> {
    return this.json(routes.roster, z.unknown())
  }

  async manifest(version: string): Promise<unknown> {
    return this.json(`${routes.images}/${encodeURIComponent(version)}/${routes.manifestFile}`, z.unknown())
  }

  /**
   * node:http rather than fetch here: under TCG emulation every JavaScript step is costly,
   * and piping 64 KiB socket reads through a hash into a file is ~20x cheaper per byte
   * than fetch's web streams (31 MiB in a TCG guest on a loaded host: 12 s against 29 s).
   */
  async download(version: string, file: string, dest: string, maxBytes: number): Promise<DownloadResult> {
    const path = `${routes.images}/${encodeURIComponent(version)}/${encodeURIComponent(file)}`
    const url = new URL(`${this.baseUrl}${path}`)
    const hash = createHash('sha256')
    let size = 0
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsGet : httpGet)(url, { timeout: this.timeoutMs }, resolve)
      req.on('timeout', () => req.destroy(new Error('timed out')))
      req.on('error', reject)
    }).catch((err) => {
      throw new ShoalError('unreachable', `cannot reach the coordinator at ${this.baseUrl}: ${describe(err)}`, { cause: err })
    })
    if (res.statusCode !== 200) {
      const text = await readBody(res)
      throw this.failureOf(path, res.statusCode ?? 0, text)
    }
    res.setTimeout(this.timeoutMs, () => res.destroy(new Error('timed out')))
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length
        if (size > maxBytes) return cb(new ShoalError('layer-tampered', `${file} is larger than the ${maxBytes} bytes the signed manifest lists; not keeping it`))
        hash.update(chunk)
        cb(null, chunk)
      },
    })
    try {
      await pipeline(res, meter, createWriteStream(dest, { mode: 0o600 }))
    } catch (err) {
      await rm(dest, { force: true })
      if (err instanceof ShoalError) throw err
      throw new ShoalError('unreachable', `download of ${path} from ${this.baseUrl} broke off after ${size} bytes: ${describe(err)}`, { cause: err })
    }
    return { sha256: hash.digest('hex'), size }
  }

  private async json<T>(path: string, schema: z.ZodType<T>, init: RequestInit = {}): Promise<T> {
    const res = await this.request(path, { ...init, signal: AbortSignal.timeout(this.timeoutMs) })
    if (!res.ok && res.status !== 202) throw await this.failure(path, res)
    let body: unknown
    try {
      body = await res.json()
    } catch (err) {
      throw new ShoalError('bad-answer', `${this.baseUrl}${path} answered ${res.status} with a body that is not JSON`, { cause: err })
    }
    const parsed = schema.safeParse(body)
    if (!parsed.success) throw new ShoalError('bad-answer', `${this.baseUrl}${path} answered ${res.status} with an unexpected body: ${parsed.error.issues[0]?.message}`)
    return parsed.data
  }

  private async request(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, init)
    } catch (err) {
      throw new ShoalError('unreachable', `cannot reach the coordinator at ${this.baseUrl}: ${describe(err)}`, { cause: err })
    }
  }

  private async failure(path: string, res: Response): Promise<ShoalError> {
    return this.failureOf(path, res.status, await res.text().catch(() => ''))
  }

  private failureOf(path: string, status: number, text: string): ShoalError {
    let parsed: ErrorBody | undefined
    try {
      parsed = ErrorBody.parse(JSON.parse(text))
    } catch {
      parsed = undefined
    }
    const message = parsed?.error.message ?? text.slice(0, 200)
    if (status >= 500) return new ShoalError('unreachable', `coordinator ${path} failed with ${status}: ${message}`)
    return new ShoalError(parsed?.error.code ?? `http-${status}`, `coordinator refused ${path} (${status}): ${message}`)
  }
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } }
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out'
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err)
}

async function readBody(res: IncomingMessage): Promise<string> {
  let text = ''
  res.setEncoding('utf8')
  for await (const chunk of res) {
    if (text.length < 4096) text += chunk as string
  }
  return text
}
