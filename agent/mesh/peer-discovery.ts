/**
 * Finding peers on the cluster topic (hyperswarm's peer-discovery idea, our schedule):
 * we announce on the topic and look it up ourselves — every `intervalMs` while we have
 * fewer than `seedDegree` links, every `idleIntervalMs` after (hyperswarm alone
 * re-queries only every ~10 min, so nodes that join together would never find each
 * other) — and dial discovered peers until the seed degree is in reach. Only a seed: once
 * a node knows members, the mesh (MeshNode) grows the overlay to its target.
 */
import type Hyperswarm from 'hyperswarm'
import type { Logger, Rng } from '../protocol/ports.js'
import { shuffle } from '../protocol/random.js'
import type { Roster } from '../protocol/roster.js'
import type { TransportStats } from './transport-stats.js'

export interface PeerDiscoveryOptions {
  selfId: string
  selfKey: string
  topic: Buffer
  roster: Roster
  seedDegree: number
  intervalMs: number
  idleIntervalMs: number
  rng: Rng
  stats: TransportStats
  log: Logger
  /** Open links, by peer id. */
  links: { has(peer: string): boolean; readonly size: number }
  /** Dials in flight or held off. */
  dials: { busy(peer: string): boolean; inFlight(): number; reach(peer: string, key: string, wanted?: () => boolean): void }
}

export class PeerDiscovery {
  private swarm: Hyperswarm | undefined
  private readonly discovered = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private running = false
  private closed = false

  constructor(private readonly o: PeerDiscoveryOptions) {}

  /** Starts looking up the topic at once. */
  start(swarm: Hyperswarm): void {
    this.swarm = swarm
    this.schedule(0)
  }

  /** A link closed: if we are under the seed degree, look again soon. */
  linkLost(): void {
    if (!this.closed && this.o.links.size < this.o.seedDegree) this.schedule(this.o.intervalMs)
  }

  close(): void {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
  }

  private schedule(delayMs: number): void {
    if (this.closed) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => void this.lookup(), delayMs)
    this.timer.unref?.()
  }

  private async lookup(): Promise<void> {
    const { o } = this
    if (this.closed || !this.swarm || this.running) return
    this.running = true
    try {
      const stream = this.swarm.dht.lookup(o.topic)
      for await (const reply of stream) {
        for (const p of reply.peers) {
          const hex = p.publicKey.toString('hex')
          if (hex === o.selfKey || !o.roster.idOf(hex)) continue
          if (!this.discovered.has(hex)) {
            this.discovered.add(hex)
            o.stats.discovered = this.discovered.size
          }
        }
        if (this.closed) break
      }
    } catch (err) {
      if (!this.closed) o.log.debug({ component: 'mesh.transport', node: o.selfId, err: (err as Error).message }, 'topic lookup failed')
    } finally {
      this.running = false
    }
    if (this.closed) return
    o.log.debug({ component: 'mesh.transport', node: o.selfId, discovered: this.discovered.size, links: o.links.size }, 'topic lookup done')
    this.topUp()
    this.schedule(o.links.size < o.seedDegree ? o.intervalMs : o.idleIntervalMs)
  }

  /**
   * Dials discovered peers, chosen at random (one smaller key among them if there is one),
   * until the seed degree is in reach. Not smaller keys first: every node preferring them
   * left the smallest keys of a cluster powered on at once with a dozen seed links each (and
   * the overlay's growth on top). A greater key is
   * dialled after the dial policy's hold-off, and only if we are still short of seeds by
   * then: while a cluster forms at once, the links others dial fill the seeds meanwhile.
   */
  private topUp(): void {
    const { o } = this
    const want = o.seedDegree - o.links.size - o.dials.inFlight()
    if (want <= 0) return
    const candidates: [string, string][] = []
    for (const hex of this.discovered) {
      const id = o.roster.idOf(hex)
      if (!id || o.links.has(id) || o.dials.busy(id)) continue
      candidates.push([id, hex])
    }
    shuffle(candidates, o.rng)
    // One smaller key among them if there is one: it is dialled at once, so a node joining
    // a running cluster has its first link without a hold-off.
    const smaller = candidates.findIndex(([, hex]) => hex < o.selfKey)
    if (smaller >= want) [candidates[0], candidates[smaller]] = [candidates[smaller]!, candidates[0]!]
    for (const [id, hex] of candidates.slice(0, want)) o.dials.reach(id, hex, this.short)
  }

  private readonly short = (): boolean => this.o.links.size < this.o.seedDegree
}
