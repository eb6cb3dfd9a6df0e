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
 * level: evaluates what a worker's agent loads on demand in its first seconds, so that the
 * cache holds it too: the wave parts (a worker takes part in waves) and the inventory
 * collector (it runs right after ready). The OpenAPI document, asked for rarely, is left out.
 */
export async function warmCodeCache(): Promise<void> {
  await Promise.all([loadWaveParts(), import('../../agent/inventory/index.js')])
}
