/** FNV-1a 32-bit: a fast, stable, non-cryptographic hash for buckets and digests. */
export function fnv1a(str: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}
