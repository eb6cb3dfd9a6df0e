/**
 * A stand-in for the coordinator's wave side, for the live wave test while
 * coordinator/waves is being built: a mesh peer `coordinator` (the agents' MeshRuntime,
 * MeshNode and SwarmTransport), a VoteNode of role 'coordinator' (signs and publishes the
 * wave, tie-breaks, answers sync), the signed wave control (running/paused/aborted, node
 * timeout) re-broadcast every `announceMs`, and POST /v1/assign that grants the wave's
 * target only to the node the coordinator's own vote view shows holding (slot, term),
 * with the node's signature over assignSigningText. Refusals are counted and kept.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { z } from 'zod'
import { MeshRuntime, nodeIdentity, parseHostPort, realClock, SwarmTransport, systemRng, type NodeIdentity } from '../../agent/mesh/index.js'
import { pack } from '../../agent/protocol/frame.js'
import { meshConfig, type MeshConfig } from '../../agent/protocol/mesh-config.js'
import { MeshNode } from '../../agent/protocol/mesh-node.js'
import type { Roster } from '../../agent/protocol/roster.js'
import { encodeVoteMessage, VOTE_TOPIC, VoteNode, voteConfig, type VoteConfig } from '../../agent/protocol/vote/index.js'
import { signControl, WAVE_CONTROL_TOPIC, WaveGate, type WaveState } from '../../agent/protocol/wave-control.js'
import { MeshClusterView } from '../../agent/upgrade/mesh-cluster-view.js'
import { assignSigningText } from '../../agent/upgrade/real-steps.js'
import { VoteRuntime } from '../../agent/upgrade/vote-runtime.js'

export const COORDINATOR_ID = 'coordinator'

const AssignBody = z.object({ node: z.string(), wave: z.string(), slot: z.number().int().nonnegative(), term: z.number().int().positive(), sig: z.string().regex(/^[0-9a-f]+$/) }).strict()

export interface StandInOptions {
  seed: Uint8Array
  cluster: string
  bootstrap: string
  roster: Roster
  mesh?: Partial<MeshConfig>
  vote?: Partial<VoteConfig>
  /** Control + wave re-broadcast interval. 1 s: a booted node learns both within a second. */
  announceMs?: number
}

export interface Assignment {
  node: string
  image: string
  wave: string
  slot: number
  term: number
  at: number
}

export class StandInCoordinator {
  readonly identity: NodeIdentity
  readonly runtime: MeshRuntime
  readonly vote: VoteNode
  readonly voteRuntime: VoteRuntime
  readonly assignments: Assignment[] = []
  readonly refused: { node: string; code: string; message: string }[] = []
  /** node -> image its boot script would boot now. */
  readonly bootImage = new Map<string, string>()
  url = ''
  private readonly view: MeshClusterView
  private readonly gate: WaveGate
  private server: Server | undefined
  private timer: NodeJS.Timeout | undefined
  private state: WaveState = 'running'
  private nodeTimeoutMs = 60_000

  constructor(private readonly o: StandInOptions) {
    this.identity = nodeIdentity(o.seed)
    const mesh = meshConfig(o.mesh ?? {})
    const transport = new SwarmTransport({
      selfId: COORDINATOR_ID,
      identity: this.identity,
      roster: o.roster,
      clusterId: o.cluster,
      bootstrap: [parseHostPort(o.bootstrap)],
      host: '127.0.0.1',
      seedDegree: Math.min(3, mesh.targetDegree),
      maxDegree: mesh.maxDegree,
      maxBadFramesPerPeer: mesh.maxBadFramesPerPeer,
    })
    const node = new MeshNode(
      {
        self: { id: COORDINATOR_ID, image: '', phase: 'ready', domain: 'controller', inv: {}, health: { status: 'ok', conditions: [] }, comps: [] },
        config: mesh,
        roster: o.roster,
        keyring: this.identity.keyring,
        rng: systemRng,
      },
      realClock.now(),
    )
    this.runtime = new MeshRuntime(COORDINATOR_ID, node, transport, realClock)
    this.gate = new WaveGate(this.identity.publicKey, this.identity.keyring)
    this.view = new MeshClusterView(this.runtime, realClock, this.gate)
    this.runtime.on('event', (e) => {
      if (e.type === 'record' || e.type === 'member') this.view.invalidate()
    })
    this.vote = new VoteNode({
      id: COORDINATOR_ID,
      keyring: this.identity.keyring,
      view: this.view,
      config: voteConfig(o.vote ?? {}),
      coordinatorKey: this.identity.publicKey,
      role: 'coordinator',
      now: realClock.now(),
      mayHaveForgotten: false,
    })
    this.voteRuntime = new VoteRuntime({ vote: this.vote, mesh: this.runtime, clock: realClock, gate: this.gate })
  }

