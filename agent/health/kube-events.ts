/**
 * KubeEventRecorder: what Kubernetes users see of a wave — core/v1 Events on this node
 * (`kubectl get events`, `kubectl describe node`) and shoal's labels and annotations on it
 * (`kubectl get nodes -L shoal.dev/wave-state`).
 *
 * Events are written like client-go's recorder: in namespace `default` (where node events
 * live), involvedObject = the Node with its uid, source.component `shoal-agent`; the same
 * reason and message again within 10 minutes bumps `count` and `lastTimestamp` of the
 * existing event instead of making a new one. Best effort: a failure is logged and counted,
 * never thrown — the wave must not stop because the event API is slow.
 */
import { z } from 'zod'
import { silentLogger, type Clock, type Logger } from '../protocol/ports.js'
import type { KubeClient } from './kube-client.js'

export const SHOAL_LABELS = {
  nodeId: 'shoal.dev/node-id',
  image: 'shoal.dev/image',
  waveState: 'shoal.dev/wave-state',
  wave: 'shoal.dev/wave',
} as const

const Meta = z.looseObject({ metadata: z.looseObject({ name: z.string().optional(), uid: z.string().optional() }) })
const SAME_EVENT_MS = 10 * 60_000
const NAMESPACE = 'default'

/** A label value Kubernetes accepts (≤ 63, alphanumeric at both ends, -_. inside), or undefined. */
export function labelValue(v: string | undefined): string | undefined {
  if (v === undefined) return undefined
  return v.length <= 63 && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v) ? v : undefined
}

export interface KubeEventRecorderOptions {
  kube: KubeClient
  /** The Kubernetes node name. */
  node: string
  clock: Clock
  logger?: Logger
  component?: string
}

export class KubeEventRecorder {
  /** Failed writes, by what (event, label). */
  readonly failures: Record<string, number> = {}
  private uid: string | undefined
  private last: { key: string; name: string; count: number; first: string; at: number } | undefined
  private chain: Promise<unknown> = Promise.resolve()
  private readonly log: Logger

  constructor(private readonly o: KubeEventRecorderOptions) {
    this.log = o.logger ?? silentLogger
  }

  /** Records one event on this node. Calls are serialized (so repeats aggregate); never rejects. */
  event(type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const run = this.chain.then(() => this.write(type, reason, message.slice(0, 1024)))
    this.chain = run.catch(() => {})
    return run.catch((err) => this.failed('event', err, { reason }))
  }

  /** Merges shoal's labels and annotations onto this node (null removes one). Never rejects. */
  async label(labels: Record<string, string | null>, annotations: Record<string, string | null>): Promise<void> {
    try {
      await this.o.kube.call('PATCH', `/api/v1/nodes/${encodeURIComponent(this.o.node)}`, Meta, { body: { metadata: { labels, annotations } }, contentType: 'application/merge-patch+json' })
    } catch (err) {
      this.failed('label', err, {})
    }
  }

  private async write(type: string, reason: string, message: string): Promise<void> {
    const now = this.o.clock.now()
    const ts = new Date(now).toISOString().replace(/\.\d+Z$/, 'Z')
    const key = `${type}|${reason}|${message}`
    const path = `/api/v1/namespaces/${NAMESPACE}/events`
    if (this.last && this.last.key === key && now - this.last.at < SAME_EVENT_MS) {
      this.last.count++
      this.last.at = now
      await this.o.kube.call('PATCH', `${path}/${this.last.name}`, Meta, { body: { count: this.last.count, lastTimestamp: ts }, contentType: 'application/merge-patch+json' })
      return
    }
    this.uid ??= (await this.o.kube.getNode(this.o.node)).metadata.uid ?? this.o.node
    const name = `${this.o.node}.${(now * 1000 + (this.seq++ % 1000)).toString(16)}`
    const component = this.o.component ?? 'shoal-agent'
    await this.o.kube.call('POST', path, Meta, {
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: NAMESPACE },
        involvedObject: { apiVersion: 'v1', kind: 'Node', name: this.o.node, uid: this.uid },
        reason,
        message,
        type,
        source: { component, host: this.o.node },
        reportingComponent: component,
        reportingInstance: this.o.node,
        firstTimestamp: ts,
        lastTimestamp: ts,
        count: 1,
      },
    })
    this.last = { key, name, count: 1, first: ts, at: now }
  }

  private seq = 0

  private failed(what: string, err: unknown, ctx: object): void {
    this.failures[what] = (this.failures[what] ?? 0) + 1
    this.log.warn({ component: 'kube-events', node: this.o.node, ...ctx, err: (err as Error).message }, `could not write the Kubernetes ${what}`)
  }
}
