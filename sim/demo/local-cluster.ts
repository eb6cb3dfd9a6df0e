/**
 * A cluster of real agents on loopback, one OS process each (so each agent's RSS is its
 * own), around a private DHT bootstrap node (its own process too). Used by `npm start`, the live
 * mesh tests and bench/live.ts.
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
import type { MeshConfig } from '../../agent/protocol/mesh-config.js'
import { syntheticMachine } from './synthetic-hardware.js'

const AGENT_MAIN = fileURLToPath(new URL('../../agent/bin.ts', import.meta.url))
const AGENT_BUNDLE = fileURLToPath(new URL('../../.cache/demo/agent.mjs', import.meta.url))

/**
 * Node flags of every agent process. A 1 MB young generation: an agent allocates little,
 * and this keeps ~8 MB of RSS per agent. One V8 worker thread instead of one per core:
 * ~4 MB less RSS per agent (each thread has its own stack and malloc arena), and an agent
 * has nothing to do in parallel. No optimising compiler (--no-opt): an agent handles a few
 * messages a second, and TurboFan compiling the same hot paths in every fresh process cost
 * more than it saved — 8 agents, 5 s from release: ~15% less CPU and ~6.5 MB less RSS each.
 * Production agents should run with the same flags.
 */
export const AGENT_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=1', '--v8-pool-size=1', '--no-opt'])

let launcher: Promise<string[]> | undefined
/**
 * How to start an agent process. Bundling the agent (agent/bin.ts) once (esbuild, which tsx already
 * brings; ~60 ms) halves each agent's start (~0.6 s instead of ~1.1 s of CPU under tsx),
 * which is what makes 50 agents on 2 cores start in seconds. Falls back to tsx.
 */
function agentLauncher(): Promise<string[]> {
  launcher ??= (async () => {
    try {
      const esbuild = (await import('esbuild' as string)) as { build(opts: object): Promise<unknown> }
      await esbuild.build({
        entryPoints: [AGENT_MAIN],
        outfile: AGENT_BUNDLE,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        logLevel: 'silent',
        // A real `require` in the ESM bundle: an external loaded late (yaml, for a kubeconfig — the --wave demo has one) calls it, and esbuild's shim refuses in ESM.
        banner: { js: "import { createRequire as __shoalCreateRequire } from 'node:module'; const require = __shoalCreateRequire(import.meta.url);" },
      })
      return [AGENT_BUNDLE]
    } catch {
      return ['--import', 'tsx', AGENT_MAIN]
    }
  })()
  return launcher
}

/**
 * Mesh timing for many agents sharing one small machine. The `lan` preset's timeouts
 * assume each agent has a core; with dozens of agents (and whatever else runs) on 2 cores,
 * a join saturates the machine and every agent's answers lag by seconds. Measured at 50
 * agents with the old values (500 ms probe timeout, lan's 2 s connect and 20 ms graft
 * timeouts): ~170 probe failures and ~50 refutations per join — each one a signed claim and
 * a new record verified by every agent — and GRAFTs for updates that were merely queued
 * behind others. These values trade slower crash detection (~10-20 s) for a calm cluster.
 */
export const sharedMachineMesh: Readonly<Partial<MeshConfig>> = Object.freeze({
  probeIntervalMs: 1000,
  probeTimeoutMs: 1000,
  suspicionMinMult: 4,
  // A redial after a broken link may take seconds here; failing it accuses the peer.
  connectTimeoutMs: 8000,
  // The eager copy is usually just queued behind other work: wait before asking for it.
  graftTimeoutMs: 250,
  ihaveIntervalMs: 50,
})

export interface LocalClusterOptions {
  nodes: number
  cluster?: string
  /** Extra roster members that never start (e.g. keys for a test's rogue peer). */
  extraMembers?: { id: string; key: string }[]
  /** Mesh overrides; default sharedMachineMesh. Pass {} for the production `lan` timing. */
  mesh?: Partial<MeshConfig>
  /** Agents' log level: 'info' or more verbose (the harness reads the info lines "agent held" / "agent ready"). */
  logLevel?: 'info' | 'debug' | 'trace'
  /** Called with every log line (parsed pino JSON) of every agent. */
  onLog?: (node: string, line: Record<string, unknown>) => void
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
  /** Extra fields of every agent's config file (e.g. the upgrade block for `npm start -- --wave`). */
  agentConfig?: Record<string, unknown>
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
      if (closed || proc.exitCode !== null || proc.signalCode !== null) return
      closed = true
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
      proc.kill('SIGTERM')
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(t)
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
    const cluster = opts.cluster ?? `demo-${randomBytes(4).toString('hex')}`
    const bootstrap: BootstrapNode = opts.bootstrapAddress
      ? { address: opts.bootstrapAddress, close: async () => {} }
      : opts.bootstrapInProcess
        ? await startBootstrapNode({ host: '127.0.0.1', port: 0 })
        : await bootstrapProcess()
    const rosterFile = join(dir, 'roster.json')
    const c = new LocalCluster(dir, bootstrap, cluster, rosterFile, opts)
    for (let i = 0; i < opts.nodes; i++) {
      const machine = syntheticMachine(i, cluster)
      const seedHex = randomBytes(32).toString('hex')
      const configFile = join(dir, `agent-${i}.json`)
      await writeFile(
        configFile,
        JSON.stringify({
          cluster,
          nodeId: machine.id,
          seedHex,
          rosterFile,
          bootstrap: [bootstrap.address],
          meshHost: '127.0.0.1',
          apiHost: '127.0.0.1',
          apiPort: 0,
          image: opts.image ?? 'v1.0.0',
          domain: machine.domain,
          phase: 'ready',
          inventory: machine.inventory,
          collectInventory: false,
          logLevel: opts.logLevel ?? 'info',
          exitWithStdin: true,
          mesh: opts.mesh ?? sharedMachineMesh,
          ...opts.agentConfig,
        }),
      )
      c.agents.push({ index: i, id: machine.id, seedHex, key: publicKeyHexFromSeed(Buffer.from(seedHex, 'hex')), configFile, proc: undefined, api: undefined, tail: [] })
    }
    const members = [...c.agents.map((a) => ({ id: a.id, key: a.key })), ...(opts.extraMembers ?? [])]
    await writeFile(rosterFile, JSON.stringify({ cluster, members }))
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
    const args = [...AGENT_NODE_FLAGS, ...(this.opts.nodeArgs?.(i) ?? []), ...(await agentLauncher()), '--config', a.configFile, ...(a.image ? ['--image', a.image] : []), ...(held ? ['--hold-until-start-line'] : [])]
    const proc = spawn(process.execPath, args, {
      // Own process group: a terminal's Ctrl-C reaches only the supervisor, which stops the
      // agents in order. Orphans are impossible anyway: agents exit when their stdin closes.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
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
        if (a.tail.length > 30) a.tail.shift()
      }
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        keep(line)
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

  pids(): number[] {
    return this.agents.flatMap((a) => (a.proc?.pid !== undefined && a.proc.exitCode === null && a.proc.signalCode === null ? [a.proc.pid] : []))
  }

  /** Stops every agent (SIGTERM, then SIGKILL after `graceMs`), the bootstrap node, and removes the temp dir. */
  async stop(graceMs = 3000): Promise<void> {
    await Promise.all(
      this.agents.map(async (a) => {
        const proc = a.proc
        if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
        const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
        proc.kill('SIGTERM')
        const t = setTimeout(() => proc.kill('SIGKILL'), graceMs)
        await exited
        clearTimeout(t)
      }),
    )
    await this.bootstrap.close()
    await rm(this.dir, { recursive: true, force: true })
  }
}
