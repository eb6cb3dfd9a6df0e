/**
 * Production's vote (agent/protocol/vote) in each simulated node: booting it on the node's
 * view and Store, stepping it, scheduling its wakes on the virtual clock, and carrying out
 * its effects — messages through the network's fault model, leases into the upgrade cycle,
 * ground truth into the invariant checker.
 */
import type { VoteMessage } from '../../agent/protocol/vote/vote-messages.js'
import { VoteNode, type VoteEffect, type VoteInput } from '../../agent/protocol/vote/vote-node.js'
import { planArrivals } from '../engine/network.js'
import type { SimNode } from './sim-node.js'
import { simPublicKey, simVoteKeyring } from './sim-vote-keyring.js'
import { maybeLeftover, onLease, onLeaseLost } from './wave-cycle.js'
import { viewFor } from './wave-view.js'
import { COORDINATOR, EPOCH, type WaveWorld } from './wave-world.js'

/** The cluster was up this long before the simulation begins (no cold start unless a scenario makes one). */
const BOOTED_BEFORE_MS = 3_600_000

export function bootVote(w: WaveWorld, n: SimNode, mayHaveForgotten: boolean): void {
  // The agent's incarnation, as its mesh record shows it: a fresh process is a new one.
  if (mayHaveForgotten || !w.bootSeconds.has(n.id)) w.bootSeconds.set(n.id, Math.floor((mayHaveForgotten ? w.localNow(n) : EPOCH - BOOTED_BEFORE_MS) / 1000))
  n.inst++
  n.wakeAt = Infinity
  const view = viewFor(w, n)
  n.view = view
  n.vote = new VoteNode({
    id: n.id,
    role: n === w.coord ? 'coordinator' : 'node',
    keyring: simVoteKeyring(n.id),
    view,
    config: w.voteCfg,
    coordinatorKey: simPublicKey(COORDINATOR),
    now: w.localNow(n),
    persisted: n.store,
    mayHaveForgotten,
  })
  scheduleWake(w, n)
}

export function stepVote(w: WaveWorld, n: SimNode, input: VoteInput): void {
  const v = n.vote
  if (!v) return
  const eff = v.step(input, w.localNow(n))
  for (const e of eff) effect(w, n, e)
  if (n.vote === v) {
    scheduleWake(w, n)
    maybeLeftover(w, n)
  }
}

export function scheduleWake(w: WaveWorld, n: SimNode): void {
  const v = n.vote
  if (!v) return
  const wake = v.nextWakeAt()
  if (!Number.isFinite(wake)) return
  const at = Math.max(w.t, w.toSim(n, wake) + 1e-6)
  if (at >= n.wakeAt) return
  n.wakeAt = at
  w.queue.push(at, { k: 'tick', id: n.id, inst: n.inst })
}

export function effect(w: WaveWorld, n: SimNode, e: VoteEffect): void {
  switch (e.type) {
    case 'persist':
      n.store = e.state
      return
    case 'send':
      transmit(w, n, e.to, e.msg)
      return
    case 'broadcast':
      observeBroadcast(w, n, e.msg)
      for (const o of w.nodes.values()) if (o !== n) transmit(w, n, o.id, e.msg)
      return
    case 'lease-acquired':
      if (w.checker.acquired(e.lease)) w.leases++
      onLease(w, n, e.lease)
      return
    case 'lease-released':
      w.checker.resolved(n.id, e.lease.slot, e.lease.term, 'releases')
      return
    case 'lease-lost':
      w.checker.trace(`${n.id} lost slot ${e.lease.slot} term ${e.lease.term}: ${e.reason}`)
      onLeaseLost(w, n, e.lease)
      return
    case 'dropped':
      return
  }
}

/** Ground truth follows withdraws and force-releases as they leave their signer. */
export function observeBroadcast(w: WaveWorld, n: SimNode, m: VoteMessage): void {
  if (m.k === 'wd') w.checker.resolved(m.cand, m.slot, m.term, 'withdraws')
  else if (m.k === 'force') w.checker.forceReleased(m.slot, m.term)
  else if (m.k === 'req' && w.checker.full) w.checker.trace(`${n.id} requests slot ${m.slot} term ${m.term}`)
  if (m.k === 'wd' && w.checker.full) w.checker.trace(`${n.id} withdraws slot ${m.slot} term ${m.term} (leader ${m.leader ?? '-'})`)
}

export function transmit(w: WaveWorld, from: SimNode, to: string, msg: VoteMessage): void {
  w.messagesByKind[msg.k] = (w.messagesByKind[msg.k] ?? 0) + 1
  w.netStats.sent++
  const dst = w.nodes.get(to)
  if (!dst || !dst.up) {
    w.netStats.vanished++
    return
  }
  if (!w.partitions.reachable(from.id, to)) {
    w.netStats.cut++
    return
  }
  // No per-link stream order: a broadcast crosses the mesh on different paths.
  const plan = planArrivals(w.net, w.netRng, w.netStats, w.t, 0)
  for (const at of plan.times) w.queue.push(at, { k: 'msg', to, inst: dst.inst, from: from.id, msg })
}
