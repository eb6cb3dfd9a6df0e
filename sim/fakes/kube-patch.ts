/** PATCH bodies: merge patch (RFC 7386), which also serves the strategic merge patches kubectl sends here. */
import type { Obj } from './kube-types.js'

export function parsePatch(body: string, contentType: string | undefined): Obj {
  const ct = String(contentType ?? '')
  if (!ct.includes('merge-patch+json')) throw Object.assign(new Error(`unsupported patch type ${ct}`), { status: 415, reason: 'UnsupportedMediaType' })
  try {
    return JSON.parse(body)
  } catch {
    throw Object.assign(new Error('patch body is not JSON'), { status: 400, reason: 'BadRequest' })
  }
}

/** RFC 7386 merge patch (strategic merge patch behaves the same for the fields kubectl patches here). */
export function applyMergePatch(target: Obj, patch: Obj): void {
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$setElementOrder' || k.startsWith('$')) continue
    if (v === null) delete target[k]
    else if (typeof v === 'object' && !Array.isArray(v)) {
      // RFC 7386: a patch object merges into the target's object, or into {} when there is
      // none (so its nulls delete rather than being stored as values).
      if (typeof target[k] !== 'object' || target[k] === null || Array.isArray(target[k])) target[k] = {}
      applyMergePatch(target[k], v as Obj)
    } else target[k] = v
  }
}
