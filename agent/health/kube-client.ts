/**
 * KubeClient: the few Kubernetes API calls the health gates and the drain need, over undici.
 *
 * Every request has its own timeout; 5xx answers, 429 throttling (except on evictions,
 * where 429 means "a PodDisruptionBudget says not now" and the drain decides), timeouts
 * and connection errors are retried with exponential backoff. Answers are parsed with zod.
 */
// undici is loaded at the first call (~9 MB of RSS that a mesh-only agent never needs).
import type { Agent } from 'undici'
import type { z } from 'zod'
import { ShoalError } from '../protocol/errors.js'
import { defaultBackoff, realRetryEnv, retryDelay, type BackoffPolicy, type RetryEnv } from './retry-policy.js'
import type { KubeConnection } from './kube-config.js'
import { KubeNode, KubePdb, KubePod, KubeStatus, listOf } from './kube-schemas.js'
import type { KubeNodeView, PodRef } from './observation.js'
import { parseJsonWith } from './parse-output.js'

export interface KubeClientOptions {
  /** Per request; 5 s is generous for a LAN API server and short enough for a 5 s probe cycle. */
  timeoutMs?: number
  retry?: BackoffPolicy
  env?: RetryEnv
}

export type EvictOutcome = { kind: 'evicted' } | { kind: 'gone' } | { kind: 'denied'; reason: string }

const maxBodyBytes = 16 << 20

export class KubeClient {
  readonly server: string
  private agent: Promise<Agent> | undefined
  private readonly agentOptions: Agent.Options
  private readonly headers: Record<string, string>
  private readonly timeoutMs: number
  private readonly retry: BackoffPolicy
  readonly env: RetryEnv

  constructor(conn: KubeConnection, options: KubeClientOptions = {}) {
    let u: URL
    try {
      u = new URL(conn.server)
    } catch {
      throw new ShoalError('usage', `Kubernetes server "${conn.server}" is not a URL`)
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ShoalError('usage', `Kubernetes server must be https:// (or http:// for tests), not ${u.protocol}`)
    this.server = conn.server.replace(/\/+$/, '')
    this.timeoutMs = options.timeoutMs ?? 5000
    this.retry = options.retry ?? defaultBackoff
    this.env = options.env ?? realRetryEnv
    this.agentOptions = {
      connect: { ca: conn.ca, cert: conn.cert, key: conn.key, rejectUnauthorized: !conn.insecureSkipTlsVerify, timeout: this.timeoutMs },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      keepAliveTimeout: 30_000,
    }
    this.headers = { accept: 'application/json', 'user-agent': 'shoal-agent' }
    if (conn.token) this.headers.authorization = `Bearer ${conn.token}`
  }

  async close(): Promise<void> {
    const agent = this.agent
    this.agent = undefined
    if (agent) await (await agent).close()
  }

  private dispatcher(): Promise<Agent> {
    this.agent ??= import('undici').then(({ Agent }) => new Agent(this.agentOptions))
    return this.agent
  }

  /**
   * One API call with retries. Resolves with the status and parsed body for 2xx and for the
   * statuses in `pass`; throws ShoalError for the rest (after retries for transient ones).
   */
  async call<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    opts: { body?: unknown; contentType?: string; pass?: number[] } = {},
  ): Promise<{ status: number; body: z.infer<S> | undefined; status_?: KubeStatus }> {
    const what = `Kubernetes API ${method} ${path}`
    let last = ''
    for (let attempt = 1; ; attempt++) {
      let status = 0
      let text = ''
      try {
        const [{ request }, dispatcher] = await Promise.all([import('undici'), this.dispatcher()])
        const res = await request(this.server + path, {
          method: method as 'GET',
          dispatcher,
          headers: opts.body === undefined ? this.headers : { ...this.headers, 'content-type': opts.contentType ?? 'application/json' },
          body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
          signal: AbortSignal.timeout(this.timeoutMs),
        })
        status = res.statusCode
        text = await readCapped(res.body, maxBodyBytes)
      } catch (err) {
        if (err instanceof ShoalError) throw err
        const e = err as Error & { code?: string }
        last = e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT'
          ? `no answer within ${this.timeoutMs} ms`
          : `${e.code ?? e.name}: ${e.message}`
        if (e.code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || e.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || e.code === 'ERR_TLS_CERT_ALTNAME_INVALID' || e.code === 'SELF_SIGNED_CERT_IN_CHAIN')
          throw new ShoalError('kube-tls', `${what}: TLS verification failed (${last}); check the kubeconfig's certificate-authority`, { cause: err })
        if (attempt >= this.retry.attempts)
          throw new ShoalError('kube-unreachable', `${what}: ${last} (after ${attempt} attempts); is the API server up and the kubeconfig's server right?`, { cause: err })
        await this.env.sleep(retryDelay(this.retry, attempt, this.env.random))
        continue
      }
      const okStatus = (status >= 200 && status < 300) || opts.pass?.includes(status)
      if (okStatus) {
        if (status >= 200 && status < 300 && !opts.pass?.includes(status)) return { status, body: parseJsonWith(schema, text, what) }
        return { status, body: undefined, status_: safeStatus(text) }
      }
      const st = safeStatus(text)
      const msg = st?.message ?? text.slice(0, 200)
      const transient = status >= 500 || status === 429
      if (transient && attempt < this.retry.attempts) {
        last = `HTTP ${status}: ${msg}`
        await this.env.sleep(retryDelay(this.retry, attempt, this.env.random))
        continue
      }
      if (status === 404) throw new ShoalError('kube-not-found', `${what}: ${msg}`)
      if (status === 401 || status === 403)
        throw new ShoalError('kube-denied', `${what}: HTTP ${status} ${msg}; check the token or client certificate and its RBAC (nodes: get/patch, pods: list, pods/eviction: create, poddisruptionbudgets: list)`)
      throw new ShoalError(transient ? 'kube-unavailable' : 'kube-error', `${what}: HTTP ${status}: ${msg}${transient ? ` (after ${attempt} attempts)` : ''}`)
    }
  }

