/**
 * LiveCluster: real agents (one OS process each, agent/bin.ts, started by sim/demo/local-cluster.ts) over hyperswarm on
 * loopback, with the upgrade block on: a real Ceph (one CRUSH host per worker, optional),
 * the fake Kubernetes API, and the real coordinator (live-cluster-coordinator.ts: its DHT
 * bootstrap node, mesh peer, enrollment and waves API). Each worker enrolls with its key
 * and boots the image its boot script names. A worker's "reboot" is its agent exiting
 * with code 75 (ProcessExitRebooter): the harness marks its kube node NotReady, stops its
 * OSDs (the machine is down), then — unless the test keeps it down — starts its OSDs
 * again and the agent on the image its boot script now names (what the coordinator
 * assigned on lease proof), and marks the node Ready once the agent is up (kubelet back).
 *
 * An agent exiting 76 (a node verb's power-off) goes down the same way and stays down
 * until powerOn(). Events: 'reboot' (id, at) when an agent exits 75 or 76, 'up' (id, image, at) when its
 * restarted agent is ready, 'log' (id, line) for every pino line.
 */
import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { VoteConfig } from '../../agent/protocol/vote/vote-config.js'
import type { UpgradeConfig } from '../../agent/protocol/upgrade-config.js'
import { POWEROFF_EXIT_CODE, REBOOT_EXIT_CODE } from '../../agent/upgrade/real-steps.js'
import { LocalCluster, type LocalAgent } from '../../sim/demo/local-cluster.js'
import { FakeKubeApiServer } from '../../sim/fakes/kube-api-server.js'
import type { CephCluster } from '../../harness/ceph-cluster.js'
import { LiveCoordinator } from './live-cluster-coordinator.js'

/**
 * Vote timing for the test: a 1 s collection and a 2 s quiet period (safe: > collection +
 * delivery). Every agent and the coordinator read one host clock, so the clock-skew bound is
 * 1 s, not a LAN's 5 s: a node whose vote started within that bound of a wave's start must
 * relearn promises before it votes, and three agents started together would wait on each
 * other (docs/waves-agent.md, "cold start").
 */
export const liveVote: Partial<VoteConfig> = { collectMs: 1000, resendMs: 200, retryMs: 300, maxDeliveryMs: 500, quietMs: 2000, syncRetryMs: 500, maxClockSkewMs: 1000 }

/** The failure domain of every worker of the harness (and its CRUSH rack). */
const RACK = 'rack-1'

/** A worker: an agent process of the harness (LocalCluster) with a MAC it netboots by. */
export interface LiveWorker extends LocalAgent {
  readonly mac: string
  /** The image its next start boots: what its boot script named. */
  image: string
  /** Keep it down at its next reboot ("never comes back"). */
  stayDown: boolean
  /** This boot's id (SHOAL_BOOT_ID, agent/upgrade/boot-id.ts): new at every boot, kept by an agent restart. */
  bootId: string
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
  /**
   * Awaited at each reboot before the machine goes down (before its OSDs stop): a test that
   * asks Ceph what it looked like at the moment of the reboot must ask here, or it races its
   * own host's OSD stopping (its PGs peer) and reads the reboot's effect as its cause.
   */
  atReboot?: (id: string, at: number) => Promise<void>
  /** Extra environment for a worker's agent, at every (re)start (e.g. SHOAL_TEST_NEXT_MINOR=1 for a next-minor build). */
  env?: (id: string) => Record<string, string>
}

