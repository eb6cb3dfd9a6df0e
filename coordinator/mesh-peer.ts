/**
 * The coordinator as a mesh peer: the very MeshNode + SwarmTransport + MeshRuntime an agent
 * runs (agent/mesh), under the id `coordinator` with its own key. The key's seed lives in
 * the coordinator's level state (`meta!mesh-seed`), so a restarted coordinator is the same
 * peer; its public key is what agents pin as the coordinator's vote key (it signs waves,
 * force-releases and wave control messages). The roster entry for it is added to every
 * roster the coordinator signs (enrollment answers and GET /v1/roster), and the mesh's own
 * roster follows enrollments while it runs.
 */
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { MeshRuntime, nodeIdentity, parseHostPort, realClock, SwarmTransport, systemRng, type NodeIdentity } from '../agent/mesh/index.js'
import type { MeshParam } from '../agent/protocol/kernel-params/index.js'
import { meshConfig, type MeshConfig } from '../agent/protocol/mesh-config.js'
import { MeshNode } from '../agent/protocol/mesh-node.js'
import { silentLogger, type Clock, type Logger } from '../agent/protocol/ports.js'
import { COORDINATOR_MEMBER_ID, Roster, type RosterEntry } from '../agent/protocol/roster.js'
import type { ClusterState } from './cluster-state.js'
import type { StateStore } from './state-store.js'

/** The coordinator's node id on the mesh and in rosters. Enrolled nodes cannot take it (enrollment ids come from hardware). */
export const COORDINATOR_MESH_ID = COORDINATOR_MEMBER_ID
const SEED_KEY = 'meta!mesh-seed'

/** Loads (or creates, once) the coordinator's mesh seed and derives its identity. */
export async function coordinatorIdentity(store: StateStore, random: (n: number) => Uint8Array = (n) => randomBytes(n)): Promise<NodeIdentity> {
  let seedHex = await store.get(SEED_KEY, z.string().regex(/^[0-9a-f]{64}$/))
  if (!seedHex) {
    seedHex = Buffer.from(random(32)).toString('hex')
    await store.put(SEED_KEY, seedHex)
  }
  return nodeIdentity(Buffer.from(seedHex, 'hex'))
}

export interface MeshPeerOptions {
  identity: NodeIdentity
  state: ClusterState
  /** DHT bootstrap `host:port`s (the coordinator's own bootstrap node). */
  bootstrap: string[]
  /** Address the peer's DHT binds (the provisioning LAN address; 127.0.0.1 on loopback). */
  host?: string
  clock?: Clock
  log?: Logger
  /**
   * Mesh timing overrides (config meshTiming): the same the coordinator hands its workers as
   * shoal.mesh=, so it does not suspect slow workers by a clock they do not keep. Absent: lan.
   */
  timing?: MeshParam
  /** How often the mesh roster is compared with the enrolled nodes. 1 s: a fresh enrollment joins the mesh within a gossip round. */
  rosterSyncMs?: number
}

/**
 * The mesh roster, caught up with the enrolled nodes on every lookup (a version compare):
 * a node enrolled a moment ago must not be refused by the firewall, because hyperswarm
 * bans a key it refused.
 */
class EnrolledRoster extends Roster {
  private seen = -1
  constructor(
    self: RosterEntry,
    private readonly state: ClusterState,
  ) {
    super([self])
  }
  catchUp(): void {
    if (this.state.rosterVersion === this.seen) return
    this.seen = this.state.rosterVersion
    for (const n of this.state.nodes.values()) if (super.keyOf(n.id) !== n.key) this.add({ id: n.id, key: n.key })
  }
  override keyOf(id: string): string | undefined {
    this.catchUp()
    return super.keyOf(id)
  }
  override idOf(key: string): string | undefined {
    this.catchUp()
    return super.idOf(key)
  }
  override admits(id: string, key: string): boolean {
    this.catchUp()
    return super.admits(id, key)
  }
  override ids(): string[] {
    this.catchUp()
    return super.ids()
  }
  override get size(): number {
    this.catchUp()
    return super.size
  }
}

export class CoordinatorMeshPeer {
  readonly runtime: MeshRuntime
  readonly roster: EnrolledRoster
  /** The mesh configuration this peer runs (preset + timing). */
  readonly meshConfig: MeshConfig
  private readonly transport: SwarmTransport
  private timer: NodeJS.Timeout | undefined
  private started = false

  constructor(private readonly opts: MeshPeerOptions) {
    const log = (opts.log ?? silentLogger) as Logger
    const id = opts.identity
    this.roster = new EnrolledRoster({ id: COORDINATOR_MESH_ID, key: id.publicKey }, opts.state)
    this.roster.catchUp()
    const mesh = meshConfig(opts.timing?.mesh ?? {})
    this.meshConfig = mesh
    this.transport = new SwarmTransport({
      selfId: COORDINATOR_MESH_ID,
      identity: id,
      roster: this.roster,
      clusterId: opts.state.clusterId,
      bootstrap: opts.bootstrap.map(parseHostPort),
      ...(opts.host ? { host: opts.host } : {}),
      seedDegree: Math.min(3, mesh.targetDegree),
      maxDegree: mesh.maxDegree,
      maxBadFramesPerPeer: mesh.maxBadFramesPerPeer,
      ...(opts.timing?.silentLinkMs !== undefined ? { silentLinkMs: opts.timing.silentLinkMs } : {}),
      logger: log,
    })
    const clock = opts.clock ?? realClock
    const node = new MeshNode(
      {
        self: { id: COORDINATOR_MESH_ID, image: '', phase: 'ready', domain: 'controller', inv: {}, health: { status: 'ok', conditions: [] }, comps: [] },
        config: mesh,
        roster: this.roster,
        keyring: id.keyring,
        rng: systemRng,
        logger: log,
      },
      clock.now(),
    )
    // The mesh's timers run on real time: hyperswarm does too.
    this.runtime = new MeshRuntime(COORDINATOR_MESH_ID, node, this.transport, realClock, log)
  }

  get publicKey(): string {
    return this.opts.identity.publicKey
  }

  /** Enrolled nodes not yet on the mesh roster are added (a removed node stays until restart: peers refuse it by the signed roster). */
  syncRoster(): void {
    this.roster.catchUp()
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    await this.runtime.start()
    this.timer = setInterval(() => this.syncRoster(), this.opts.rosterSyncMs ?? 1000)
    this.timer.unref()
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    await this.runtime.close()
  }

  /** The entry the coordinator adds to the rosters it signs. */
  rosterEntry(): RosterEntry {
    return { id: COORDINATOR_MESH_ID, key: this.publicKey }
  }
}
