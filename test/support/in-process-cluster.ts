/**
 * Agents in the test's own process (agent/main.ts startAgent) around a private DHT
 * bootstrap node on loopback (or a coordinator's): for tests that reach into an agent's
 * objects (its mesh runtime, its metrics registry, an injected inventory collector). A temp
 * dir holds the roster; every agent runs the `shared` mesh timing (MESH_TIMINGS). Tests that
 * want agents as separate processes use sim/demo/local-cluster.ts.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { resolveAgentConfig, type AgentConfig } from '../../agent/config.js'
import { startAgent, type RunningAgent, type StartAgentOptions } from '../../agent/main.js'
import { startBootstrapNode, type BootstrapNode } from '../../agent/mesh/index.js'
import type { MeshEvent } from '../../agent/protocol/mesh-types.js'
import { publicKeyHexFromSeed } from '../../agent/protocol/ed25519.js'
import { MESH_TIMINGS } from '../../agent/protocol/mesh-config.js'

export interface InProcessMember {
  id: string
  /** Default: a random seed. */
  seedHex?: string
}

/** A cluster that is not the harness's own: a coordinator's (its cluster id, its other roster members, its DHT bootstrap node). */
export interface InProcessClusterOptions {
  /** The cluster id (default: `name` and a random suffix). */
  cluster?: string
  /** Roster members that run no agent here (a coordinator, machines that stay down). */
  extraMembers?: { id: string; key: string }[]
  /** An existing DHT bootstrap node instead of one of our own (close() leaves it alone). */
  bootstrapAddress?: string
}

export class InProcessCluster {
  /** Every agent started, in start order (close() closes them all). */
  readonly agents: RunningAgent[] = []
  readonly members: { id: string; seedHex: string; key: string }[]

  private constructor(
    readonly cluster: string,
    readonly dir: string,
    readonly rosterFile: string,
    readonly bootstrap: BootstrapNode,
    members: { id: string; seedHex: string; key: string }[],
    private readonly extraMembers: { id: string; key: string }[],
  ) {
    this.members = members
  }

  /** A temp dir, the roster of `members` and a bootstrap node; no agent runs yet. `name` prefixes the cluster id and the temp dir. */
  static async create(name: string, members: InProcessMember[], opts: InProcessClusterOptions = {}): Promise<InProcessCluster> {
    const dir = await mkdtemp(join(tmpdir(), `shoal-${name}-`))
    const cluster = opts.cluster ?? `${name}-${randomBytes(3).toString('hex')}`
    const extra = opts.extraMembers ?? []
    const withKeys = members.map((m) => {
      const seedHex = m.seedHex ?? randomBytes(32).toString('hex')
      return { id: m.id, seedHex, key: publicKeyHexFromSeed(Buffer.from(seedHex, 'hex')) }
    })
    const rosterFile = join(dir, 'roster.json')
    await writeFile(rosterFile, JSON.stringify({ cluster, members: [...withKeys.map((m) => ({ id: m.id, key: m.key })), ...extra] }))
    let bootstrap: BootstrapNode
    try {
      bootstrap = opts.bootstrapAddress ? { address: opts.bootstrapAddress, close: async () => {} } : await startBootstrapNode()
    } catch (err) {
      await rm(dir, { recursive: true, force: true })
      throw err
    }
    return new InProcessCluster(cluster, dir, rosterFile, bootstrap, withKeys, extra)
  }

  /** Writes the roster again: the members plus `extra` (e.g. operators); running agents reread it. */
  writeRoster(extra: Record<string, unknown> = {}): Promise<void> {
    return writeFile(this.rosterFile, JSON.stringify({ cluster: this.cluster, members: [...this.members.map((m) => ({ id: m.id, key: m.key })), ...this.extraMembers], ...extra }))
  }

  /** Member `i`'s agent config: loopback, an ephemeral API port, no inventory collection, the shared timing; `extra` on top. */
  config(i: number, extra: Record<string, unknown> = {}): AgentConfig {
    const m = this.members[i]!
    return resolveAgentConfig({
      cluster: this.cluster,
      nodeId: m.id,
      seedHex: m.seedHex,
      rosterFile: this.rosterFile,
      bootstrap: [this.bootstrap.address],
      meshHost: '127.0.0.1',
      apiPort: 0,
      collectInventory: false,
      mesh: MESH_TIMINGS.shared.mesh,
      ...extra,
    })
  }

  /** Starts member `i`'s agent (silent logs unless `opts` names a logger). */
  async start(i: number, extra: Record<string, unknown> = {}, opts: StartAgentOptions = {}): Promise<RunningAgent> {
    const a = await startAgent(this.config(i, extra), { logger: pino({ level: 'silent' }), ...opts })
    this.agents.push(a)
    return a
  }

  /** Closes every agent, the bootstrap node, and removes the temp dir. */
  async close(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.close()))
    await this.bootstrap.close()
    await rm(this.dir, { recursive: true, force: true })
  }
}

/** Resolves once `agent` holds `n` members alive with their records (re-checked on each mesh event); rejects at the deadline. */
export function untilAlive(agent: RunningAgent, n: number, deadlineMs: number): Promise<void> {
  const done = () => agent.runtime.view().filter((v) => v.status === 'alive' && v.record).length >= n
  return new Promise<void>((resolve, reject) => {
    if (done()) return resolve()
    const on = (_e: MeshEvent) => {
      if (!done()) return
      clearTimeout(timer)
      agent.runtime.off('event', on)
      resolve()
    }
    const timer = setTimeout(() => {
      agent.runtime.off('event', on)
      reject(new Error(`${agent.id} did not see ${n} members alive within ${deadlineMs} ms`))
    }, deadlineMs)
    agent.runtime.on('event', on)
  })
}
