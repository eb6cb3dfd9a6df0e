/**
 * A small client for the agent API (undici), used by the CLI, the demo, tests and the
 * benchmark. Failures become ShoalErrors whose message says what to do: `unreachable`
 * when nothing answers, `not-found` / `bad-request` / `agent-error` for answers.
 */
import { Agent, request } from 'undici'
import { ShoalError } from '../protocol/errors.js'
import type { ClusterSummary, NodeDetail } from './node-summary.js'

export const DEFAULT_AGENT = '127.0.0.1:7400'

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

  cluster(): Promise<ClusterSummary> {
    return this.get('/v1/cluster') as Promise<ClusterSummary>
  }

  node(id: string): Promise<NodeDetail> {
    return this.get(`/v1/nodes/${encodeURIComponent(id)}`) as Promise<NodeDetail>
  }

  self(): Promise<Record<string, unknown> & { id: string; counters: Record<string, unknown> }> {
    return this.get('/v1/self') as Promise<Record<string, unknown> & { id: string; counters: Record<string, unknown> }>
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
    let buf = ''
    try {
      for await (const chunk of res.body) {
        buf += chunk.toString()
        let nl: number
        while ((nl = buf.indexOf('\n')) >= 0) {
          const text = buf.slice(0, nl)
          buf = buf.slice(nl + 1)
          if (!text.trim()) continue
          try {
            onLine(JSON.parse(text) as WatchLine)
          } catch (err) {
            if (err instanceof SyntaxError) continue // not JSON: skip the line, keep watching
            throw err
          }
        }
      }
    } catch (err) {
      if (signal?.aborted) return
      if (err instanceof ShoalError) throw err
      throw new ShoalError('unreachable', `lost the watch stream from the agent at ${this.address}: ${(err as Error).message}`, { cause: err })
    }
    if (!signal?.aborted) throw new ShoalError('unreachable', `the agent at ${this.address} ended the watch stream (did it stop?)`)
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => {})
  }

  private async get(path: string): Promise<unknown> {
    let res
    try {
      res = await request(`http://${this.address}${path}`, { dispatcher: this.dispatcher, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs })
    } catch (err) {
      throw this.unreachable(err)
    }
    if (res.statusCode !== 200) throw await this.answerError(res.statusCode, res.body)
    try {
      return await res.body.json()
    } catch (err) {
      throw new ShoalError('agent-error', `the agent at ${this.address} sent a body that is not JSON (is that port really a shoal agent?)`, { cause: err })
    }
  }

  private unreachable(err: unknown): ShoalError {
    const e = err as { code?: string; message?: string }
    return new ShoalError('unreachable', `cannot reach the agent at ${this.address} (${e.code ?? e.message ?? 'error'}); is it running? pass --agent HOST:PORT of a live agent`, { cause: err })
  }

  private async answerError(status: number, body: { text(): Promise<string> }): Promise<ShoalError> {
    let message = `HTTP ${status}`
    try {
      const parsed = JSON.parse(await body.text()) as { error?: { message?: string } }
      if (parsed?.error?.message) message = parsed.error.message
    } catch {
      // not our JSON error body: keep the status line
    }
    const code = status === 404 ? 'not-found' : status >= 400 && status < 500 ? 'bad-request' : 'agent-error'
    return new ShoalError(code, message)
  }
}
