/**
 * KubeletProbe: GET the kubelet's /healthz (127.0.0.1:10248 by default, plain HTTP, no auth:
 * the kubelet's local health port). Healthy means 200 with body "ok".
 */
import { ShoalError } from '../protocol/errors.js'
import type { Probe } from '../protocol/ports.js'
import type { KubeletView } from './observation.js'

export interface KubeletProbeOptions {
  /** Full URL of the health endpoint; default http://127.0.0.1:10248/healthz (kubelet healthzPort). */
  url?: string
  /** The kubelet answers in milliseconds; 2 s means it is wedged. */
  timeoutMs?: number
}

export class KubeletProbe implements Probe<KubeletView> {
  readonly name = 'kubelet'
  readonly url: string
  private readonly timeoutMs: number

  constructor(options: KubeletProbeOptions = {}) {
    this.url = options.url ?? 'http://127.0.0.1:10248/healthz'
    this.timeoutMs = options.timeoutMs ?? 2000
  }

  /** Resolves healthy/unhealthy for any HTTP answer; throws (-> unknown) when nothing answers. */
  async run(): Promise<KubeletView> {
    try {
      // undici at the first probe, not at start: a mesh-only agent never loads it (~9 MB RSS).
      const { request } = await import('undici')
      const res = await request(this.url, { signal: AbortSignal.timeout(this.timeoutMs), headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs })
      const text = (await res.body.text()).slice(0, 200)
      const first = text.split('\n')[0]!.trim()
      const healthy = res.statusCode === 200 && first === 'ok'
      return { healthy, detail: healthy ? 'ok' : `HTTP ${res.statusCode}${first ? `: ${first}` : ''}` }
    } catch (err) {
      const e = err as Error & { code?: string }
      const why = e.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : `${e.code ?? e.name}: ${e.message}`
      throw new ShoalError('kubelet-unreachable', `kubelet ${this.url}: ${why}; is the kubelet running on this node?`, { cause: err })
    }
  }
}
