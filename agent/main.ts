/**
 * The agent process: the only place real IO is wired in — config (file < env < flags),
 * the node seed and keys, the roster file, pino logs, the hyperswarm transport, the mesh
 * runtime and the HTTP API. Its entry point is agent/bin.ts (`shoal agent --config FILE`
 * runs the same runAgentProcess through the CLI); importing this file starts nothing.
 */
import type { LldpDomain } from './health/lldp-domain.js'
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { pino, type Logger as PinoLogger } from 'pino'
import { z } from 'zod'
import type { AgentMetrics } from './api/agent-metrics.js'
import { MemberEventTally } from './api/member-event-tally.js'
import { ApiServer, type InventoryProvider } from './api/api-server.js'
import { pageRoutes } from './api/page-routes.js'
import { layerChunkRoute, RUNNING_UPLOAD_BYTES_PER_SEC } from './api/layer-chunk-route.js'
import { ShellAuditLog } from './api/shell-audit-log.js'
import { ShellServer } from './api/shell-server.js'
import { ed25519Verify } from './protocol/ed25519.js'
import { SHELL_AUDIT_TOPIC } from './protocol/shell-channel.js'
import type { Inventory } from './inventory/index.js'
import { mergeRosterFile, watchRosterFile } from './boot/roster-file-watch.js'
import { AgentConfig, flagFields, resolveAgentConfig } from './config.js'
import { codeCacheStatus } from './code-cache-status.js'
import { MeshRuntime, nodeIdentity, parseHostPort, realClock, SwarmTransport, systemRng } from './mesh/index.js'
import { ShoalError } from './protocol/errors.js'
import { pack, PROTOCOL_MAJOR, PROTOCOL_MINOR } from './protocol/frame.js'
import { meshConfig } from './protocol/mesh-config.js'
import { MeshNode } from './protocol/mesh-node.js'
import { Roster, RosterFile } from './protocol/roster.js'
import type { UpgradeAgent } from './upgrade/upgrade-agent.js'
import { bootIdFor } from './upgrade/boot-id.js'

export interface RunningAgent {
  readonly id: string
  readonly publicKey: string
  /** host:port of the HTTP API as advertised in the node record. */
  readonly api: string
  readonly runtime: MeshRuntime
  /** Upgrade waves, when config.upgrade is set. */
  readonly upgrade: UpgradeAgent | undefined
  close(): Promise<void>
}

export interface StartAgentOptions {
  logger?: PinoLogger
  /** Full inventory for GET /v1/nodes/{self}/inventory; default agent/inventory's collector (if config.collectInventory). */
  inventory?: InventoryProvider
  /**
   * Test only: behave like a build of the next minor protocol version (docs/mesh.md,
   * "Versions on the wire"), so mixed-version meshes can be tested with one build. The
   * agent announces minor + 1 in its hellos, its records carry a field this build does
   * not know (`nextMinor`), and it sends every peer a message of a type this build does
   * not know (`next-minor-hint`) every `emulateNextMinorEveryMs` (1 s). Set by the
   * environment variable SHOAL_TEST_NEXT_MINOR=1 (runAgentProcess).
   */
  emulateNextMinor?: boolean
  emulateNextMinorEveryMs?: number
}

/** The field and message type a "next minor" build adds (StartAgentOptions.emulateNextMinor). */
export const NEXT_MINOR_FIELD = 'nextMinor'
export const NEXT_MINOR_TYPE = 'next-minor-hint'

/**
 * What only an agent that takes part in upgrade waves (config.upgrade) runs: the upgrade agent,
 * with the vote, the health probes and their schemas and yaml for a kubeconfig, and the LLDP
 * domain watcher; and the agent's Prometheus series (prom-client), which the upgrade agent
 * reports into from its start (without waves they are built on the first scrape). Loaded when
 * needed, so an agent without waves does not evaluate them at start (~40 ms of CPU;
 * docs/boot.md, "The agent's start"). A code cache made at build time holds them all the same
 * (layers/entries/shoal-agent.ts warmCodeCache).
 */
