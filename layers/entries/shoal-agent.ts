/**
 * Entry of the worker's agent bundle (/usr/lib/shoal/shoal-agent.bundle.cjs): the code-cache
 * loader (layers/code-cache.ts) runs it and calls main. Same agent as agent/bin.ts.
 */
// First: before any module builds a zod schema (agent/zod-jitless.ts).
import '../../agent/zod-jitless.js'
import { loadWaveParts } from '../../agent/main.js'

export { runAgentProcess as main } from '../../agent/main.js'

/**
 * Called by the loader when it makes the code cache at build time, after the bundle's top
 * level: evaluates what the agent loads only when needed, so that the cache holds it too.
 */
export async function warmCodeCache(): Promise<void> {
  await loadWaveParts()
}
