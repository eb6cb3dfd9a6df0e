/**
 * Entry of the worker's agent bundle (/usr/lib/shoal/shoal-agent.bundle.cjs): the code-cache
 * loader (layers/code-cache.ts) runs it and calls main. Same agent as agent/bin.ts, plus the
 * worker's roster sync in the same process (agent/boot/roster-sync.ts startWorkerRosterSync):
 * once the agent is ready it keeps the roster file current from the coordinator the boot agent
 * enrolled with (cluster.json beside the roster file), first polling one period later.
 */
// First: before any module builds a zod schema (agent/zod-jitless.ts).
import '../../agent/zod-jitless.js'
import { dirname } from 'node:path'
import { startWorkerRosterSync } from '../../agent/boot/roster-sync.js'
import { loadWaveParts, runAgentProcess } from '../../agent/main.js'

export async function main(argv: string[]): Promise<number> {
  let stopSync: (() => void) | undefined
  let stopped = false
  try {
    return await runAgentProcess(argv, {
      // After ready, not during the start: under TCG the first poll (a roster, its signature,
      // two files the agent then re-reads) would be emulated CPU taken from the start.
      onReady: (_agent, config) => {
        void startWorkerRosterSync(dirname(config.rosterFile), (line) => process.stdout.write(`shoal-roster: ${line}\n`)).then((stop) => {
          if (stopped) stop?.()
          else stopSync = stop
        })
      },
    })
  } finally {
    stopped = true
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