export async function loadWaveParts(): Promise<{ UpgradeAgent: typeof UpgradeAgent; LldpDomain: typeof LldpDomain; AgentMetrics: typeof AgentMetrics }> {
  const [{ UpgradeAgent }, { LldpDomain }, { AgentMetrics }] = await Promise.all([import('./upgrade/upgrade-agent.js'), import('./health/lldp-domain.js'), import('./api/agent-metrics.js')])
  return { UpgradeAgent, LldpDomain, AgentMetrics }
}

/** Collects on first use and again once older than `refreshMs`; concurrent callers share one collection. */
function cachedInventory(refreshMs: number): InventoryProvider & { current(): Promise<Inventory> } {
  let current: Promise<Inventory> | undefined
  const get = async () => {
    if (current) {
      const inv = await current
      if (Date.now() - inv.collectedAt < refreshMs) return inv
    }
    // agent/inventory (its schemas, the collector) loads with the first collection, after ready.
    current = import('./inventory/index.js').then((m) => m.collectInventory())
    return current
  }
  return { collect: get, current: get }
}

/*
 * The files an agent reads at start (config, seed, roster) are read synchronously: small files,
 * read once before the agent serves anything, and without libuv's thread pool, which node
 * starts (4 threads) on the first asynchronous file operation: ~3-5 ms of CPU here that the
 * start to ready no longer spends (docs/boot.md, "The agent's start").
 */
function loadSeed(config: AgentConfig): Uint8Array {
  if (config.seedHex) return Buffer.from(config.seedHex, 'hex')
  const file = config.seedFile!
  let text: string | undefined
  try {
    text = readFileSync(file, 'utf8').trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ShoalError('config', `cannot read the seed file ${file}: ${(err as Error).message}`, { cause: err })
  }
  if (text === undefined) {
    const seed = randomBytes(32)
    try {
      writeFileSync(file, seed.toString('hex') + '\n', { mode: 0o600, flag: 'wx' })
    } catch (err) {
      throw new ShoalError('config', `cannot create the seed file ${file}: ${(err as Error).message}`, { cause: err })
    }
    chmodSync(file, 0o600)
    return seed
  }
  if (!/^[0-9a-f]{64}$/.test(text)) throw new ShoalError('config', `the seed file ${file} must hold 64 hex characters; delete it to make a new key (the roster must then list the new key)`)
  return Buffer.from(text, 'hex')
}

function loadRoster(file: string, cluster: string): Roster {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new ShoalError('config', `cannot read the roster file ${file}: ${(err as Error).message}`, { cause: err })
  }
  const parsed = RosterFile.safeParse(raw)
  if (!parsed.success) {
    const i = parsed.error.issues[0]
    throw new ShoalError('config', `the roster file ${file} is invalid: ${i?.path.join('.')}: ${i?.message}`)
  }
  if (parsed.data.cluster !== cluster) throw new ShoalError('config', `the roster file ${file} is for cluster "${parsed.data.cluster}", but this agent is configured for "${cluster}"`)
  return new Roster(parsed.data.members, parsed.data.operators ?? [])
}

