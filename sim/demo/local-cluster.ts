/**
 * The one multi-process cluster harness: real agents on loopback, one OS process each (so
 * each agent's RSS is its own), around a private DHT bootstrap node (its own process too)
 * or a coordinator's. Used by `npm start` (and its --wave demo, wave-demo.ts), the live
 * tests (directly, and through test/support/live-cluster.ts, which adds the coordinator,
 * Ceph and the fake Kubernetes API) and bench/live.ts.
 *
 * Agents run with exitWithStdin: if this process dies without cleaning up, their stdin
 * closes and they exit too, so nothing is orphaned.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { startBootstrapNode, type BootstrapNode } from '../../agent/mesh/bootstrap-node.js'
import { publicKeyHexFromSeed } from '../../agent/protocol/ed25519.js'
import { ShoalError } from '../../agent/protocol/errors.js'
import { MESH_TIMINGS, type MeshConfig } from '../../agent/protocol/mesh-config.js'
import { stopChild } from '../../agent/stop-child.js'
import { AGENT_NODE_FLAGS, agentLauncher } from './agent-launcher.js'
import { syntheticMachine } from './synthetic-hardware.js'

export { AGENT_NODE_FLAGS } from './agent-launcher.js'

/** One machine of the cluster: its node id, failure domain and the inventory it reports. */
export interface LocalMachine {
  id: string
  domain?: string
  inventory?: unknown
}

/** The roster every agent loads. */
export interface LocalRoster {
  cluster: string
  members: { id: string; key: string }[]
}

export interface LocalClusterOptions {
  nodes: number
  cluster?: string
  /** Extra roster members that never start (e.g. keys for a test's rogue peer). */
  extraMembers?: { id: string; key: string }[]
  /** Mesh overrides; default the `shared` timing (MESH_TIMINGS). Pass {} for the production `lan` timing. */
  mesh?: Partial<MeshConfig>
  /** Machine `i` (default: synthetic hardware, syntheticMachine(i, cluster)). */
  machine?: (i: number, cluster: string) => LocalMachine
  /**
   * The roster, once every agent has its key (default: the agents plus extraMembers). A
   * coordinator's cluster enrolls the machines here and answers with its roster.
   */
  roster?: (agents: readonly LocalAgent[]) => Promise<LocalRoster>
  /** Extra environment of agent `a`'s process, at every (re)start. */
  env?: (a: LocalAgent) => Record<string, string>
  /** Agents' log level: 'info' or more verbose (the harness reads the info lines "agent held" / "agent ready"). */
  logLevel?: 'info' | 'debug' | 'trace'
  /** Called with every log line (parsed pino JSON) of every agent. */
  onLog?: (node: string, line: Record<string, unknown>) => void
  /** Called with every line an agent writes to stdout, as written (JSON or not): for checking the log format itself. */
  onLine?: (node: string, line: string) => void
  /**
   * Run the DHT bootstrap node inside this process instead of its own. Its own process is
   * the default: every agent's DHT traffic goes through it, and this process may be busy
   * (50 watch streams in the benchmark) — a delayed bootstrap node delays every join.
   */
  bootstrapInProcess?: boolean
  /** Extra node flags for agent `i` (e.g. --cpu-prof for a profile of a couple of agents in a benchmark). */
  nodeArgs?: (i: number) => string[]
  /** Milliseconds an agent may take from spawn to ready (held: to loaded). Default 60 s: loading is CPU-bound. */
  readyTimeoutMs?: number
  /** An existing DHT bootstrap node (e.g. a coordinator's) instead of one of our own. */
  bootstrapAddress?: string
  /** The image every agent starts on. Default v1.0.0. */
  image?: string
  /** Extra fields of every agent's config file (e.g. the upgrade block for `npm start -- --wave`); a function gets the roster (written once it is known). */
  agentConfig?: Record<string, unknown> | ((roster: LocalRoster) => Record<string, unknown>)
  /** Called when an agent process exits (code 75 = a "reboot" the caller carries out). */
  onExit?: (agent: LocalAgent, code: number | null, signal: NodeJS.Signals | null) => void
}

export interface LocalAgent {
  readonly index: number
  readonly id: string
  readonly seedHex: string
  readonly key: string
  readonly configFile: string
  proc: ChildProcess | undefined
  /** host:port of its API once ready. */
  api: string | undefined
  /** The last log lines (for error reports). */
  readonly tail: string[]
  /** Settles when the current process is ready (or failed before). */
  ready?: Promise<LocalAgent>
  /** Restarts the ready deadline (on release of a held agent). */
  armReadyTimer?: () => void
  /** The image its next start boots (`--image`); unset: the config file's. */
  image?: string
}

