/**
 * A small client for the agent API (undici), used by the CLI, the demo, tests and the
 * benchmark. Failures become ShoalErrors whose message says what to do: `unreachable`
 * when nothing answers, `not-found` / `bad-request` / `agent-error` for answers.
 */
import { Agent, request } from 'undici'
import type { z } from 'zod'
import { ShoalError } from '../protocol/errors.js'
import { checkLineLength, readCapped } from './read-capped.js'
import { ClusterSummarySchema, NodeDetailSchema, SelfSchema, WatchLineSchema } from './api-schemas.js'
import type { ClusterSummary, NodeDetail } from './node-summary.js'

export const DEFAULT_AGENT = '127.0.0.1:7400'
/** Largest answer read (a 10,000-node cluster summary is a few MB). */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024
/** Largest watch line (a snapshot of a 10,000-node cluster is a few MB). */
export const MAX_WATCH_LINE_BYTES = 16 * 1024 * 1024

/** One line of GET /v1/watch. */
export type WatchLine =
  | ({ type: 'snapshot'; at: string } & ClusterSummary)
  | { type: 'member'; at: string; id: string; status: 'alive' | 'suspect' | 'dead'; previous: string | null; node: ClusterSummary['nodes'][number] | null }
  | { type: 'record'; at: string; id: string; changed: string[]; node: ClusterSummary['nodes'][number] | null }
  | { type: 'dropped'; at: string; from: string; reason: string; detail: string }
  | { type: 'heartbeat'; at: string }

export function checkAgentAddress(value: string): string {
  const m = /^([^\s:/]+):(\d{1,5})$/.exec(value)
  if (!m || !(Number(m[2]) > 0 && Number(m[2]) < 65536)) {
    throw new ShoalError('usage', `--agent must be HOST:PORT (for example 127.0.0.1:7400), not "${value}"`)
  }
  return value
}

export class AgentClient {
  private readonly dispatcher: Agent
  constructor(
    readonly address: string,
    private readonly timeoutMs = 5000,
  ) {
    checkAgentAddress(address)
    this.dispatcher = new Agent({ connectTimeout: timeoutMs, keepAliveTimeout: 1000 })
  }

  async cluster(): Promise<ClusterSummary> {
    return this.checked(ClusterSummarySchema, await this.get('/v1/cluster'), '/v1/cluster') as ClusterSummary
  }

  async node(id: string): Promise<NodeDetail> {
    const path = `/v1/nodes/${encodeURIComponent(id)}`
    return this.checked(NodeDetailSchema, await this.get(path), path) as NodeDetail
  }

  async self(): Promise<z.infer<typeof SelfSchema> & { counters: Record<string, unknown> }> {
    return this.checked(SelfSchema, await this.get('/v1/self'), '/v1/self') as z.infer<typeof SelfSchema> & { counters: Record<string, unknown> }
  }

  /** The answer if it has the documented shape; else ONE error naming the field and the fix. */
  private checked<S extends z.ZodType>(schema: S, raw: unknown, path: string): z.infer<S> {
    const r = schema.safeParse(raw)
    if (r.success) return r.data
    const i = r.error.issues[0]
    const at = i?.path.length ? i.path.map(String).join('.') : '(top)'
    throw new ShoalError('bad-answer', `the agent at ${this.address} answered ${path} with something this client does not understand (field ${at}: ${i?.message ?? 'unexpected shape'}); compare versions with: shoal version --agent ${this.address}`)
  }

  inventory(id: string): Promise<unknown> {
    return this.get(`/v1/nodes/${encodeURIComponent(id)}/inventory`)
  }

  /** Known fingerprints of the whole cluster (GET /v1/fingerprints), unparsed: agent/fingerprint's parseMeshFingerprints checks it. */
  fingerprints(): Promise<unknown> {
    return this.get('/v1/fingerprints')
  }