/** Starts one agent from a validated config. */
export async function startAgent(config: AgentConfig, opts: StartAgentOptions = {}): Promise<RunningAgent> {
  const log = opts.logger ?? pino({ level: config.logLevel })
  const seed = loadSeed(config)
  const identity = nodeIdentity(seed)
  const roster = loadRoster(config.rosterFile, config.cluster)
  if (!roster.admits(config.nodeId, identity.publicKey)) {
    throw new ShoalError(
      'config',
      `node "${config.nodeId}" with key ${identity.publicKey} is not on the roster ${config.rosterFile}; add {"id":"${config.nodeId}","key":"${identity.publicKey}"} to its members`,
    )
  }
  const wave = config.upgrade ? await loadWaveParts() : undefined
  const mesh = meshConfig(config.mesh ?? {})
  const logger = log.child({ node: config.nodeId })
  const transport = new SwarmTransport({
    selfId: config.nodeId,
    identity,
    roster,
    clusterId: config.cluster,
    bootstrap: config.bootstrap.map(parseHostPort),
    ...(config.meshHost ? { host: config.meshHost } : {}),
    seedDegree: Math.min(3, mesh.targetDegree),
    maxDegree: mesh.maxDegree,
    targetDegree: mesh.targetDegree,
    maxBadFramesPerPeer: mesh.maxBadFramesPerPeer,
    ...(config.silentLinkMs !== undefined ? { silentLinkMs: config.silentLinkMs } : {}),
    ...(opts.emulateNextMinor ? { protocolVersion: { major: PROTOCOL_MAJOR, minor: PROTOCOL_MINOR + 1 } } : {}),
    logger,
  })
  // A field of the next minor in every record this agent signs: kept (and signed) on re-publish.
  const nextMinorField = opts.emulateNextMinor ? { [NEXT_MINOR_FIELD]: { minor: PROTOCOL_MINOR + 1, features: ['emulated'] } } : {}
  // The mesh socket first, so the record's first signature already names it (`mesh`):
  // signed once, not again when the runtime starts.
  const meshAddress = await transport.bind()
  const now = realClock.now()
  const node = new MeshNode(
    {
      self: {
        ...(meshAddress ? { mesh: meshAddress } : {}),
        id: config.nodeId,
        image: config.image,
        phase: config.phase,
        domain: config.domain,
        inv: config.inventory ?? {},
        health: { status: 'unknown', conditions: [] },
        comps: config.comps ?? [],
        ...nextMinorField,
      },
      config: mesh,
      roster,
      keyring: identity.keyring,
      rng: systemRng,
      logger,
    },
    now,
  )
  const runtime = new MeshRuntime(config.nodeId, node, transport, realClock, logger)
  // Member events count from now; the series that show them are built on the first scrape,
  // or now for the upgrade agent, which reports into them.
  const tally = new MemberEventTally(runtime)
  const waveMetrics = wave ? new wave.AgentMetrics(runtime, tally) : undefined
  let metricsLoad = waveMetrics ? Promise.resolve(waveMetrics) : undefined
  const metrics = () => (metricsLoad ??= import('./api/agent-metrics.js').then(({ AgentMetrics }) => new AgentMetrics(runtime, tally)))
  const upgrade = config.upgrade && wave
    ? new wave.UpgradeAgent({ nodeId: config.nodeId, image: config.image, keyring: identity.keyring, mesh: runtime, config: config.upgrade, clock: realClock, logger, metrics: waveMetrics, domain: config.domain, bootId: bootIdFor(config.upgrade.rebooter, process.env) })
    : undefined
  // Remote shell (docs/shell.md): grants checked against the roster's operators; every
  // session is logged, kept, and gossiped so any agent (and the coordinator) lists it.
  const shellLog = new ShellAuditLog()
  const shell = new ShellServer({
    selfId: config.nodeId,
    operators: () => roster.operators,
    verify: ed25519Verify,
    clock: realClock,
    logger,
    onSession: (s) => {
      shellLog.add(s)
      runtime.input({ type: 'broadcast', topic: SHELL_AUDIT_TOPIC, body: pack(s) })
    },
  })
  runtime.on('event', (e) => {
    if (e.type === 'app' && e.topic === SHELL_AUDIT_TOPIC) shellLog.addFromMesh(e.from, e.body)
  })
  if (upgrade) waveMetrics?.attachWave(upgrade)
  const inventory = opts.inventory ?? (config.collectInventory ? cachedInventory(config.inventoryRefreshMs) : undefined)
  // Layer chunks for booting workers of this image (docs/layers.md): loaded on the first request.
  const lc = config.layerChunks
  const layerChunks = lc && layerChunkRoute({ version: config.image, cluster: config.cluster, clusterKey: lc.clusterKey, manifestFile: lc.manifestFile, layerDir: lc.layerDir, uploadBytesPerSec: lc.uploadBytesPerSec ?? RUNNING_UPLOAD_BYTES_PER_SEC, clock: realClock, logger })
  const pages = pageRoutes({ shells: shellLog })
  const server = new ApiServer({
    source: runtime,
    selfInfo: () => ({
      publicKey: identity.publicKey,
      cluster: config.cluster,
      bootstrap: config.bootstrap,
      peers: transport.peers(),
      ...(upgrade ? { wave: upgrade.status() } : {}),
      shell: { ...shell.counters(), operators: roster.operators.map((o) => o.name), auditDropped: shellLog.dropped },
    }),
    onUpgrade: (req, socket, head) => shell.handleUpgrade(req, socket, head),
    extraRoutes: layerChunks ? (req, res, url) => layerChunks(req, res, url) || pages(req, res, url) : pages,
    ...(inventory ? { inventory } : {}),
    inventoryCacheMs: config.inventoryCacheMs,
    forwardTimeoutMs: config.forwardTimeoutMs,
    metrics: { expose: async () => (await metrics()).expose() },
    logger,
  })
  let bound: { host: string; port: number }
  try {
    bound = await server.listen(config.apiPort, config.apiHost)
  } catch (err) {
    await transport.close()
    throw new ShoalError('config', `cannot listen on ${config.apiHost}:${config.apiPort} for the API: ${(err as Error).message} (choose another apiPort, or 0)`, { cause: err })
  }
  const api = config.apiAdvertise ?? `${bound.host}:${bound.port}`
  runtime.updateSelf({ api })
  await runtime.start()
  upgrade?.start()
  // No shoal.domain= (a coordinator label or the operator's): the switch lldpd hears names it (docs/identity.md).
  const lldp =
    config.domain === 'default' && wave
      ? new wave.LldpDomain({
          logger,
          onDomain: (domain) => {
            runtime.updateSelf({ domain })
            upgrade?.setDomain(domain)
          },
        })
      : undefined
  lldp?.start()
  const hints = opts.emulateNextMinor
    ? setInterval(() => {
        const body = pack({ v: PROTOCOL_MAJOR, t: NEXT_MINOR_TYPE, minor: PROTOCOL_MINOR + 1, at: Date.now() })
        for (const peer of transport.peers()) transport.sendBody(peer, body, NEXT_MINOR_TYPE)
      }, opts.emulateNextMinorEveryMs ?? 1000)
    : undefined
  hints?.unref()
  if (opts.emulateNextMinor) logger.warn({ component: 'agent', minor: PROTOCOL_MINOR + 1 }, 'test only: emulating the next minor protocol version (SHOAL_TEST_NEXT_MINOR)')
  // pino's base fields already carry pid and hostname: a second `pid` would make the line invalid JSON for strict parsers.
  // startCpuMs: this process's CPU from its start to here (docs/boot.md, "The agent's start"); codeCache: see code-cache-status.ts.
  const cpu = process.cpuUsage()
  const codeCache = codeCacheStatus()
  logger.info({ component: 'agent', api, key: identity.publicKey, cluster: config.cluster, startCpuMs: Math.round((cpu.user + cpu.system) / 1000), ...(codeCache ? { codeCache } : {}) }, 'agent ready')
  // Nodes enrolled after this one appear in the roster file later (agent/boot/roster-sync.ts).
  // Watched from ready on (its polling stats the file on the thread pool), and read once more
  // now for what changed since loadRoster.
  const stopRosterWatch = watchRosterFile(config.rosterFile, config.cluster, roster, logger)
  mergeRosterFile(config.rosterFile, config.cluster, roster).then(
    (added) => {
      if (added.length) logger.info({ component: 'roster', added, size: roster.size }, 'roster grew')
    },
    (err: Error) => logger.warn({ component: 'roster', err: err.message }, 'roster file ignored'),
  )
  if (inventory && !config.inventory && !opts.inventory) {
    // Off the start path: systeminformation takes ~1 s of CPU. The summary travels in the record.
    void (inventory as ReturnType<typeof cachedInventory>)
      .current()
      .then(async (inv) => runtime.updateSelf({ inv: (await import('./inventory/index.js')).summarizeInventory(inv) }))
      .catch((err) => logger.warn({ component: 'agent', err: (err as Error).message }, 'inventory collection failed'))
  }
  let closing: Promise<void> | undefined
  return {
    id: config.nodeId,
    publicKey: identity.publicKey,
    api,
    runtime,
    upgrade,
    close() {
      closing ??= (async () => {
        if (hints) clearInterval(hints)
        lldp?.close()
        await server.close()
        await layerChunks?.close()
        await upgrade?.close()
        stopRosterWatch()
        await runtime.close()
        if (metricsLoad) (await metricsLoad).close()
        tally.close()
        logger.info({ component: 'agent' }, 'agent stopped')
      })()
      return closing
    },
  }
}

