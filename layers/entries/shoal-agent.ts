/**
 * Entry of the worker's agent bundle (/usr/lib/shoal/shoal-agent.bundle.cjs): the code-cache
 * loader (layers/code-cache.ts) runs it and calls main. Same agent as agent/bin.ts, plus the
 * worker's roster sync in the same process (agent/boot/roster-sync.ts startWorkerRosterSync):
 * it keeps the roster file beside the config current from the coordinator the boot agent
 * enrolled with (cluster.json there), first polling one period after the start.
 */
// First: before any module builds a zod schema (agent/zod-jitless.ts).
import '../../agent/zod-jitless.js'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { startWorkerRosterSync } from '../../agent/boot/roster-sync.js'
import { loadWaveParts, runAgentProcess } from '../../agent/main.js'

export async function main(argv: string[]): Promise<number> {
  // Only --config matters here; runAgentProcess parses (and refuses) the rest.
  const configFile = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: false }).values.config
  const stopSync = typeof configFile === 'string' ? await startWorkerRosterSync(dirname(configFile), (line) => process.stdout.write(`shoal-roster: ${line}\n`)) : undefined
  try {
    return await runAgentProcess(argv)
  } finally {
    stopSync?.()
  }
}

/**
 * Called by the loader when it makes the code cache at build time, after the bundle's top
 * level: evaluates what a worker's agent loads on demand in its first seconds, so that the
 * cache holds it too: the wave parts (a worker takes part in waves) and the inventory
 * collector (it runs right after ready). The OpenAPI document, asked for rarely, is left out.
 */
export async function warmCodeCache(): Promise<void> {
  await Promise.all([loadWaveParts(), import('../../agent/inventory/index.js')])
}