  /**
   * Streams /v1/watch, calling `onLine` per line, until the agent ends the stream, the
   * signal aborts (resolves), or the link breaks (rejects with `unreachable`).
   */
  async watch(onLine: (line: WatchLine) => void, signal?: AbortSignal): Promise<void> {
    let res
    try {
      res = await request(`http://${this.address}/v1/watch`, { dispatcher: this.dispatcher, signal, headersTimeout: this.timeoutMs, bodyTimeout: 0 })
    } catch (err) {
      if (signal?.aborted) return
      throw this.unreachable(err)
    }
    if (res.statusCode !== 200) throw await this.answerError(res.statusCode, res.body)
    // The line being received, in parts: newlines are looked for in each arriving chunk only,
    // so a long line costs one pass (searching a growing string would copy it per chunk).
    let parts: Buffer[] = []
    let pending = 0
    try {
      for await (const chunk of res.body) {
        let rest: Buffer = chunk
        let nl: number
        while ((nl = rest.indexOf(0x0a)) >= 0) {
          const text = Buffer.concat([...parts, rest.subarray(0, nl)]).toString('utf8')
          parts = []
          pending = 0
          rest = rest.subarray(nl + 1)
          if (!text.trim()) continue
          let json: unknown
          try {
            json = JSON.parse(text)
          } catch {
            continue // not JSON: skip the line, keep watching
          }
          // A line of a shape this client does not know (a newer agent's type): skip it.
          if (WatchLineSchema.safeParse(json).success) onLine(json as WatchLine)
        }
        if (rest.length) {
          parts.push(rest)
          pending += rest.length
        }
        checkLineLength(pending, MAX_WATCH_LINE_BYTES, `the agent at ${this.address}`)
      }
    } catch (err) {
      if (signal?.aborted) return
      if (err instanceof ShoalError) {
        if (err.code === 'too-large') res.body.destroy()
        throw err
      }
      throw new ShoalError('unreachable', `lost the watch stream from the agent at ${this.address}: ${(err as Error).message}`, { cause: err })
    }
    if (!signal?.aborted) throw new ShoalError('unreachable', `the agent at ${this.address} ended the watch stream (did it stop?)`)
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => {})
  }

  /** One answer, bounded: MAX_ANSWER_BYTES, and twice timeoutMs for headers and body together. */
  private async get(path: string): Promise<unknown> {
    const signal = AbortSignal.timeout(this.timeoutMs * 2)
    let res
    try {
      res = await request(`http://${this.address}${path}`, { dispatcher: this.dispatcher, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, signal })
    } catch (err) {
      throw this.unreachable(err)
    }
    if (res.statusCode !== 200) throw await this.answerError(res.statusCode, res.body)
    let text: string
    try {
      text = (await readCapped(res.body, MAX_ANSWER_BYTES, `the answer of the agent at ${this.address}`)).toString('utf8')
    } catch (err) {
      if (err instanceof ShoalError) throw new ShoalError('agent-error', `${err.message} (is that port really a shoal agent?)`)
      if (signal.aborted) throw new ShoalError('unreachable', `the agent at ${this.address} did not finish its answer within ${this.timeoutMs * 2} ms`, { cause: err })
      throw this.unreachable(err)
    }
    try {
      return JSON.parse(text) as unknown
    } catch (err) {
      throw new ShoalError('agent-error', `the agent at ${this.address} sent a body that is not JSON (is that port really a shoal agent?)`, { cause: err })
    }
  }

  private unreachable(err: unknown): ShoalError {
    const e = err as { code?: string; message?: string }
    return new ShoalError('unreachable', `cannot reach the agent at ${this.address} (${e.code ?? e.message ?? 'error'}); is it running? pass --agent HOST:PORT of a live agent`, { cause: err })
  }

  private async answerError(status: number, body: AsyncIterable<Uint8Array>): Promise<ShoalError> {
    let message = `HTTP ${status}`
    try {
      const parsed = JSON.parse((await readCapped(body as unknown as AsyncIterable<Uint8Array>, 64 * 1024, 'an error answer')).toString('utf8')) as { error?: { message?: string } }
      if (parsed?.error?.message) message = parsed.error.message
    } catch {
      // not our JSON error body: keep the status line
    }
    const code = status === 404 ? 'not-found' : status >= 400 && status < 500 ? 'bad-request' : 'agent-error'
    return new ShoalError(code, message)
  }
}
