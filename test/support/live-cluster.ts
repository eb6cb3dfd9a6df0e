/**
 * LiveCluster: real agents (one OS process each, agent/main.ts) over hyperswarm on
 * loopback, with the upgrade block on: a real Ceph (one CRUSH host per worker, optional),
 * the fake Kubernetes API, and the real coordinator (live-cluster-coordinator.ts: its DHT
 * bootstrap node, mesh peer, enrollment and waves API). Each worker enrolls with its key
 * and boots the image its boot script names. A worker's "reboot" is its agent exiting
 * with code 75 (ProcessExitRebooter): the harness marks its kube node NotReady, stops its
 * OSDs (the machine is down), then — unless the test keeps it down — starts its OSDs
 * again and the agent on the image its boot script now names (what the coordinator
 * assigned on lease proof), and marks the node Ready once the agent is up (kubelet back).
 *
 * Events: 'reboot' (id, at) when an agent exits 75, 'up' (id, image, at) when its
 * restarted agent is ready, 'log' (id, line) for every pino line.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { publicKeyHexFromSeed } from '../../agent/protocol/ed25519.js'
import type { MeshConfig } from '../../agent/protocol/mesh-config.js'
import type { VoteConfig } from '../../agent/protocol/vote/vote-config.js'
import type { UpgradeConfig } from '../../agent/protocol/upgrade-config.js'
import { REBOOT_EXIT_CODE } from '../../agent/upgrade/real-steps.js'
import { FakeKubeApiServer } from '../../sim/fakes/kube-api-server.js'
import type { CephCluster } from '../../harness/ceph-cluster.js'
import { LiveCoordinator } from './live-cluster-coordinator.js'

const AGENT_MAIN = fileURLToPath(new URL('../../agent/bin.ts', import.meta.url))
const AGENT_BUNDLE = fileURLToPath(new URL('../../.cache/live/agent.mjs', import.meta.url))

/** Gives the ESM bundle a real `require`: code that loads an external package late (yaml, for a kubeconfig) calls require(), which esbuild's shim refuses in ESM. */
const REQUIRE_BANNER = "import { createRequire as __shoalCreateRequire } from 'node:module'; const require = __shoalCreateRequire(import.meta.url);"

let launcher: Promise<string[]> | undefined
/** One esbuild bundle of the agent (agent/bin.ts) per test process (~0.6 s of CPU per start instead of ~1.1 s under tsx); tsx if esbuild is missing. */
function agentLauncher(): Promise<string[]> {
  launcher ??= (async () => {
    try {
      const esbuild = (await import('esbuild' as string)) as { build(opts: object): Promise<unknown> }
      await mkdir(join(AGENT_BUNDLE, '..'), { recursive: true })
      // The real path: .cache may be a symlink (a git worktree sharing the main checkout's cache).
      const out = join(await realpath(join(AGENT_BUNDLE, '..')), `agent-${process.pid}.mjs`)
      // A real `require` in the ESM bundle: lazily loaded externals (yaml for a kubeconfig) call it.
      await esbuild.build({ entryPoints: [AGENT_MAIN], outfile: out, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'silent', banner: { js: REQUIRE_BANNER } })
      return [out]
    } catch {
      return ['--import', 'tsx', AGENT_MAIN]
    }
  })()
  return launcher
}

/** Mesh timing for a few agents beside a Ceph cluster on 2 shared cores (see sim/demo sharedMachineMesh). */
export const liveMesh: Partial<MeshConfig> = { probeIntervalMs: 1000, probeTimeoutMs: 800, suspicionMinMult: 4 }

/**
 * Vote timing for the test: a 1 s collection and a 2 s quiet period (safe: > collection +
 * delivery). Every agent and the coordinator read one host clock, so the clock-skew bound is
 * 1 s, not a LAN's 5 s: a node whose vote started within that bound of a wave's start must
 * relearn promises before it votes, and three agents started together would wait on each
 * other (docs/waves-agent.md, "cold start").
 */
export const liveVote: Partial<VoteConfig> = { collectMs: 1000, resendMs: 200, retryMs: 300, maxDeliveryMs: 500, quietMs: 2000, syncRetryMs: 500, maxClockSkewMs: 1000 }

export interface LiveWorker {
  readonly id: string
  readonly seedHex: string
  readonly key: string
  readonly mac: string
  image: string
  proc: ChildProcess | undefined
  api: string | undefined
  /** Keep it down at its next reboot ("never comes back"). */
  stayDown: boolean
  readonly tail: string[]
  configFile: string
}

