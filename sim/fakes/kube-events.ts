/**
 * core/v1 Events: create (validated like the API server's ValidateEvent: 422 Invalid),
 * list with the involvedObject field selectors `kubectl describe node` sends, and the
 * Table `kubectl get events` prints.
 */
import { randomUUID } from 'node:crypto'
import { parseSelectorString } from '../../agent/health/label-selector.js'
import type { Obj } from './kube-types.js'
import { age, list, status, table } from './kube-shapes.js'

/** What creating an Event needs of the server: its Events, fresh metadata, its emitter. */
export interface EventStore {
  events: Map<string, Obj>
  meta(name: string, namespace: string | undefined, labels: Record<string, string>): Obj
  emit(event: string, arg: unknown): boolean
}

/** POST an Event: the checks of the API server's ValidateEvent that a recorder can trip. */
export function createEvent(ctx: EventStore, ns: string, body: string): [number, unknown] {
  let e: Obj
  try {
    e = JSON.parse(body || '{}')
  } catch {
    throw Object.assign(new Error('Event body is not JSON'), { status: 400, reason: 'BadRequest' })
  }
  const problems: string[] = []
  if (e.kind !== 'Event' || e.apiVersion !== 'v1') problems.push('kind/apiVersion: must be v1 Event')
  const name = e.metadata?.name ?? (e.metadata?.generateName ? `${e.metadata.generateName}${randomUUID().slice(0, 5)}` : undefined)
  if (!name) problems.push('metadata.name: Required value: name or generateName is required')
  if (e.metadata?.namespace !== undefined && e.metadata.namespace !== ns) problems.push(`metadata.namespace: Invalid value: "${e.metadata.namespace}": does not match the namespace of the request`)
  const io = e.involvedObject ?? {}
  if (!io.kind || !io.name) problems.push('involvedObject: Required value: kind and name')
  if (io.namespace && io.namespace !== ns) problems.push(`involvedObject.namespace: Invalid value: "${io.namespace}": does not match event.namespace`)
  if (e.type !== undefined && e.type !== 'Normal' && e.type !== 'Warning') problems.push(`type: Unsupported value: "${e.type}": supported values: "Normal", "Warning"`)
  if (typeof e.reason === 'string' && e.reason.length > 128) problems.push('reason: Too long: may not be more than 128 bytes')
  if (typeof e.message === 'string' && e.message.length > 4096) problems.push('message: Too long: may not be more than 4096 bytes')
  if (problems.length) {
    const err = status(422, 'Invalid', `Event "${name ?? ''}" is invalid: ${problems.join(', ')}`)
    return [422, err]
  }
  const key = `${ns}/${name}`
  if (ctx.events.has(key)) return [409, status(409, 'AlreadyExists', `events "${name}" already exists`)]
  const stored: Obj = { ...e, metadata: { ...ctx.meta(name!, ns, e.metadata?.labels ?? {}), ...(e.metadata?.annotations ? { annotations: e.metadata.annotations } : {}) } }
  delete stored.metadata.labels
  stored.count ??= 1
  stored.firstTimestamp ??= stored.metadata.creationTimestamp
  stored.lastTimestamp ??= stored.firstTimestamp
  ctx.events.set(key, stored)
  ctx.emit('event', stored)
  return [201, stored]
}

export function listEvents(events: Map<string, Obj>, rv: number, ns: string | undefined, q: URLSearchParams, accept: string): [number, unknown] {
  let items = [...events.values()].filter((e) => !ns || e.metadata.namespace === ns)
  for (const t of parseSelectorString(q.get('fieldSelector'))) {
    const get = (e: Obj): string => {
      const [a, b] = t.key.split('.')
      if (a === 'involvedObject' && b) return String(e.involvedObject?.[b] ?? '')
      if (a === 'metadata' && b) return String(e.metadata?.[b] ?? '')
      return String(e[t.key] ?? '')
    }
    items = items.filter((e) => (get(e) === t.value) === (t.op === '='))
  }
  items.sort((a, b) => String(a.lastTimestamp).localeCompare(String(b.lastTimestamp)))
  if (accept.includes('as=Table')) return [200, eventTable(items, rv)]
  return [200, list('EventList', 'v1', items, rv)]
}

export function eventTable(items: Obj[], rv: number): Obj {
  return table(
    [['Last Seen', 'string', ''], ['Type', 'string', ''], ['Reason', 'string', ''], ['Object', 'string', ''], ['Message', 'string', '']],
    items.map((e) => ({ cells: [age(e.lastTimestamp ?? e.metadata.creationTimestamp), e.type ?? 'Normal', e.reason ?? '', `${String(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`, e.message ?? ''], obj: e })),
    rv,
  )
}
