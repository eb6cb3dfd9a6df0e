/**
 * What each simulated node sees: its facts (production's availability rule over the model
 * state), the others' facts after the gossip delay and not across a partition, the Ceph
 * ok-to-stop, and the view's version and change log the vote reads (ClusterView). A change
 * reaches the other nodes' votes as a poke once it has been gossiped.
 */
import type { ClusterView, NodeFacts } from '../../agent/protocol/vote/cluster-view.js'
import { inCycle, isAvailable, type AvailabilityInput } from '../../agent/protocol/availability.js'
import type { Phase } from '../../agent/protocol/node-record.js'
import type { SimNode } from './sim-node.js'
import { pokeCycle } from './wave-cycle.js'
import { COORDINATOR, type WaveWorld } from './wave-world.js'

/** A node's view version is shared version x OWN_VERSIONS + its own changes (fewer than this per run). */
const OWN_VERSIONS = 1_000_000

const AVAILABILITY_SCRATCH: AvailabilityInput = { liveness: 'alive', phase: 'ready', health: 'ok', cordoned: false }

const SIM_PHASE: Record<SimNode['phase'], Phase> = { idle: 'ready', draining: 'draining', rebooting: 'rebooting', verifying: 'verifying', failed: 'failed' }

export function viewFor(w: WaveWorld, self: SimNode): ClusterView {
  return {
    facts: (id) => {
      const o = w.nodes.get(id)
      if (!o || o === w.coord) return undefined
      if (o === self) return o.facts
      if (!w.partitions.reachable(self.id, id)) return undefined
      return w.t - o.changedAt < w.cfg.gossipDelayMs ? o.prev : o.facts
    },
    okToStop: (hosts) => okToStop(w, hosts),
    drainable: (id) => (w.nodes.has(id) && id !== COORDINATOR ? w.kube.drainable(id, w.t) : false),
    // Changes when what `self` sees may change: its own facts, or a change reaching it.
    version: () => currentViewVersion(w) * OWN_VERSIONS + self.ownVersion,
    changedSince: (since) => changedSince(w, self, since),
    bootSecond: (id) => w.bootSeconds.get(id),
  }
}

/** Who may look different to `self` since its view's version `since` (undefined: a partition changed what it can see at all). */
export function changedSince(w: WaveWorld, self: SimNode, since: number): string[] | undefined {
  const now = currentViewVersion(w)
  const from = Math.floor(since / OWN_VERSIONS)
  if (from > now) return undefined
  const out: string[] = []
  for (let i = from; i < now; i++) {
    const id = w.visibleLog[i]
    if (id === undefined) return undefined
    out.push(id)
  }
  if (since % OWN_VERSIONS !== self.ownVersion) out.push(self.id)
  return out
}

/** The shared view changed: because of `id` (its change reached the others), or of everything (a partition). */
export function bumpView(w: WaveWorld, id: string | undefined): void {
  w.visibleLog[w.viewVersion] = id
  w.viewVersion++
}

/** The view's version now: a change turns visible to the others once the gossip delay passed. */
export function currentViewVersion(w: WaveWorld): number {
  const q = w.pendingVisible
  while (q.length > 0 && w.t - q[0]!.changedAt >= w.cfg.gossipDelayMs) {
    const n = q.shift()!
    // What the others saw (prev) gives way to the latest facts: a version only if it matters.
    if (n.prev.available !== n.facts.available || n.prev.image !== n.facts.image) bumpView(w, n.id)
  }
  return w.viewVersion
}

export function okToStop(w: WaveWorld, hosts: readonly string[]): boolean {
  if (w.okCacheVersion !== w.ceph.version) {
    w.okCache.clear()
    w.okCacheVersion = w.ceph.version
  }
  const key = hosts.length === 1 ? hosts[0]! : hosts.length === 2 ? (hosts[0]! < hosts[1]! ? `${hosts[0]},${hosts[1]}` : `${hosts[1]},${hosts[0]}`) : [...hosts].sort().join(',')
  let v = w.okCache.get(key)
  if (v === undefined) {
    v = w.ceph.okToStop(hosts)
    w.okCache.set(key, v)
  }
  return v
}

export function computeFacts(w: WaveWorld, n: SimNode): NodeFacts {
  // Production's rule over the model: a kubelet not Ready is what makes a record critical.
  const a = AVAILABILITY_SCRATCH // hot: every refresh of every node; one object, refilled
  a.liveness = n.up ? 'alive' : 'dead'
  a.phase = SIM_PHASE[n.phase]
  a.health = n.kubeletReady ? 'ok' : 'critical'
  a.cordoned = n.cordoned
  const available = isAvailable(a)
  const healthy = n.up && n.kubeletReady && n.idx >= 0 && w.ceph.hostClean(n.id, w.t)
  return { id: n.id, image: n.image, domain: n.domain, available, healthy, pods: n.idx >= 0 ? w.kube.podCount(n.id) : 0, load: n.load, cycling: inCycle(a) }
}

/** Re-reads a node's facts; a change reaches the others after the gossip delay. */
export function refresh(w: WaveWorld, n: SimNode): void {
  if (n === w.coord) return
  const f = computeFacts(w, n)
  const o = n.facts
  if (f.available === o.available && f.healthy === o.healthy && f.image === o.image && f.pods === o.pods && f.cycling === o.cycling) return
  n.prev = w.t - n.changedAt < w.cfg.gossipDelayMs ? n.prev : n.facts
  n.facts = f
  n.changedAt = w.t
  if (f.available !== o.available || f.image !== o.image) n.ownVersion++ // the others see it later (currentViewVersion)
  const i = w.pendingVisible.indexOf(n)
  if (i >= 0) w.pendingVisible.splice(i, 1)
  w.pendingVisible.push(n)
  trackUnavailable(w)
  schedulePoke(w)
}

export function trackUnavailable(w: WaveWorld): void {
  let u = 0
  for (const n of w.order) if (!n.retired && !n.facts.available) u++
  w.maxUnavailable = Math.max(w.maxUnavailable, u)
}

/** Tell every vote its view changed, once the change has been gossiped. */
export function schedulePoke(w: WaveWorld): void {
  const at = w.t + w.cfg.gossipDelayMs
  // A poke at or after `at` already covers this change (it is visible by then).
  if (w.pokeAt >= at) return
  w.pokeAt = at
  w.at(at, () => {
    if (w.pokeAt === at) w.pokeAt = -Infinity
    for (const n of w.nodes.values()) {
      if (!n.up || !n.vote) continue
      w.stepVote(n, { type: 'view-changed' })
      pokeCycle(w, n)
    }
    w.checkComplete()
  })
}

export function cephChanged(w: WaveWorld): void {
  const next = w.ceph.advance(w.t)
  for (const n of w.order) {
    refresh(w, n)
    pokeCycle(w, n)
  }
  w.checkComplete()
  if (next < w.cephNextAt || w.cephNextAt <= w.t) {
    w.cephNextAt = next
    if (Number.isFinite(next)) w.at(next, () => cephChanged(w))
  }
}
