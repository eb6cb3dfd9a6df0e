/**
 * What each simulated node sees of the others: its ClusterView (agent/protocol/vote), built
 * over the ground truth with the mesh's gossip delay and the partitions in between.
 *
 * A node's facts (image, availability, health, pods, cycling) are production's rule
 * (agent/protocol/availability.ts) over the models. Its own change it sees at once; the
 * others see it `gossipDelayMs` later (the mesh's measured convergence), and not at all
 * across a partition. A view's version is the shared version x OWN_VERSIONS + the node's
 * own changes, so a vote's cached roster pass is redone exactly when what it sees changed.
 * After every change, once gossiped, every vote and every waiting cycle is poked.
 */
import type { ClusterView, NodeFacts } from '../../agent/protocol/vote/cluster-view.js'
import { inCycle, isAvailable, pastReboot, type AvailabilityInput } from '../../agent/protocol/availability.js'
import type { Phase } from '../../agent/protocol/node-record.js'
import type { SimNode } from './sim-node.js'
import { COORDINATOR } from './wave-constants.js'
import type { WaveWorld } from './wave-world.js'

/** A node's view version is shared version x OWN_VERSIONS + its own changes (fewer than this per run). */
const OWN_VERSIONS = 1_000_000

const AVAILABILITY_SCRATCH: AvailabilityInput = { liveness: 'alive', phase: 'ready', health: 'ok', cordoned: false }

const SIM_PHASE: Record<SimNode['phase'], Phase> = { idle: 'ready', draining: 'draining', rebooting: 'rebooting', verifying: 'verifying', failed: 'failed' }

export class NodeViews {
  /** Each node's boot second, as the mesh shows it (the coordinator holds a wave back at a cold start). */
  readonly bootSeconds = new Map<string, number>()
  /** The most nodes unavailable at once, as their records show it (WaveResult.maxUnavailable). */
  maxUnavailable = 0
  /** ClusterView.version, the shared part: a change became visible to the others, or the partitions changed. */
  private viewVersion = 0
  /** visibleLog[v]: whose change took the shared view from version v to v+1 (undefined: a partition changed). */
  private readonly visibleLog: (string | undefined)[] = []
  /** Nodes whose latest change becomes visible to others at changedAt + gossipDelayMs, oldest first. */
  private pendingVisible: SimNode[] = []
  private okCache = new Map<string, boolean>()
  private okCacheVersion = -1
  private pokeAt = -Infinity
  /** Facts changes not yet named to the votes: who, and when it changed (the others see it a gossip delay later), oldest first. */
  private unannounced: { id: string; changedAt: number }[] = []
  /** A partition changed what every node can see: the next poke names nobody (every vote runs in full). */
  private pokeAll = false
  private cephNextAt = Infinity

  constructor(private readonly w: WaveWorld) {}

  viewFor(self: SimNode): ClusterView {
    const w = this.w
    return {
      facts: (id) => {
        const o = w.nodes.get(id)
        if (!o || o === w.coord) return undefined
        if (o === self) return o.facts
        if (!w.partitions.reachable(self.id, id)) return undefined
        return w.t - o.changedAt < w.cfg.gossipDelayMs ? o.prev : o.facts
      },
      // Through the world: the seam a scenario replaces to model another port.
      okToStop: (hosts) => w.okToStop(hosts),
      drainable: (id) => (w.nodes.has(id) && id !== COORDINATOR ? w.kube.drainable(id, w.t) : false),
      // Changes when what `self` sees may change: its own facts, or a change reaching it.
      version: () => this.currentViewVersion() * OWN_VERSIONS + self.ownVersion,
      changedSince: (since) => this.changedSince(self, since),
      bootSecond: (id) => this.bootSeconds.get(id),
    }
  }

  /** Who may look different to `self` since its view's version `since` (undefined: a partition changed what it can see at all). */
  private changedSince(self: SimNode, since: number): string[] | undefined {
    const now = this.currentViewVersion()
    const from = Math.floor(since / OWN_VERSIONS)
    if (from > now) return undefined
    const out: string[] = []
    for (let i = from; i < now; i++) {
      const id = this.visibleLog[i]
      if (id === undefined) return undefined
      out.push(id)
    }
    if (since % OWN_VERSIONS !== self.ownVersion) out.push(self.id)
    return out
  }

  /** The shared view changed: because of `id` (its change reached the others), or of everything (a partition). */
  bumpView(id: string | undefined): void {
    if (id === undefined) this.pokeAll = true
    this.visibleLog[this.viewVersion] = id
    this.viewVersion++
  }

  /** The view's version now: a change turns visible to the others once the gossip delay passed. */
  currentViewVersion(): number {
    const q = this.pendingVisible
    while (q.length > 0 && this.w.t - q[0]!.changedAt >= this.w.cfg.gossipDelayMs) {
      const n = q.shift()!
      // What the others saw (prev) gives way to the latest facts: a version only if it matters.
      if (n.prev.available !== n.facts.available || n.prev.image !== n.facts.image) this.bumpView(n.id)
    }
    return this.viewVersion
  }

  /** The voters' ok-to-stop port: the Ceph model, cached per Ceph version. */
  okToStop(hosts: readonly string[]): boolean {
    const ceph = this.w.ceph
    if (this.okCacheVersion !== ceph.version) {
      this.okCache.clear()
      this.okCacheVersion = ceph.version
    }
    const key = hosts.length === 1 ? hosts[0]! : hosts.length === 2 ? pairKey(hosts[0]!, hosts[1]!) : hosts.length === 3 ? tripleKey(hosts[0]!, hosts[1]!, hosts[2]!) : [...hosts].sort().join(',')
    let v = this.okCache.get(key)
    if (v === undefined) {
      v = ceph.okToStop(hosts)
      this.okCache.set(key, v)
    }
    return v
  }