/** `--config FILE` plus one flag per config field (agent/config.ts flagFields). */
export function parseAgentArgs(argv: string[]): { configFile: string | undefined; flags: Record<string, string | boolean | undefined> } {
  const options: Record<string, { type: 'string' | 'boolean' }> = { config: { type: 'string' } }
  for (const [name, f] of Object.entries(flagFields)) options[name] = { type: f.kind === 'bool' ? 'boolean' : 'string' }
  let values: Record<string, string | boolean | undefined>
  try {
    ;({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }) as { values: Record<string, string | boolean | undefined> })
  } catch (err) {
    throw new ShoalError('usage', `${(err as Error).message}\nusage: shoal agent --config FILE [--node-id ID] [--bootstrap HOST:PORT,...] [--api-port N] ...`)
  }
  const { config: configFile, ...flags } = values
  return { configFile: configFile as string | undefined, flags }
}

export async function loadAgentConfig(argv: string[], env: Record<string, string | undefined> = process.env): Promise<AgentConfig> {
  const { configFile, flags } = parseAgentArgs(argv)
  let file: unknown
  if (configFile) {
    try {
      file = JSON.parse(readFileSync(configFile, 'utf8'))
    } catch (err) {
      throw new ShoalError('config', `cannot read the config file ${configFile}: ${(err as Error).message}`, { cause: err })
    }
  }
  return resolveAgentConfig(file, env, flags)
}

