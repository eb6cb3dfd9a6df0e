/**
 * Test doubles for the vote: a static ClusterView and a tiny synchronous network that
 * delivers every effect in FIFO order, with per-link cuts. For unit tests; the simulator
 * (sim/wave) has the real fault model.
 */
import { fakeKeyring } from '../testing.js'
import type { ClusterView, NodeFacts } from './cluster-view.js'
import { voteConfig, type VoteConfig } from './vote-config.js'
import type { VoteMessage } from './vote-messages.js'
import { VoteNode, type PersistedVote, type VoteEffect, type VoteInput } from './vote-node.js'

export class StaticView implements ClusterView {
  readonly nodes = new Map<string, NodeFacts>()
  /** Pairs of hosts that share a PG with one replica to spare: stopping both makes it inactive. */
  readonly conflicts = new Set<string>()
  readonly undrainable = new Set<string>()
  /** Current roster keys that differ from the wave roster's (a node that booted again). */
  readonly keys = new Map<string, string>()
  /** Boot seconds the mesh shows (cold-start.ts); none known by default. */
  readonly boots = new Map<string, number>()
  bootSecond(id: string): number | undefined {
    return this.boots.get(id)
  }
  currentKey(id: string): string | undefined {
    return this.keys.get(id)
  }
  facts(id: string): NodeFacts | undefined {
    return this.nodes.get(id)
  }
  okToStop(hosts: readonly string[]): boolean {
    for (const a of hosts) for (const b of hosts) if (a < b && this.conflicts.has(`${a}|${b}`)) return false
    return true
  }
  drainable(id: string): boolean {
    return !this.undrainable.has(id)
  }
  conflict(a: string, b: string): void {
    this.conflicts.add(a < b ? `${a}|${b}` : `${b}|${a}`)
  }
  set(id: string, patch: Partial<NodeFacts>): void {
    this.nodes.set(id, { ...this.nodes.get(id)!, ...patch })
  }
}

export interface NetOptions {
  ids: string[]
  slots?: number
  policy?: 'rank' | 'one-at-a-time'
  domains?: Record<string, string>
  config?: Partial<VoteConfig>
  /** Nodes start as if they booted before the wave (no quiet period). Default true. */
  bootedBeforeWave?: boolean
}

export const COORD = 'coord'

/** N vote nodes plus a coordinator, wired through a FIFO queue. */
export class VoteNet {
  readonly view = new StaticView()
  readonly nodes = new Map<string, VoteNode>()
  readonly stores = new Map<string, PersistedVote>()
  readonly log: { node: string; effect: VoteEffect }[] = []
  /** Directed cuts "a>b", and nodes that are down. */
  readonly cut = new Set<string>()
  readonly down = new Set<string>()
  readonly cfg: VoteConfig
  now = 1_000_000
  private queue: { from: string; to: string; msg: VoteMessage }[] = []
  /** Optional tap: return false to drop a message. */
  filter: (from: string, to: string, msg: VoteMessage) => boolean = () => true

  constructor(readonly opts: NetOptions) {
    this.cfg = voteConfig(opts.config)
    for (const id of opts.ids) {
      this.view.nodes.set(id, { id, image: 'v1', domain: opts.domains?.[id] ?? 'd0', available: true, healthy: true, pods: 0, load: 0 })
    }
    this.nodes.set(COORD, this.make(COORD, 'coordinator', false))
    const justBooted = !(opts.bootedBeforeWave ?? true)
    for (const id of opts.ids) {
      this.nodes.set(id, this.make(id, 'node', justBooted))
      if (justBooted) this.view.boots.set(id, Math.floor(this.now / 1000))
    }
  }

  make(id: string, role: 'node' | 'coordinator', mayHaveForgotten: boolean, persisted?: PersistedVote): VoteNode {
    return new VoteNode({ id, role, keyring: fakeKeyring(id), view: this.view, config: this.cfg, coordinatorKey: fakeKeyring(COORD).publicKey, now: this.now, mayHaveForgotten, persisted })
  }

  node(id: string): VoteNode {
    return this.nodes.get(id)!
  }

  startWave(target = 'v2', id = 'w1'): void {
    this.input(COORD, {
      type: 'publish-wave',
      wave: {
        id,
        target,
        slots: this.opts.slots ?? 1,
        policy: this.opts.policy ?? 'rank',
        roster: this.opts.ids.map((i) => ({ id: i, key: fakeKeyring(i).publicKey })),
        coord: { id: COORD, key: fakeKeyring(COORD).publicKey },
        startedAt: this.now,
      },
    })
  }

  /** Steps `id` with `input` and carries out its effects; then drains the queue. */
  input(id: string, input: VoteInput): VoteEffect[] {
    const eff = this.stepOne(id, input)
    this.drain()
    return eff
  }

  /** Hands `msg` to `to` as if `from` sent it (bad-input tests), then drains. */
  inject(from: string, to: string, msg: VoteMessage): VoteEffect[] {
    return this.input(to, { type: 'message', from, msg })
  }

  /** Advances the clock by `ms`, ticking every node whose wake time passed (in small steps). */
  advance(ms: number, stepMs = 50): void {
    const end = this.now + ms
    while (this.now < end) {
      this.now = Math.min(end, this.now + stepMs)
      for (const [id, n] of this.nodes) if (!this.down.has(id) && n.nextWakeAt() <= this.now) this.stepOne(id, { type: 'tick' })
      this.drain()
    }
  }

  /** Pokes every node (view changed); `changed`: the members whose facts may differ since the last poke (absent: anyone). */
  poke(changed?: ReadonlySet<string>): void {
    const input: VoteInput = changed ? { type: 'view-changed', changed } : { type: 'view-changed' }
    for (const id of this.nodes.keys()) if (!this.down.has(id)) this.stepOne(id, input)
    this.drain()
  }

  /** A process restart: the new instance reads its store. */
  restartProcess(id: string): void {
    this.nodes.set(id, this.make(id, 'node', true, this.stores.get(id)))
  }

  /** A RAM boot: store gone, quiet period and relearning. */
  reboot(id: string): void {
    this.stores.delete(id)
    this.nodes.set(id, this.make(id, 'node', true))
  }

  effects(id: string, type?: VoteEffect['type']): VoteEffect[] {
    return this.log.filter((l) => l.node === id && (!type || l.effect.type === type)).map((l) => l.effect)
  }

  holders(): string[] {
    return [...this.nodes.values()].filter((n) => n.currentLease()).map((n) => n.id)
  }

  private stepOne(id: string, input: VoteInput): VoteEffect[] {
    if (this.down.has(id)) return []
    const eff = this.node(id).step(input, this.now)
    for (const e of eff) {
      this.log.push({ node: id, effect: e })
      if (e.type === 'persist') this.stores.set(id, structuredClone(e.state))
      else if (e.type === 'send') this.queue.push({ from: id, to: e.to, msg: e.msg })
      else if (e.type === 'broadcast') for (const to of this.nodes.keys()) if (to !== id) this.queue.push({ from: id, to, msg: e.msg })
    }
    return eff
  }

  private drain(): void {
    let guard = 0
    while (this.queue.length > 0) {
      if (++guard > 1_000_000) throw new Error('message storm')
      const { from, to, msg } = this.queue.shift()!
      if (this.down.has(to) || this.down.has(from) || this.cut.has(`${from}>${to}`) || !this.filter(from, to, msg)) continue
      this.stepOne(to, { type: 'message', from, msg })
    }
  }
}
