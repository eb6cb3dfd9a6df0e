/**
 * A simulated shoal mesh: the production MeshNode (agent/protocol/mesh-node.ts) on the
 * simulator, with a roster of enrolled nodes, stand-in keys, synthetic but realistically
 * sized records, and a Knowledge tracker for convergence figures.
 *
 * Nodes are `w0001`, `w0002`, ... All roster members are enrolled up front (the join
 * scenario starts some later); each keeps its key across restarts, as a real worker
 * re-derives it from its enrollment.
 */
import { meshConfig, type MeshConfig } from '../../agent/protocol/mesh-config.js'
import { MeshNode } from '../../agent/protocol/mesh-node.js'
import { signRecord, type NodeRecordBody } from '../../agent/protocol/node-record.js'
import { memberNumber } from '../../agent/protocol/member-table.js'
import { recordSnapshot } from '../../agent/protocol/record-snapshot.js'
import type { Keyring } from '../../agent/protocol/ports.js'
import { Roster } from '../../agent/protocol/roster.js'
import { Knowledge } from './knowledge.js'
import type { NetworkConfig } from './network.js'
import { SimKeyAuthority } from './sim-keyring.js'
import { SimRng } from './rng.js'
import { SharedRecords } from './shared-records.js'
import { SmallFrames } from './small-frames.js'
import { meshCodec, Simulation, type ProcessContext } from './simulation.js'

export interface MeshClusterOptions {
  seed: number
  /** Roster size: every node that may run in this simulation. */
  rosterSize: number
  /** Overrides of the `sim` mesh preset (which equals production's `lan`). */
  mesh?: Partial<MeshConfig>
  network?: Partial<NetworkConfig>
}

export type MeshSim = Simulation<MeshNode>

export class MeshCluster {
  readonly sim: MeshSim
  readonly roster: Roster
  readonly ids: readonly string[]
  readonly knowledge: Knowledge
  readonly config: MeshConfig
  /** Every signed record of the run, one object each, shared by all the nodes that hold it. */
  readonly records = new SharedRecords()
  private readonly keyrings = new Map<string, Keyring>()

  constructor(opts: MeshClusterOptions) {
    if (!Number.isInteger(opts.rosterSize) || opts.rosterSize < 1) throw new RangeError(`rosterSize must be a positive integer, got ${opts.rosterSize}`)
    this.config = meshConfig(opts.mesh ?? {}, 'sim')
    const width = Math.max(4, String(opts.rosterSize).length)
    this.ids = Array.from({ length: opts.rosterSize }, (_, i) => `w${String(i + 1).padStart(width, '0')}`)
    // Keys come from their own stream of the seed, so adding a network fault does not re-key the run.
    const authority = new SimKeyAuthority(new SimRng(opts.seed).fork())
    for (const id of this.ids) this.keyrings.set(id, authority.issue())
    // Number the roster's ids up front, so each node's member table is sized for all of
    // them at once (one allocation, not one per node started so far and one more later).
    for (const id of this.ids) memberNumber(id)
    this.roster = new Roster(this.ids.map((id) => ({ id, key: this.keyrings.get(id)!.publicKey })))
    this.sim = new Simulation<MeshNode>({ seed: opts.seed, network: opts.network, factory: (ctx) => this.makeNode(ctx), codec: this.records.codec(new SmallFrames(meshCodec)) })
    this.knowledge = new Knowledge(this.sim, this.ids)
  }

  private makeNode(ctx: ProcessContext): MeshNode {
    const keyring = this.keyrings.get(ctx.id)
    if (!keyring) throw new RangeError(`node ${ctx.id} is not on the simulated roster`)
    return new MeshNode({ self: syntheticSelf(ctx.id, this.ids.indexOf(ctx.id)), config: this.config, roster: this.roster, keyring, rng: ctx.rng }, ctx.now)
  }