  /** The node's facts from the models; `same` itself when they equal it (no new object: every Ceph change re-reads every node). */
  computeFacts(n: SimNode, same?: NodeFacts): NodeFacts {
    const w = this.w
    // Production's rule over the model: a kubelet not Ready is what makes a record critical.
    const a = AVAILABILITY_SCRATCH // hot: every refresh of every node; one object, refilled
    a.liveness = n.up ? 'alive' : 'dead'
    a.phase = SIM_PHASE[n.phase]
    a.health = n.kubeletReady ? 'ok' : 'critical'
    a.cordoned = n.cordoned
    const available = isAvailable(a)
    const healthy = n.up && n.kubeletReady && n.idx >= 0 && w.ceph.hostClean(n.id, w.t)
    const pods = n.idx >= 0 ? w.kube.podCount(n.id) : 0
    const cycling = inCycle(a)
    const rebooted = pastReboot(a)
    const o = same
    if (o && o.available === available && o.healthy === healthy && o.image === n.image && o.pods === pods && o.cycling === cycling && o.rebooted === rebooted && o.domain === n.domain && o.load === n.load) return o
    return { id: n.id, image: n.image, domain: n.domain, available, healthy, pods, load: n.load, cycling, rebooted }
  }

  /** Re-reads a node's facts; a change reaches the others after the gossip delay. */
  refresh(n: SimNode): void {
    const w = this.w
    if (n === w.coord) return
    // Changes that turned visible before this one are logged first, whoever asked for the
    // version since: otherwise a node changing again after its last change turned visible,
    // with no version asked between, dropped that change from the log, and a vote's cached
    // roster pass kept the older facts until the next change (the log depended on when the
    // votes happened to look).
    this.currentViewVersion()
    const o = n.facts
    const f = this.computeFacts(n, o)
    if (f === o) return
    n.prev = w.t - n.changedAt < w.cfg.gossipDelayMs ? n.prev : n.facts
    n.facts = f
    n.changedAt = w.t
    if (f.available !== o.available || f.image !== o.image) n.ownVersion++ // the others see it later (currentViewVersion)
    const i = this.pendingVisible.indexOf(n)
    if (i >= 0) this.pendingVisible.splice(i, 1)
    this.pendingVisible.push(n)
    this.unannounced.push({ id: n.id, changedAt: w.t })
    this.trackUnavailable()
    this.schedulePoke()
  }

  private trackUnavailable(): void {
    let u = 0
    for (const n of this.w.order) if (!n.retired && !n.facts.available) u++
    this.maxUnavailable = Math.max(this.maxUnavailable, u)
  }

  /** Tell every vote its view changed, once the change has been gossiped. */
  schedulePoke(): void {
    const w = this.w
    const at = w.t + w.cfg.gossipDelayMs
    // A poke at or after `at` already covers this change (it is visible by then).
    if (this.pokeAt >= at) return
    this.pokeAt = at
    w.at(at, () => {
      if (this.pokeAt === at) this.pokeAt = -Infinity
      // One input for every vote, naming whose facts turned visible since the last poke, as
      // production's runtime names the members whose records changed in a burst.
      const changed = this.takeChanged(w.t)
      const input = changed ? { type: 'view-changed' as const, changed } : { type: 'view-changed' as const }
      for (const n of w.nodes.values()) {
        if (!n.up || !n.vote) continue
        w.stepVote(n, input)
        w.cycles.pokeCycle(n)
      }
      w.checkComplete()
    })
  }

  /**
   * The members whose facts, as the others see them, may have changed since the last poke
   * (every poke steps every live vote, so that is since each one's last view change; a vote
   * booted since starts with nothing judged). Undefined after a partition change: anyone.
   */
  private takeChanged(t: number): Set<string> | undefined {
    const q = this.unannounced
    const g = this.w.cfg.gossipDelayMs
    // Visible exactly as `facts` decides it (t - changedAt >= delay): a poke scheduled at
    // changedAt + delay may find (changedAt + delay) - changedAt a hair under the delay, and
    // then the change is named by the first poke that does see it.
    let k = 0
    while (k < q.length && t - q[k]!.changedAt >= g) k++
    const taken = q.splice(0, k)
    if (this.pokeAll) {
      this.pokeAll = false
      return undefined
    }
    return new Set(taken.map((e) => e.id))
  }

  /** The Ceph model moved (a host down or up, recovery progressing): every record re-read, every waiting cycle poked. */
  cephChanged(): void {
    const w = this.w
    const next = w.ceph.advance(w.t)
    for (const n of w.order) {
      this.refresh(n)
      w.cycles.pokeCycle(n)
    }
    w.checkComplete()
    if (next < this.cephNextAt || this.cephNextAt <= w.t) {
      this.cephNextAt = next
      if (Number.isFinite(next)) w.at(next, () => this.cephChanged())
    }
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a},${b}` : `${b},${a}`
}

/** The sorted join of three hosts without an array (two holders and a candidate: the usual question at K=2). */
function tripleKey(a: string, b: string, c: string): string {
  let t: string
  if (a > b) (t = a), (a = b), (b = t)
  if (b > c) (t = b), (b = c), (c = t)
  if (a > b) (t = a), (a = b), (b = t)
  return `${a},${b},${c}`
}