const SHOAL_BIN = fileURLToPath(new URL('../../bin/shoal.js', import.meta.url))

/** `shoal bootstrap` in a child process; resolves once it printed its address. */
async function bootstrapProcess(): Promise<BootstrapNode> {
  const proc = spawn(process.execPath, [SHOAL_BIN, 'bootstrap', '--host', '127.0.0.1', '--port', '0', '--exit-with-stdin'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  })
  const tail: string[] = []
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ShoalError('timeout', `the bootstrap node did not start in 30 s:\n${tail.join('\n')}`)), 30_000)
    createInterface({ input: proc.stderr! }).on('line', (l) => tail.push(l))
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      tail.push(l)
      const m = /listening on (\S+:\d+)/.exec(l)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new ShoalError('bootstrap', `the bootstrap node exited (${code}):\n${tail.join('\n')}`))
    })
  })
  proc.stdin!.on('error', () => {})
  let closed = false
  return {
    address,
    ...(proc.pid !== undefined ? { pid: proc.pid } : {}),
    async close() {
      if (closed) return
      closed = true
      await stopChild(proc, 3000)
    },
  }
}

export class LocalCluster {
  readonly agents: LocalAgent[] = []
  private constructor(
    readonly dir: string,
    readonly bootstrap: BootstrapNode,
    readonly cluster: string,
    readonly rosterFile: string,
    private readonly opts: LocalClusterOptions,
  ) {}

