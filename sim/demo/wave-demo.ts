/**
 * `npm start -- --wave`: the demo cluster with a real coordinator (coordinator/coordinator.ts
 * in this process: enrollment, boot scripts, its DHT bootstrap node and mesh peer, the
 * waves API) holding two image versions, and a fake Kubernetes API (sim/fakes) the agents
 * cordon and drain against. Every agent enrolls with its key and takes part in upgrade
 * waves; a "reboot" is the agent exiting 75, and this supervisor starts it again on the
 * image its boot script names now — the version the coordinator assigned on lease proof.
 * Ceph is skipped on purpose (every gate verdict says so).
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freeUdpPort } from '../../agent/mesh/bootstrap-node.js'
import { REBOOT_EXIT_CODE } from '../../agent/upgrade/real-steps.js'
import { renderStatus } from '../../cli/commands/upgrade.js'
import { Coordinator } from '../../coordinator/coordinator.js'
import { mergeConfig } from '../../coordinator/coordinator-config.js'
import { bootScriptOf, enrollMachine, smallImage, writeImages } from '../../coordinator/testing.js'
import { WaveStatus } from '../../coordinator/waves/wave-api.js'
import { FakeKubeApiServer } from '../fakes/kube-api-server.js'
import { LocalCluster, type LocalAgent } from './local-cluster.js'

export const DEMO_FROM = 'v1.0.0'
export const DEMO_TO = 'v2.0.0'
const ADMIN_TOKEN_BYTES = 24

export interface WaveDemoEvents {
  /** An agent "rebooted" (exited 75) and is starting again on `image`. */
  reboot(id: string, image: string): void
  /** A restart failed. */
  error(id: string, err: Error): void
}

export class WaveDemo {
  private stopping = false

  private constructor(
    readonly dir: string,
    readonly adminToken: string,
    readonly coordinator: Coordinator,
    readonly kube: FakeKubeApiServer,
    readonly cluster: LocalCluster,
    private readonly events: WaveDemoEvents,
  ) {}

  /** Coordinator (versions v1.0.0 and v2.0.0), fake Kubernetes API, `nodes` enrolled agents (not started). */
  static async create(nodes: number, events: WaveDemoEvents, onLog?: (node: string, line: Record<string, unknown>) => void): Promise<WaveDemo> {
    const dir = await mkdtemp(join(tmpdir(), 'shoal-wave-demo-'))
    const imagesDir = join(dir, 'images')
    // Image versions as `npm run layers` leaves them (small placeholder files: nothing boots from them here).
    await writeImages(imagesDir, { [DEMO_FROM]: smallImage, [DEMO_TO]: smallImage })
    const dhtPort = await freeUdpPort()
    const clusterId = `demo-${randomBytes(4).toString('hex')}`
    const adminToken = randomBytes(ADMIN_TOKEN_BYTES).toString('hex')
    const coordinator = new Coordinator(
      mergeConfig({
        dataDir: join(dir, 'coordinator'),
        imagesDir,
        httpPort: 0,
        dhtHost: '127.0.0.1',
        dhtPort,
        bootstrapAdvertise: [`127.0.0.1:${dhtPort}`],
        clusterId,
        defaultImage: DEMO_FROM,
        adminToken,
        meshTiming: 'shared',
      }),
    )
    await coordinator.start()
    const kube = new FakeKubeApiServer({ reschedule: true })
    await kube.start()
    const kubeconfig = join(dir, 'kubeconfig')
    await writeFile(kubeconfig, kube.kubeconfig())
    const coordinatorKey = coordinator.waves.identity.publicKey
    let demo: WaveDemo | undefined
    const cluster = await LocalCluster.create({
      nodes,
      cluster: clusterId,
      bootstrapAddress: `127.0.0.1:${dhtPort}`,
      image: DEMO_FROM,
      extraMembers: [{ id: 'coordinator', key: coordinatorKey }],
      agentConfig: {
        // One host clock: a 1 s clock-skew bound (a LAN's is 5 s), so agents started together just before the wave need not relearn from each other.
        upgrade: { coordinatorKey, coordinatorUrl: coordinator.url, kubeconfig, skip: ['ceph'], rebooter: 'exit', gateIntervalMs: 1000, verifyPollMs: 500, drainDeadlineMs: 20_000, vote: { maxClockSkewMs: 1000 } },
      },
      ...(onLog ? { onLog } : {}),
      onExit: (a, code) => {
        if (code === REBOOT_EXIT_CODE) void demo?.reboot(a)
      },
    })
    demo = new WaveDemo(dir, adminToken, coordinator, kube, cluster, events)
    for (const [i, a] of cluster.agents.entries()) {
      kube.addNode({ name: a.id, ready: true })
      kube.addPod({ name: `web-${i}`, node: a.id, owner: { kind: 'ReplicaSet', name: 'web-1' }, labels: { app: 'web' } })
      kube.addPod({ name: `proxy-${i}`, node: a.id, owner: { kind: 'DaemonSet', name: 'proxy' } })
      await demo.enroll(a, i)
    }
    return demo
  }