/**
 * Runs an agent until SIGINT/SIGTERM (or stdin closing, with exitWithStdin). Returns the
 * exit code. Config errors are one line on stderr. `hooks.onReady` is called once the agent is
 * ready (after its "agent ready" line).
 */
export async function runAgentProcess(argv: string[], hooks: { onReady?: (agent: RunningAgent, config: AgentConfig) => void } = {}): Promise<number> {
  let agent: RunningAgent
  // zod without its JIT (agent/zod-jitless.ts, which the agent's entry points import first):
  // here too for `shoal agent` through the CLI, where it reaches the schemas built from now on.
  z.config({ jitless: true })
  try {
    const config = await loadAgentConfig(argv)
    const logger = pino({ level: config.logLevel })
    if (codeCacheStatus() === 'rejected') logger.warn({ component: 'agent', node: config.nodeId, node_version: process.version }, 'V8 rejected the code cache (built by another node or with other V8 flags): compiled the agent from source, a slower start')
    if (config.holdUntilStartLine) {
      logger.info({ component: 'agent', node: config.nodeId }, 'agent held: waiting for a start line on stdin')
      await waitForStartLine()
    }
    agent = await startAgent(config, { logger, emulateNextMinor: process.env.SHOAL_TEST_NEXT_MINOR === '1' })
    // What the entry point runs beside the agent once it is ready (the worker's roster sync: layers/entries/shoal-agent.ts).
    hooks.onReady?.(agent, config)
    await new Promise<void>((resolve) => {
      const stop = () => resolve()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      if (config.exitWithStdin) {
        process.stdin.on('end', stop)
        process.stdin.on('close', stop)
        process.stdin.on('error', stop)
        process.stdin.resume()
      }
    })
  } catch (err) {
    if (err instanceof ShoalError) {
      process.stderr.write(`error: ${err.message}\n`)
      return err.code === 'usage' ? 2 : 1
    }
    throw err
  }
  await agent.close()
  return 0
}

function waitForStartLine(): Promise<void> {
  return new Promise((resolve) => {
    let buf = ''
    const onData = (chunk: Buffer) => {
      buf += chunk.toString()
      if (!buf.includes('\n')) return
      process.stdin.off('data', onData)
      resolve()
    }
    process.stdin.on('data', onData)
    // The supervisor went away before starting us: nothing to do.
    process.stdin.once('end', () => process.exit(0))
    process.stdin.resume()
  })
}