  /** Writes seeds, roster and configs to a temp dir and starts the bootstrap node. No agent runs yet. */
  static async create(opts: LocalClusterOptions): Promise<LocalCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'shoal-cluster-'))
    const name = opts.cluster ?? `demo-${randomBytes(4).toString('hex')}`
    const bootstrap: BootstrapNode = opts.bootstrapAddress
      ? { address: opts.bootstrapAddress, close: async () => {} }
      : opts.bootstrapInProcess
        ? await startBootstrapNode({ host: '127.0.0.1', port: 0 })
        : await bootstrapProcess()
    const machines = Array.from({ length: opts.nodes }, (_, i) => (opts.machine ?? syntheticMachine)(i, name))
    const agents: LocalAgent[] = machines.map((m, i) => {
      const seedHex = randomBytes(32).toString('hex')
      return { index: i, id: m.id, seedHex, key: publicKeyHexFromSeed(Buffer.from(seedHex, 'hex')), configFile: join(dir, `agent-${i}.json`), proc: undefined, api: undefined, tail: [] }
    })
    const roster: LocalRoster = opts.roster ? await opts.roster(agents) : { cluster: name, members: [...agents.map((a) => ({ id: a.id, key: a.key })), ...(opts.extraMembers ?? [])] }
    const rosterFile = join(dir, 'roster.json')
    await writeFile(rosterFile, JSON.stringify({ cluster: roster.cluster, members: roster.members }))
    const c = new LocalCluster(dir, bootstrap, roster.cluster, rosterFile, opts)
    const extra = typeof opts.agentConfig === 'function' ? opts.agentConfig(roster) : opts.agentConfig
    for (const [i, a] of agents.entries()) {
      const m = machines[i]!
      await writeFile(
        a.configFile,
        JSON.stringify({
          cluster: roster.cluster,
          nodeId: a.id,
          seedHex: a.seedHex,
          rosterFile,
          bootstrap: [bootstrap.address],
          meshHost: '127.0.0.1',
          apiHost: '127.0.0.1',
          apiPort: 0,
          image: opts.image ?? 'v1.0.0',
          ...(m.domain !== undefined ? { domain: m.domain } : {}),
          phase: 'ready',
          ...(m.inventory !== undefined ? { inventory: m.inventory } : {}),
          collectInventory: false,
          logLevel: opts.logLevel ?? 'info',
          exitWithStdin: true,
          mesh: opts.mesh ?? MESH_TIMINGS.shared.mesh,
          ...extra,
        }),
      )
      c.agents.push(a)
    }
    return c
  }

  /** Spawns agent `i` and resolves once it logged "agent ready" (joined the mesh, API up). */
  start(i: number): Promise<LocalAgent> {
    return this.spawnAgent(i, false)
  }

  /**
   * Spawns agent `i` held before joining; resolves once it is loaded and waiting. `release`
   * lets it join. Benchmarks use this to start N loaded agents at one instant.
   */
  async spawnHeld(i: number): Promise<void> {
    await this.spawnAgent(i, true)
  }

  /** Lets a held agent join; resolves once it is ready. */
  release(i: number): Promise<LocalAgent> {
    const a = this.agents[i]!
    const ready = a.ready
    if (!a.proc || !ready) throw new ShoalError('usage', `agent ${i} was not spawned held`)
    a.armReadyTimer?.()
    a.proc.stdin!.write('start\n')
    return ready
  }

  private async spawnAgent(i: number, held: boolean): Promise<LocalAgent> {
    const a = this.agents[i]!
    if (a.proc && a.proc.exitCode === null && a.proc.signalCode === null) return a
    a.api = undefined
    a.tail.length = 0
    const args = [...AGENT_NODE_FLAGS, ...(this.opts.nodeArgs?.(i) ?? []), ...(await agentLauncher()), '--config', a.configFile, ...(a.image ? ['--image', a.image] : []), ...(held ? ['--hold-until-start-line'] : [])]
    const proc = spawn(process.execPath, args, {
      // Own process group: a terminal's Ctrl-C reaches only the supervisor, which stops the
      // agents in order. Orphans are impossible anyway: agents exit when their stdin closes.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      // msgpackr without its native extractor, as every bundle builds it (layers/bundle.ts): these agents load msgpackr from node_modules.
      env: { ...process.env, NODE_NO_WARNINGS: '1', MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'true', ...this.opts.env?.(a) },
    })
    a.proc = proc
    let onHeld: () => void = () => {}
    const heldP = new Promise<void>((resolve) => (onHeld = resolve))
    a.ready = new Promise<LocalAgent>((resolve, reject) => {
      const limitMs = this.opts.readyTimeoutMs ?? 60_000
      const expire = (what: string) => () => reject(new ShoalError('timeout', `agent ${i} (${a.id}) was not ${what} in ${limitMs} ms; last lines:\n${a.tail.join('\n')}`))
      let timer = setTimeout(expire(held ? 'loaded' : 'ready'), limitMs)
      // A held agent's clock restarts when it is released.
      a.armReadyTimer = () => {
        clearTimeout(timer)
        timer = setTimeout(expire('ready after release'), limitMs)
      }
      const keep = (line: string) => {
        a.tail.push(line)
        if (a.tail.length > 40) a.tail.shift()
      }
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        keep(line)
        this.opts.onLine?.(a.id, line)
        let parsed: Record<string, unknown>
        try {
          parsed = JSON.parse(line) as Record<string, unknown>
        } catch {
          return
        }
        if (typeof parsed.msg === 'string' && parsed.msg.startsWith('agent held')) {
          clearTimeout(timer)
          onHeld()
        }
        if (parsed.msg === 'agent ready' && typeof parsed.api === 'string') {
          a.api = parsed.api
          clearTimeout(timer)
          resolve(a)
        }
        this.opts.onLog?.(a.id, parsed)
      })
      createInterface({ input: proc.stderr! }).on('line', keep)
      proc.once('exit', (code, signal) => {
        clearTimeout(timer)
        this.opts.onExit?.(a, code, signal)
        if (!a.api) reject(new ShoalError('agent-exit', `agent ${i} (${a.id}) exited (${signal ?? code}) before it was ready:\n${a.tail.join('\n')}`))
      })
      proc.stdin!.on('error', () => {})
    })
    a.ready.catch(() => onHeld())
    if (held) {
      await Promise.race([heldP, a.ready])
      return a
    }
    return a.ready
  }

  /** Sends a signal to agent `i` and waits for it to exit. SIGKILL = a crash. */
  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.agents[i]?.proc
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
    proc.kill(signal)
    await exited
  }

  /** Whether agent `a`'s process is running. */
  running(a: LocalAgent): boolean {
    return !!a.proc && a.proc.exitCode === null && a.proc.signalCode === null
  }

  pids(): number[] {
    return this.agents.flatMap((a) => (a.proc?.pid !== undefined && a.proc.exitCode === null && a.proc.signalCode === null ? [a.proc.pid] : []))
  }

  /** Stops every agent (SIGTERM, then SIGKILL after `graceMs`), the bootstrap node, and removes the temp dir. */
  async stop(graceMs = 3000): Promise<void> {
    await Promise.all(
      this.agents.map(async (a) => {
        if (a.proc) await stopChild(a.proc, graceMs)
      }),
    )
    await this.bootstrap.close()
    await rm(this.dir, { recursive: true, force: true })
  }
}