  get url(): string {
    return this.coordinator.url
  }

  private mac(i: number): string {
    return `52:54:00:de:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`
  }

  /** What a machine's PXE boot asks: its boot script names the image it boots. */
  async bootImage(i: number): Promise<string> {
    return (await bootScriptOf(this.url, this.mac(i))).image
  }

  private enroll(a: LocalAgent, i: number): Promise<void> {
    return enrollMachine(this.url, { id: a.id, mac: this.mac(i), publicKey: a.key, vendor: 'shoal-demo' })
  }

  /** A machine going down and up again: Kubernetes NotReady, then the agent on its boot script's image. */
  private async reboot(a: LocalAgent): Promise<void> {
    if (this.stopping) return
    this.kube.setNodeReady(a.id, false)
    try {
      a.image = await this.bootImage(a.index)
      this.events.reboot(a.id, a.image)
      await this.cluster.start(a.index)
      this.kube.setNodeReady(a.id, true)
    } catch (err) {
      if (!this.stopping) this.events.error(a.id, err as Error)
    }
  }

  /** An admin call to the waves API. */
  async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const json = (await res.json()) as { error?: { message?: string } }
    if (!res.ok) throw new Error(`${method} ${path}: ${json.error?.message ?? res.status}`)
    return json
  }

  /**
   * Waits (up to `deadlineMs`) until every agent's vote is out of its after-boot quiet
   * period: a wave started while most of the roster is still relearning waits on them.
   */
  async settled(deadlineMs = 60_000): Promise<boolean> {
    const end = Date.now() + deadlineMs
    while (Date.now() < end) {
      const states = await Promise.all(
        this.cluster.agents.map(async (a) => {
          if (!a.api) return false
          try {
            const j = (await (await fetch(`http://${a.api}/v1/self`, { signal: AbortSignal.timeout(2000) })).json()) as { wave?: { abstaining?: boolean; phase?: string } }
            return j.wave?.abstaining === false && j.wave.phase === 'ready'
          } catch {
            return false
          }
        }),
      )
      if (states.every(Boolean)) return true
      await new Promise((r) => setTimeout(r, 250))
    }
    return false
  }

  /**
   * Starts a wave to v2.0.0 and reports every node's state change until it is done (or
   * `deadlineMs` passes): `line` gets one line per change, then the final status table.
   */
  async runWave(maxUnavailable: number, line: (text: string) => void, deadlineMs = 600_000): Promise<WaveStatus> {
    let s = WaveStatus.parse(await this.call('POST', '/v1/waves', { target: DEMO_TO, maxUnavailable, failureDomain: 'none' }))
    line(`wave ${s.id} started: ${s.nodes.length} nodes ${s.previous ?? DEMO_FROM} -> ${s.target}, at most ${s.maxUnavailable} unavailable at a time`)
    const seen = new Map<string, string>()
    const end = Date.now() + deadlineMs
    for (;;) {
      for (const n of s.nodes) {
        const key = `${n.state}|${n.image ?? ''}`
        if (seen.get(n.node) === key) continue
        seen.set(n.node, key)
        if (n.state === 'waiting' && n.image === DEMO_FROM && !n.reason) continue
        line(`  ${n.node}  ${n.state.padEnd(9)} ${n.image ?? ''}${n.slot !== undefined ? `  slot ${n.slot}/${n.term}` : ''}${n.reason ? `  (${n.reason})` : ''}   [${s.progress.done}/${s.progress.total} done]`)
      }
      if (s.state === 'done' || s.state === 'aborted') break
      if (Date.now() > end) {
        line(`the wave is not done after ${Math.round(deadlineMs / 1000)} s; leaving it running`)
        break
      }
      await new Promise((r) => setTimeout(r, 250))
      s = WaveStatus.parse(await this.call('GET', `/v1/waves/${s.id}`))
    }
    line('')
    line(renderStatus(s))
    return s
  }

  async stop(): Promise<void> {
    this.stopping = true
    await this.cluster.stop()
    await this.kube.close()
    await this.coordinator.close()
    await rm(this.dir, { recursive: true, force: true })
  }
}
