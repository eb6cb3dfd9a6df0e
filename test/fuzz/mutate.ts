/**
 * Structure-aware mutation for fast-check: from one valid sample (a real message, a real
 * Ceph answer, a real config), values that differ from it in one place — a field replaced
 * by something odd, a field removed, a field added, a byte flipped in its encoding. Most
 * bugs hide one step away from valid input, where random bytes rarely land.
 */
import fc from 'fast-check'

type Path = (string | number)[]

/** Every path into `v` (containers included), root first. */
export function pathsOf(v: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix)
  if (v instanceof Uint8Array) return out
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...prefix, i], out))
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) pathsOf(x, [...prefix, k], out)
  return out
}

function clone<T>(v: T): T {
  return structuredClone(v)
}

function setAt(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value
  const r = clone(root)
  let o = r as Record<string | number, unknown>
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>
  o[path[path.length - 1]!] = value
  return r
}

function deleteAt(root: unknown, path: Path): unknown {
  if (path.length === 0) return undefined
  const r = clone(root)
  let o = r as Record<string | number, unknown>
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>
  const last = path[path.length - 1]!
  if (Array.isArray(o)) o.splice(Number(last), 1)
  else delete o[last]
  return r
}

function addAt(root: unknown, path: Path, key: string, value: unknown): unknown {
  const r = clone(root)
  let o = r as Record<string | number, unknown>
  for (const k of path) o = o[k] as Record<string | number, unknown>
  if (Array.isArray(o)) o.push(value)
  else if (o && typeof o === 'object' && !(o instanceof Uint8Array)) o[key] = value
  return r
}

/** Values that break assumptions: wrong types, edges of numbers, huge and empty things. */
export const odd: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, undefined, true, false, 0, -1, -0, 1.5, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), Number.NaN, Infinity, -Infinity, '', ' ', '\u0000', '__proto__', 'constructor', 'x'.repeat(5000), [], {}, [[]], { __proto__: null }),
  fc.string({ maxLength: 80 }),
  fc.integer(),
  fc.double(),
  fc.uint8Array({ maxLength: 80 }),
  fc.anything({ maxDepth: 2 }),
)

/** One-step mutations of `seed` (and `seed` itself now and then). */
export function mutationsOf(seed: unknown): fc.Arbitrary<unknown> {
  const paths = pathsOf(seed)
  const at = fc.constantFrom(...paths)
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(seed).map(clone) },
    { weight: 6, arbitrary: fc.tuple(at, odd).map(([p, v]) => setAt(seed, p, v)) },
    { weight: 2, arbitrary: at.map((p) => deleteAt(seed, p)) },
    { weight: 2, arbitrary: fc.tuple(at, fc.string({ maxLength: 12 }), odd).map(([p, k, v]) => addAt(seed, p, k, v)) },
  )
}

/** Several valid samples, each mutated. */
export function mutationsOfAny(seeds: readonly unknown[]): fc.Arbitrary<unknown> {
  return fc.oneof(...seeds.map((s) => mutationsOf(s)))
}

/** Bytes of `seed` with up to 4 bytes changed, cut short, or grown. */
export function byteMutationsOf(seed: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.array(fc.tuple(fc.nat({ max: Math.max(0, seed.length - 1) }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }).map((flips) => {
      const b = Uint8Array.from(seed)
      for (const [i, v] of flips) if (i < b.length) b[i] = v
      return b
    }),
    fc.nat({ max: seed.length }).map((n) => seed.subarray(0, n)),
    fc.uint8Array({ maxLength: 64 }).map((tail) => Uint8Array.from([...seed, ...tail])),
  )
}

/** JSON text of a mutated sample, or the sample's text with a few characters changed. */
export function textMutationsOf(seed: unknown): fc.Arbitrary<string> {
  const text = JSON.stringify(seed)
  return fc.oneof(
    mutationsOf(seed).map((v) => JSON.stringify(v) ?? 'undefined'),
    fc.array(fc.tuple(fc.nat({ max: Math.max(0, text.length - 1) }), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' })), { minLength: 1, maxLength: 3 }).map((edits) => {
      let t = text
      for (const [i, c] of edits) t = t.slice(0, i) + c + t.slice(i + 1)
      return t
    }),
    fc.nat({ max: text.length }).map((n) => text.slice(0, n)),
  )
}