export interface LiveClusterOptions {
  workers: string[]
  /** Image versions the coordinator serves; the first is what every worker boots at first. */
  images: string[]
  ceph?: CephCluster
  /** Overrides of each agent's upgrade block. */
  upgrade?: Partial<UpgradeConfig>
  logLevel?: 'info' | 'debug'
  readyTimeoutMs?: number
  /**
   * The pods and budgets the fake Kubernetes API starts with (each worker's node is added
   * first, Ready). Default: per node, a pod of the ReplicaSet `web-1` (app=web) and one of
   * the DaemonSet `proxy`, no PodDisruptionBudget.
   */
  workload?: (kube: FakeKubeApiServer, workers: readonly string[]) => void
  /** Extra environment for a worker's agent, at every (re)start (e.g. SHOAL_TEST_NEXT_MINOR=1 for a next-minor build). */
  env?: (id: string) => Record<string, string>
}

export class LiveCluster extends EventEmitter {
  readonly workers: LiveWorker[] = []
  readonly kube = new FakeKubeApiServer({ reschedule: true })
  coordinator!: LiveCoordinator
  cluster = ''
  dir = ''
  private rosterFile = ''
  private stopping = false
  /** Restarts that failed (the test reports them). */
  readonly errors: Error[] = []

  constructor(readonly opts: LiveClusterOptions) {
    super()
  }

  worker(id: string): LiveWorker {
    const w = this.workers.find((x) => x.id === id)
    if (!w) throw new Error(`no worker ${id}`)
    return w
  }

  running(w: LiveWorker): boolean {
    return !!w.proc && w.proc.exitCode === null && w.proc.signalCode === null
  }

