/**
 * What the code-cache loader (layers/code-cache.ts) did with the agent's V8 code cache. The
 * loader runs before the agent and has no logger, so it leaves its answer here and the
 * agent logs it once: `accepted` (compilation mostly skipped), `rejected` (V8 refused it:
 * another node version or other V8 flags than at build time; the agent compiled as usual),
 * `absent` (no cache file). Undefined when no loader started the agent (tsx, an ESM bundle).
 */
export const CODE_CACHE_STATUS = 'shoal.codeCache'

export type CodeCacheStatus = 'accepted' | 'rejected' | 'absent'

export function codeCacheStatus(): CodeCacheStatus | undefined {
  const v = (globalThis as Record<symbol, unknown>)[Symbol.for(CODE_CACHE_STATUS)]
  return v === 'accepted' || v === 'rejected' || v === 'absent' ? v : undefined
}

/** The same for each side bundle the loader compiled so far (layers/code-cache.ts sideBundles), by package. */
export function sideCodeCacheStatus(): Record<string, CodeCacheStatus> {
  return { ...((globalThis as Record<symbol, Record<string, CodeCacheStatus> | undefined>)[Symbol.for(`${CODE_CACHE_STATUS}.sides`)] ?? {}) }
}
