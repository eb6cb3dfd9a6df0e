/**
 * The boot agent's view of the coordinator (routes and schemas: agent/protocol/enroll/enroll-api.ts).
 * `CoordinatorApi` is the port; `HttpCoordinator` speaks HTTP with node:http (JSON through
 * the one bounded client, agent/http/http-client.ts), so the boot does not pay for loading fetch's undici. Every answer is parsed with zod at this edge.
 * Failures are ShoalErrors: 'unreachable' (network, timeout, 5xx: retry), the coordinator's
 * own code for 4xx (e.g. 'token-used'), 'bad-answer' for a body that does not parse.
 */
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { get as httpGet, type IncomingMessage } from 'node:http'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { z } from 'zod'
import { ShoalError } from '../protocol/errors.js'
import { foreignCode } from '../protocol/error-codes.js'
import { httpExchange } from '../http/http-client.js'
import { EnrollAnswer, type EnrollRequest, ErrorBody, JoinTokenResponse, routes } from '../protocol/enroll/index.js'

/** Largest JSON answer accepted (a roster of ~10,000 members is a few MB). */
const MAX_JSON_BYTES = 64 * 1024 * 1024
/** What is read of an error answer. */
const ERROR_BODY_BYTES = 4096

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
    return this.json(routes.enroll, EnrollAnswer, { method: 'POST', body: JSON.stringify(req) })
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
      const req = (url.protocol === 'https:' ? process.getBuiltinModule('node:https').get : httpGet)(url, { timeout: this.timeoutMs }, resolve)
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

  /**
   * JSON calls go over node:http too: fetch loads undici on first use, which costs a TCG
   * guest seconds (150 ms on a loaded host against 45 ms for node:http).
   */
  private async json<T>(path: string, schema: z.ZodType<T>, init: { method?: 'GET' | 'POST'; body?: string } = {}): Promise<T> {
    const { status, text } = await this.request(path, init)
    if (status < 200 || (status >= 300 && status !== 202) || status === 204) throw this.failureOf(path, status, text)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch (err) {
      throw new ShoalError('bad-answer', `${this.baseUrl}${path} answered ${status} with a body that is not JSON`, { cause: err })
    }
    const parsed = schema.safeParse(body)
    if (!parsed.success) throw new ShoalError('bad-answer', `${this.baseUrl}${path} answered ${status} with an unexpected body: ${parsed.error.issues[0]?.message}`)
    return parsed.data
  }

  /** One request, the whole answer as text (capped at MAX_JSON_BYTES; an error answer at its first 4 KiB); the deadline covers all of it. */
  private async request(path: string, init: { method?: 'GET' | 'POST'; body?: string }): Promise<{ status: number; text: string }> {
    try {
      const res = await httpExchange(`${this.baseUrl}${path}`, { method: init.method ?? 'GET', ...(init.body !== undefined ? { json: init.body } : {}), timeoutMs: this.timeoutMs, maxBytes: MAX_JSON_BYTES, errorBodyBytes: ERROR_BODY_BYTES })
      return { status: res.status, text: res.body.toString('utf8') }
    } catch (err) {
      throw new ShoalError('unreachable', `cannot reach the coordinator at ${this.baseUrl}: ${(err as Error).message}`, { cause: err })
    }
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
    return new ShoalError(foreignCode(parsed?.error.code ?? `http-${status}`), `coordinator refused ${path} (${status}): ${message}`)
  }
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } }
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out'
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err)
}

/** The first 4 KiB of an error answer (all a message needs); the rest is not read: an endless error body costs nothing. */
async function readBody(res: IncomingMessage): Promise<string> {
  let text = ''
  res.setEncoding('utf8')
  for await (const chunk of res) {
    text += chunk as string
    if (text.length >= 4096) {
      res.destroy()
      break
    }
  }
  return text.slice(0, 4096)
}