  async start(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'shoal-live-'))
    this.coordinator = new LiveCoordinator({ images: this.opts.images, vote: liveVote, mesh: liveMesh, onLog: (j) => this.emit('log', 'coordinator', j) })
    await this.coordinator.start()
    await this.kube.start()
    const kubeconfig = join(this.dir, 'kubeconfig')
    await writeFile(kubeconfig, this.kube.kubeconfig())
    for (const id of this.opts.workers) this.kube.addNode({ name: id, ready: true })
    if (this.opts.workload) this.opts.workload(this.kube, this.opts.workers)
    else
      for (const id of this.opts.workers) {
        this.kube.addPod({ name: `web-${id}`, node: id, owner: { kind: 'ReplicaSet', name: 'web-1' }, labels: { app: 'web' } })
        this.kube.addPod({ name: `proxy-${id}`, node: id, owner: { kind: 'DaemonSet', name: 'proxy' } })
      }
    // No PodDisruptionBudget by default: evicted web pods are rescheduled onto the others, and
    // the drain plan (agent/health drainPlan) counts every pod of one budget on a node against
    // its allowance at once, so a node that collected two pods under a maxUnavailable-1 budget
    // would never pass its pre gate (see docs/waves-agent.md).
    // Each machine: a key, a MAC; it asks for its boot script (image) and enrolls.
    for (const [i, id] of this.opts.workers.entries()) {
      const seedHex = randomBytes(32).toString('hex')
      const mac = `52:54:00:5e:00:${(i + 1).toString(16).padStart(2, '0')}`
      const w: LiveWorker = { id, seedHex, key: publicKeyHexFromSeed(Buffer.from(seedHex, 'hex')), mac, image: '', proc: undefined, api: undefined, stayDown: false, tail: [], configFile: '' }
      await this.coordinator.enroll({ id, mac, publicKey: w.key })
      w.image = (await this.coordinator.bootScript(mac)).image
      this.workers.push(w)
    }
    const roster = await this.coordinator.roster()
    this.cluster = roster.cluster
    const coordKey = this.coordinator.publicKey
    this.rosterFile = join(this.dir, 'roster.json')
    await writeFile(this.rosterFile, JSON.stringify(roster))
    const ceph = this.opts.ceph
    for (const w of this.workers) {
      w.configFile = join(this.dir, `${w.id}.json`)
      const upgrade: Partial<UpgradeConfig> = {
        coordinatorKey: coordKey,
        coordinatorUrl: this.coordinator.url,
        kubeconfig,
        ...(ceph ? { cephConf: ceph.conf, cephKeyring: ceph.keyring } : { skip: ['ceph'] }),
        rebooter: 'exit',
        gateIntervalMs: 1000,
        verifyPollMs: 300,
        drainDeadlineMs: 20_000,
        vote: liveVote,
        ...this.opts.upgrade,
      }
      await writeFile(
        w.configFile,
        JSON.stringify({
          cluster: this.cluster,
          nodeId: w.id,
          seedHex: w.seedHex,
          rosterFile: this.rosterFile,
          bootstrap: [this.coordinator.bootstrap],
          meshHost: '127.0.0.1',
          apiHost: '127.0.0.1',
          apiPort: 0,
          image: w.image,
          domain: 'rack-1',
          phase: 'ready',
          collectInventory: false,
          logLevel: this.opts.logLevel ?? 'info',
          exitWithStdin: true,
          mesh: liveMesh,
          upgrade,
        }),
      )
    }
    await Promise.all(this.workers.map((w) => this.spawn(w)))
  }

  /** Starts (or restarts) a worker's agent on `w.image`; resolves when its API is up. */
  spawn(w: LiveWorker): Promise<LiveWorker> {
    return agentLauncher().then(
      (launch) =>
        new Promise<LiveWorker>((resolve, reject) => {
          w.api = undefined
          w.tail.length = 0
          const proc = spawn(process.execPath, ['--max-semi-space-size=1', ...launch, '--config', w.configFile, '--image', w.image], {
            stdio: ['pipe', 'pipe', 'pipe'],
            env: { ...process.env, NODE_NO_WARNINGS: '1', ...(this.opts.ceph ? { CEPH_CONF: this.opts.ceph.conf } : {}), ...this.opts.env?.(w.id) },
          })
          w.proc = proc
          const timeoutMs = this.opts.readyTimeoutMs ?? 60_000
          const timer = setTimeout(() => reject(new Error(`${w.id} not ready within ${timeoutMs} ms:\n${w.tail.join('\n')}`)), timeoutMs)
          const keep = (line: string) => {
            w.tail.push(line)
            if (w.tail.length > 40) w.tail.shift()
          }
          createInterface({ input: proc.stdout! }).on('line', (line) => {
            keep(line)
            let j: Record<string, unknown>
            try {
              j = JSON.parse(line) as Record<string, unknown>
            } catch {
              return
            }
            if (j.msg === 'agent ready' && typeof j.api === 'string') {
              w.api = j.api
              clearTimeout(timer)
              resolve(w)
            }
            this.emit('log', w.id, j)
          })
          createInterface({ input: proc.stderr! }).on('line', keep)
          proc.stdin!.on('error', () => {})
          proc.once('exit', (code, signal) => {
            clearTimeout(timer)
            if (!w.api) reject(new Error(`${w.id} exited (${signal ?? code}) before it was ready:\n${w.tail.join('\n')}`))
            if (code === REBOOT_EXIT_CODE && !this.stopping) void this.reboot(w)
          })
        }),
    )
  }

  /** What happens to a machine that reboots: down (kube NotReady, OSDs stopped), then up on its boot script's image. */
  private async reboot(w: LiveWorker): Promise<void> {
    this.emit('reboot', w.id, Date.now())
    this.kube.setNodeReady(w.id, false)
    const ceph = this.opts.ceph
    if (ceph) await ceph.stopHost(w.id)
    if (w.stayDown || this.stopping) {
      this.emit('down', w.id, Date.now())
      return
    }
    await this.boot(w)
  }

  /** Powers a machine on that stayed down: it netboots what its boot script names now. */
  async powerOn(id: string): Promise<void> {
    const w = this.worker(id)
    if (this.running(w)) throw new Error(`${id} is running`)
    w.stayDown = false
    await this.boot(w)
  }

  private async boot(w: LiveWorker): Promise<void> {
    const ceph = this.opts.ceph
    if (ceph) await ceph.startHost(w.id)
    try {
      // PXE: the boot script names the image (the one the coordinator assigned on lease proof).
      w.image = (await this.coordinator.bootScript(w.mac)).image
      await this.spawn(w)
    } catch (err) {
      this.errors.push(err as Error)
      return
    }
    this.kube.setNodeReady(w.id, true)
    this.emit('up', w.id, w.image, Date.now())
  }

  async stop(): Promise<void> {
    this.stopping = true
    await Promise.all(
      this.workers.map(async (w) => {
        const p = w.proc
        if (!p || !this.running(w)) return
        const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()))
        p.kill('SIGTERM')
        const t = setTimeout(() => p.kill('SIGKILL'), 3000)
        await exited
        clearTimeout(t)
      }),
    )
    await this.kube.close()
    await this.coordinator?.close()
    if (this.dir) await rm(this.dir, { recursive: true, force: true })
  }
}