  async getNode(name: string): Promise<KubeNode> {
    try {
      return (await this.call('GET', `/api/v1/nodes/${encodeURIComponent(name)}`, KubeNode)).body!
    } catch (err) {
      if ((err as ShoalError).code === 'kube-not-found')
        throw new ShoalError('kube-not-found', `node "${name}" not found in the Kubernetes API (NODE must be the Kubernetes node name)`)
      throw err
    }
  }

  async nodeView(name: string): Promise<KubeNodeView> {
    return toNodeView(await this.getNode(name))
  }

  /** Cordon (true) or uncordon (false), as `kubectl cordon` does: a merge patch of spec.unschedulable. */
  async setUnschedulable(name: string, unschedulable: boolean): Promise<void> {
    await this.call('PATCH', `/api/v1/nodes/${encodeURIComponent(name)}`, KubeNode, {
      body: { spec: { unschedulable: unschedulable ? true : null } },
      contentType: 'application/merge-patch+json',
    })
  }

  /** Every pod bound to the node, in all namespaces (paged). */
  async podsOnNode(name: string): Promise<KubePod[]> {
    const out: KubePod[] = []
    let cont = ''
    do {
      const q = new URLSearchParams({ fieldSelector: `spec.nodeName=${name}`, limit: '500' })
      if (cont) q.set('continue', cont)
      const r = (await this.call('GET', `/api/v1/pods?${q}`, listOf(KubePod))).body!
      out.push(...r.items)
      cont = r.metadata?.continue ?? ''
    } while (cont)
    return out
  }

  async podDisruptionBudgets(): Promise<KubePdb[]> {
    return (await this.call('GET', '/apis/policy/v1/poddisruptionbudgets', listOf(KubePdb))).body!.items
  }

  /** The pod's current uid, or undefined when it no longer exists. */
  async podUid(pod: PodRef): Promise<string | undefined> {
    const r = await this.call('GET', `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}`, KubePod, { pass: [404] })
    return r.status === 404 ? undefined : r.body?.metadata.uid ?? ''
  }

  /** One eviction attempt through the Eviction API (policy/v1). 429 -> denied with the PDB's reason. */
  async evict(pod: PodRef): Promise<EvictOutcome> {
    const r = await this.call(
      'POST',
      `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}/eviction`,
      KubeStatus,
      { body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.name, namespace: pod.namespace } }, pass: [404, 429] },
    )
    if (r.status === 404) return { kind: 'gone' }
    if (r.status === 429) {
      const cause = r.status_?.details?.causes?.find((c) => c.message)?.message
      return { kind: 'denied', reason: cause ?? r.status_?.message ?? 'eviction refused (429)' }
    }
    return { kind: 'evicted' }
  }
}

export function toNodeView(n: KubeNode): KubeNodeView {
  const conditions = (n.status?.conditions ?? []).map((c) => ({ ...c }))
  const ready = conditions.find((c) => c.type === 'Ready')?.status ?? 'Unknown'
  return { name: n.metadata.name, ready, unschedulable: n.spec?.unschedulable === true, conditions }
}

function safeStatus(text: string): KubeStatus | undefined {
  try {
    const r = KubeStatus.safeParse(JSON.parse(text))
    return r.success ? r.data : undefined
  } catch {
    return undefined
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy?: () => void }, cap: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of body) {
    size += c.length
    if (size > cap) {
      body.destroy?.()
      throw new ShoalError('bad-output', `Kubernetes API answer larger than ${cap} bytes; refusing it`)
    }
    chunks.push(c)
  }
  return Buffer.concat(chunks).toString('utf8')
}