  get publicKey(): string {
    return this.identity.publicKey
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => {
        const reply = (status: number, json: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' })
          res.end(JSON.stringify(json))
        }
        if (req.method !== 'POST' || req.url !== '/v1/assign') return reply(404, { error: { code: 'not-found', message: req.url } })
        let parsed
        try {
          parsed = AssignBody.safeParse(JSON.parse(body))
        } catch {
          parsed = undefined
        }
        if (!parsed?.success) return reply(400, { error: { code: 'bad-request', message: 'invalid boot assignment request' } })
        const r = this.assign(parsed.data)
        return 'error' in r ? reply(403, r) : reply(200, r)
      })
    })
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    await this.runtime.start()
    this.voteRuntime.start()
    this.timer = setInterval(() => this.announce(), this.o.announceMs ?? 1000)
    this.timer.unref()
  }

  /** Signs and publishes a wave over `nodes` (ids on the roster) and sets it running. */
  startWave(w: { id: string; target: string; slots: number; nodes: string[]; nodeTimeoutMs: number }): void {
    const roster = w.nodes.map((id) => ({ id, key: this.o.roster.keyOf(id)! }))
    this.nodeTimeoutMs = w.nodeTimeoutMs
    this.state = 'running'
    this.view.roster = w.nodes
    this.voteRuntime.input({
      type: 'publish-wave',
      wave: { id: w.id, target: w.target, slots: w.slots, policy: 'rank', roster, coord: { id: COORDINATOR_ID, key: this.identity.publicKey }, startedAt: realClock.now() },
    })
    this.announce()
  }

  setState(state: WaveState): void {
    this.state = state
    this.announce()
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.voteRuntime.close()
    await this.runtime.close()
    const s = this.server
    if (s) {
      s.closeAllConnections()
      await new Promise<void>((resolve) => s.close(() => resolve()))
    }
  }

  private announce(): void {
    const w = this.vote.currentWave()
    if (!w) return
    const ctl = signControl({ wave: w.id, seq: realClock.now(), state: this.state, nodeTimeoutMs: this.nodeTimeoutMs, alerts: [] }, this.identity.keyring)
    this.gate.onControl(ctl)
    this.runtime.input({ type: 'broadcast', topic: WAVE_CONTROL_TOPIC, body: pack(ctl) })
    this.runtime.input({ type: 'broadcast', topic: VOTE_TOPIC, body: encodeVoteMessage(w) })
  }

  private assign(r: z.infer<typeof AssignBody>): Assignment | { error: { code: string; message: string } } {
    const refuse = (code: string, message: string) => {
      this.refused.push({ node: r.node, code, message })
      return { error: { code, message } }
    }
    const w = this.vote.currentWave()
    if (!w || w.id !== r.wave) return refuse('unknown-wave', `no wave ${r.wave}`)
    if (this.state !== 'running' && this.state !== 'paused') return refuse('wave-not-running', `wave ${w.id} is ${this.state}`)
    const key = w.roster.find((e) => e.id === r.node)?.key
    if (!key) return refuse('not-in-wave', `${r.node} is not on wave ${w.id}'s roster`)
    if (!this.identity.keyring.verify(key, new TextEncoder().encode(assignSigningText(r)), Buffer.from(r.sig, 'hex'))) return refuse('bad-signature', `not ${r.node}'s signature`)
    const s = this.vote.snapshot().slots[r.slot]
    if (!s || s.grant?.holder !== r.node || s.grant.term !== r.term || s.forcedUpTo >= r.term) return refuse('no-lease', `no grant of slot ${r.slot} term ${r.term} to ${r.node} seen yet`)
    const a: Assignment = { node: r.node, image: w.target, wave: w.id, slot: r.slot, term: r.term, at: realClock.now() }
    this.assignments.push(a)
    this.bootImage.set(r.node, w.target)
    return a
  }
}