export class LiveCluster extends EventEmitter {
  readonly workers: LiveWorker[] = []
  readonly kube = new FakeKubeApiServer({ reschedule: true })
  coordinator!: LiveCoordinator
  /** The agent processes. */
  processes!: LocalCluster
  cluster = ''
  dir = ''
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
    this.coordinator = new LiveCoordinator({ images: this.opts.images, vote: liveVote, meshTiming: 'shared', onLog: (j) => this.emit('log', 'coordinator', j) })
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
    const ceph = this.opts.ceph
    // Every worker's failure domain is RACK: its CRUSH host sits there before any agent starts
    // (an agent would move it at its first gate round, and that data movement ran under the
    // first wave).
    await ceph?.placeUnderRack(RACK)
    const coordinator = this.coordinator
    this.processes = await LocalCluster.create({
      nodes: this.opts.workers.length,
      machine: (i) => ({ id: this.opts.workers[i]!, domain: RACK }),
      bootstrapAddress: coordinator.bootstrap,
      image: this.opts.images[0]!,
      // Each machine: a key, a MAC; it asks for its boot script (image) and enrolls. The roster is the coordinator's.
      roster: async (agents) => {
        for (const a of agents) {
          const w = Object.assign(a, { mac: `52:54:00:5e:00:${(a.index + 1).toString(16).padStart(2, '0')}`, image: '', stayDown: false, bootId: randomUUID() })
          await coordinator.enroll({ id: w.id, mac: w.mac, publicKey: w.key })
          w.image = (await coordinator.bootScript(w.mac)).image
          this.workers.push(w)
        }
        return coordinator.roster()
      },
      logLevel: this.opts.logLevel ?? 'info',
      ...(this.opts.readyTimeoutMs !== undefined ? { readyTimeoutMs: this.opts.readyTimeoutMs } : {}),
      // The roster names the coordinator's mesh peer and its key, which signs the wave.
      agentConfig: () => ({
        upgrade: {
          coordinatorKey: coordinator.publicKey,
          coordinatorUrl: coordinator.url,
          kubeconfig,
          ...(ceph ? { cephConf: ceph.conf, cephKeyring: ceph.keyring } : { skip: ['ceph'] }),
          rebooter: 'exit',
          gateIntervalMs: 1000,
          verifyPollMs: 300,
          drainDeadlineMs: 20_000,
          vote: liveVote,
          ...this.opts.upgrade,
        } satisfies Partial<UpgradeConfig>,
      }),
      env: (a) => ({ ...(ceph ? { CEPH_CONF: ceph.conf } : {}), SHOAL_BOOT_ID: (a as LiveWorker).bootId, ...this.opts.env?.(a.id) }),
      onLog: (id, j) => this.emit('log', id, j),
      onExit: (a, code) => {
        if (code === REBOOT_EXIT_CODE && !this.stopping) void this.reboot(a as LiveWorker)
        // A node verb's shutdown: the machine goes down and stays down until powerOn().
        if (code === POWEROFF_EXIT_CODE && !this.stopping) {
          ;(a as LiveWorker).stayDown = true
          void this.reboot(a as LiveWorker)
        }
      },
    })
    this.cluster = this.processes.cluster
    await Promise.all(this.workers.map((w) => this.spawn(w)))
  }

  /** Starts (or restarts) a worker's agent on `w.image`; resolves when its API is up. */
  async spawn(w: LiveWorker): Promise<LiveWorker> {
    await this.processes.start(w.index)
    return w
  }

  /**
   * The agent crashes (SIGKILL) and its supervisor starts it again in the same boot: the
   * machine does not go down (kube stays Ready, its OSDs run), its boot id stays.
   */
  async restartAgent(id: string): Promise<LiveWorker> {
    const w = this.worker(id)
    await this.processes.kill(w.index, 'SIGKILL')
    return this.spawn(w)
  }

  /** What happens to a machine that reboots: down (kube NotReady, OSDs stopped), then up on its boot script's image. */
  private async reboot(w: LiveWorker): Promise<void> {
    const at = Date.now()
    this.emit('reboot', w.id, at)
    await this.opts.atReboot?.(w.id, at).catch((err) => this.errors.push(err as Error))
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
    w.bootId = randomUUID()
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
    await this.processes?.stop()
    await this.kube.close()
    await this.coordinator?.close()
    if (this.dir) await rm(this.dir, { recursive: true, force: true })
  }
}
