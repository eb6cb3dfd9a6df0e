/**
 * Parsing untrusted command/HTTP output at the edge: JSON, then a zod schema. Failures are
 * ShoalError('bad-output') whose message names the command and the first offending field,
 * so an operator sees "ceph osd dump: osds[0].up: expected number" instead of a stack trace.
 */
import type { z } from 'zod'
import { ShoalError } from '../protocol/errors.js'

/** "osds[0].up" from a zod issue path. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`
    else out += out ? `.${String(p)}` : String(p)
  }
  return out || '(top level)'
}

export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  const issue = r.error.issues[0]!
  throw new ShoalError(
    'bad-output',
    `${what}: unexpected output at field ${fieldPath(issue.path)}: ${issue.message} ` +
      `(is this a supported version? shoal expects the shapes of Ceph 16+ / Kubernetes v1)`,
  )
}

export function parseJsonWith<S extends z.ZodType>(schema: S, text: string, what: string): z.infer<S> {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    const head = text.trim().slice(0, 80)
    throw new ShoalError('bad-output', `${what}: output is not JSON (${(err as Error).message}); it began with: ${JSON.stringify(head)}`)
  }
  return parseWith(schema, raw, what)
}
