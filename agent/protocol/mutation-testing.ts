/**
 * Test helpers for the receive path's hand-written checks (message-check.ts,
 * record-check.ts): seeded mutations of valid values — a field set to a value at or past a
 * bound, deleted, or a new field added — so a property test can hold a check to its zod
 * schema. Tests only.
 */
import fc from 'fast-check'

/** Byte fields compare as byte arrays (zod may hand back the same Buffer, a copy, or msgpack's Buffer). */
export const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x) => (x instanceof Uint8Array || x?.type === 'Buffer' ? { bytes: [...(x.data ?? x)] } : x)))

/** Values at and past every bound the schemas draw, and every wrong type. */
export const soup = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<unknown>(
    undefined, null, true, false, 0, -1, 1.5, 255, 256, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, NaN, Infinity, -Infinity,
    '', 'a', 'a b', 'node-a', 'x'.repeat(32), 'x'.repeat(33), 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(160), 'x'.repeat(161),
    'suspect', 'dead', 'alive', 'rec', 'claim', 'app', 'other',
    new Uint8Array(0), Buffer.from([1, 2]), [], {}, [1, 2], ['a', 1, 2, 0, 1], ['a', 1, 2, 0], ['a', 1, 2, 0, NaN], ['bad id', 1, 2, 0, 1],
    Array.from({ length: 513 }, () => 'r:a:1:1'), Array.from({ length: 4097 }, () => 1),
  ) },
  { weight: 1, arbitrary: fc.anything() },
)

/** Every path into a value (object keys and array indices), so a mutation can land anywhere. */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = []
  if (v instanceof Uint8Array) return out
  if (Array.isArray(v)) v.forEach((x, i) => out.push([...prefix, i], ...paths(x, [...prefix, i])))
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) out.push([...prefix, k], ...paths(x, [...prefix, k]))
  return out
}

export function mutate(msg: Record<string, unknown>, edits: [number, unknown, 'set' | 'delete' | 'add'][]): Record<string, unknown> {
  const copy = structuredClone(msg)
  for (const [at, shared, how] of edits) {
    // The soup's constants are shared between runs: insert a copy, never the constant itself.
    const value = shared instanceof Uint8Array ? new Uint8Array(shared) : structuredClone(shared)
    const ps = paths(copy).filter((p) => p.length === 0 || p[0] !== 'v')
    const p = ps[at % Math.max(1, ps.length)]
    if (!p) continue
    let parent: any = copy
    for (const k of p.slice(0, -1)) parent = parent[k]
    const last = p[p.length - 1]!
    if (p[0] === 't' && how !== 'add') continue // the caller dispatches on t: a wrong t is another message
    if (how === 'delete') Array.isArray(parent) ? parent.splice(Number(last), 1) : delete parent[last]
    else if (how === 'add' && typeof parent === 'object' && !Array.isArray(parent)) parent[`new${String(last)}`] = value
    else parent[last] = value
  }
  return copy
}