  /** A roster member's key, to sign what that member says (an insider's lies, in tests). */
  keyringOf(id: string): Keyring {
    const k = this.keyrings.get(id)
    if (!k) throw new RangeError(`node ${id} is not on the simulated roster`)
    return k
  }

  /** Starts the first `n` roster nodes at the current instant, one after another (each meets a few earlier ones). */
  startFirst(n: number): void {
    for (const id of this.ids.slice(0, n)) this.sim.start(id)
  }

  /**
   * Warm start: starts the first `n` roster nodes and hands each, before any link is up,
   * the current signed records of all the others, as if it had synced before the
   * measurement began. The records are checked once (signature, schema, roster: a
   * RecordSnapshot) and each node's table takes them whole (MeshNode.adopt), in id order;
   * the snapshot bypasses the network (it is not counted as traffic) and emits no events
   * (the knowledge tracker is told directly). The overlay then forms by the protocol
   * itself. It spares the O(N^2) cold-start exchange that would otherwise dominate a large
   * run's wall time; `startFirst` is the cold start. The table each node ends with is what
   * N-1 records through the receive path left (the simulator's output for a seed was
   * byte-identical), at a fraction of the cost: 10^8 record applications at N=10,000.
   */
  warmStart(n: number): void {
    this.startFirst(n)
    const ids = this.ids.slice(0, n)
    const signed = ids.map((id) => this.records.intern(signRecord(this.sim.process(id)!.self(), this.keyrings.get(id)!).signed))
    // At this instant, after what starting the nodes scheduled for it (as a sync that
    // arrived then would be).
    this.sim.at(this.sim.now, () => {
      const snapshot = recordSnapshot(signed, this.roster, this.keyrings.get(ids[0]!)!)
      for (const id of ids) {
        const node = this.sim.process(id)
        if (!node) continue
        node.adopt(snapshot, this.sim.clock)
        this.knowledge.adopted(id, snapshot.entries, this.sim.now)
      }
    })
  }

  /**
   * Runs until every up node sees every other one alive with its current record.
   * Returns the virtual ms that took, or undefined if `deadlineMs` passed first.
   */
  runToConvergence(deadlineMs: number): number | undefined {
    const from = this.sim.now
    const at = this.sim.runUntilTrue(() => this.knowledge.converged(), from + deadlineMs)
    return at === undefined ? undefined : at - from
  }

  /** Sum of bytes sent by every node so far. */
  totalSentBytes(ids: readonly string[] = this.sim.ids()): number {
    let sum = 0
    for (const id of ids) sum += this.sim.traffic(id).sentBytes
    return sum
  }
}

/**
 * A believable worker record: inventory, health and component digests sized like a real
 * agent's (~400 bytes signed), so byte counts mean something.
 */
export function syntheticSelf(id: string, i: number): Omit<NodeRecordBody, 'key' | 'inc' | 'ver'> {
  return {
    id,
    image: 'v1.0.0',
    phase: 'ready',
    domain: `rack-${(i % 8) + 1}`,
    api: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:7946`,
    inv: {
      vendor: 'Supermicro',
      product: 'SYS-1029U-TRT',
      cpuModel: 'Intel(R) Xeon(R) Silver 4214 CPU @ 2.20GHz',
      cpuCores: 24,
      memoryBytes: 192 * 2 ** 30,
      disks: 4,
      diskBytes: 4 * 3.84e12,
      nics: 2,
      gpus: 0,
    },
    health: { status: 'ok', kubeletReady: true, osdsUp: 4, osdsTotal: 4, conditions: [] },
    comps: [`board:${hex(i, 1)}`, `disk:${hex(i, 2)}`, `disk:${hex(i, 3)}`, `nic:${hex(i, 4)}`],
    work: { pods: 20 + (i % 17), load: (i % 10) / 10 },
  }
}

function hex(i: number, salt: number): string {
  return ((Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(salt, 0x85ebca6b)) >>> 0).toString(16).padStart(8, '0')
}
