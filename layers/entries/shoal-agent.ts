/**
 * Entry of the worker's agent bundle (/usr/lib/shoal/shoal-agent.bundle.cjs): the code-cache
 * loader (layers/code-cache.ts) runs it and calls main. Same agent as agent/bin.ts, plus the
 * worker's roster sync in the same process (agent/boot/roster-sync.ts startWorkerRosterSync):
 * once the agent is ready it keeps the roster file current from the coordinator the boot agent
 * enrolled with (cluster.json beside the roster file), first polling one period later.
 */
// First: before any module builds a zod schema (agent/zod-jitless.ts).
import '../../agent/zod-jitless.js'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pino } from 'pino'
import { startWorkerRosterSync } from '../../agent/boot/roster-sync.js'
import { loadAgentConfig, loadWaveParts, runAgentProcess, startAgent } from '../../agent/main.js'
import { startBootstrapNode } from '../../agent/mesh/bootstrap-node.js'
import { publicKeyHexFromSeed } from '../../agent/protocol/ed25519.js'

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

/** How long the build's rehearsal start may take before the cache is made without it. */
const REHEARSAL_DEADLINE_MS = 60_000

/**
 * Called by the loader when it makes the code cache at build time, after the bundle's top
 * level: runs what a worker's agent runs in its first seconds, so that the cache holds that
 * code too (V8 caches every function compiled so far; one left out is compiled from source
 * when it first runs):
 * - a rehearsal start (rehearseStart): the config's load and parse, the seed, the roster,
 *   pino, the DHT bind and announce, the API's listen, up to "agent ready" and a close. Without
 *   it every function of the start after the top level was compiled from source at each start;
 * - the wave parts (a worker takes part in waves) and the inventory collector (it runs right
 *   after ready), evaluated. The OpenAPI document, asked for rarely, is left out;
 * - undici (a side bundle with a cache of its own, layers/specs/worker.ts AGENT_SIDE_BUNDLES):
 *   one plain HTTP request on loopback, the path a forwarded request and, past TLS, a Kubernetes
 *   call take.
 */
export async function warmCodeCache(): Promise<void> {
  await Promise.all([loadWaveParts(), import('../../agent/inventory/index.js')])
  for (const [what, warm] of [['the rehearsal start', rehearseStart], ['the undici request', undiciRequest]] as const) {
    await warm().catch((err: unknown) => {
      // The cache is still valid without it, only smaller: the agent compiles more when it gets there.
      process.stderr.write(`code cache: ${what} failed, the cache holds less: ${(err as Error).message}\n`)
    })
  }
}

/** One GET through undici to a server on 127.0.0.1, body read; everything closed. */
export async function undiciRequest(): Promise<void> {
  const server = createServer((_req, res) => res.end('{"ok":true}'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { Agent, request } = await import('undici')
  const dispatcher = new Agent()
  try {
    const { port } = server.address() as { port: number }
    const res = await request(`http://127.0.0.1:${port}/`, { dispatcher, headersTimeout: 10_000, bodyTimeout: 10_000 })
    await res.body.json()
  } finally {
    await dispatcher.close()
    await new Promise((resolve) => server.close(resolve))
  }
}

/**
 * One agent started to ready and stopped, on loopback only: its own bootstrap node on
 * 127.0.0.1, a one-node roster, the API on a free port of 127.0.0.1, logs to /dev/null (through
 * pino's destination, as the service's are). Temp files are removed; a start that does not reach
 * ready within REHEARSAL_DEADLINE_MS fails (and everything it opened is closed).
 */
export async function rehearseStart(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-rehearsal-'))
  const bootstrap = await startBootstrapNode({ host: '127.0.0.1' })
  // The coordinator a worker's upgrade agent polls: here one that answers every request 503.
  const coordinator = createServer((_req, res) => {
    res.statusCode = 503
    res.end()
  })
  await new Promise<void>((resolve) => coordinator.listen(0, '127.0.0.1', resolve))
  let timer: NodeJS.Timeout | undefined
  try {
    const seedHex = randomBytes(32).toString('hex')
    const nodeId = 'rehearsal'
    const cluster = 'rehearsal'
    const rosterFile = join(dir, 'roster.json')
    const configFile = join(dir, 'agent.json')
    await writeFile(rosterFile, JSON.stringify({ cluster, members: [{ id: nodeId, key: publicKeyHexFromSeed(Buffer.from(seedHex, 'hex')) }] }))
    // A worker's config takes part in waves (config.upgrade): probes skipped, nothing rebooted
    // (a wave never starts here), a domain set (no LLDP watcher).
    const upgrade = { coordinatorKey: seedHex, coordinatorUrl: `http://127.0.0.1:${(coordinator.address() as { port: number }).port}/`, skip: ['ceph', 'kube', 'kubelet'], rebooter: 'exit' }
    await writeFile(configFile, JSON.stringify({ cluster, nodeId, seedHex, rosterFile, bootstrap: [bootstrap.address], meshHost: '127.0.0.1', apiHost: '127.0.0.1', apiPort: 0, image: 'v0.0.0', domain: 'rehearsal', phase: 'ready', collectInventory: false, logLevel: 'info', upgrade }))
    const config = await loadAgentConfig(['--config', configFile], {})
    const logger = pino({ level: config.logLevel }, pino.destination({ dest: '/dev/null', sync: true }))
    const starting = startAgent(config, { logger })
    const agent = await Promise.race([
      starting,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not ready within ${REHEARSAL_DEADLINE_MS} ms`)), REHEARSAL_DEADLINE_MS)
      }),
    ]).catch(async (err: unknown) => {
      // Late: close it when it gets there.
      void starting.then((a) => a.close(), () => undefined)
      throw err
    })
    await agent.close()
  } finally {
    clearTimeout(timer)
    await bootstrap.close()
    coordinator.closeAllConnections()
    await new Promise((resolve) => coordinator.close(resolve))
    await rm(dir, { recursive: true, force: true })
  }
}
