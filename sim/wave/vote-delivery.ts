/**
 * The vote in each simulated node, and how its messages travel: production's VoteNode
 * (agent/protocol/vote) is booted, stepped and woken here, and its effects are carried out —
 * a persist into the node's Store, a send or broadcast onto the network model, a lease
 * handed to the node's upgrade cycle (cycle-steps.ts).
 *
 * A mesh broadcast is one message to every node, each copy independently subject to
 * latency, loss, duplication, reordering and partitions (planArrivals + Partitions); a direct
 * `send-app` is one message. No per-link stream order: a broadcast crosses the mesh on
 * different paths. Every step goes through WaveWorld.stepVote, the seam scripted scenarios
 * wrap (a voter that restarts right after voting).
 */
import { emptyNetworkStats, planArrivals, type NetworkConfig, type NetworkStats } from '../engine/network.js'
import type { SimRng } from '../engine/rng.js'
import { simPublicKey, simVoteKeyring } from './sim-vote-keyring.js'
import type { VoteMessage } from '../../agent/protocol/vote/vote-messages.js'
import { VoteNode, type VoteEffect, type VoteInput } from '../../agent/protocol/vote/vote-node.js'
import type { SimNode } from './sim-node.js'
import { COORDINATOR, EPOCH } from './wave-constants.js'
import type { WaveWorld } from './wave-world.js'

/** The cluster was up this long before the simulation begins (no cold start unless a scenario makes one). */
const BOOTED_BEFORE_MS = 3_600_000

/** A vote message arriving, or a vote's wake-up: what this part puts on the world's agenda. */
export type VoteEvent = { k: 'msg'; to: string; inst: number; from: string; msg: VoteMessage } | { k: 'tick'; id: string; inst: number }

export class VoteDelivery {
  readonly netStats: NetworkStats = emptyNetworkStats()
  readonly messagesByKind: Record<string, number> = {}
  /** Leases granted for the first time (WaveResult.leases). */
  leases = 0

  constructor(
    private readonly w: WaveWorld,
    readonly net: NetworkConfig,
    private readonly netRng: SimRng,
  ) {}

  /** A fresh agent process: its vote starts from its Store (if it kept one) and its own view. */
  bootVote(n: SimNode, mayHaveForgotten: boolean): void {
    const w = this.w
    // The agent's incarnation, as its mesh record shows it: a fresh process is a new one.
    if (mayHaveForgotten || !w.views.bootSeconds.has(n.id)) w.views.bootSeconds.set(n.id, Math.floor((mayHaveForgotten ? w.localNow(n) : EPOCH - BOOTED_BEFORE_MS) / 1000))
    n.inst++
    n.wakeAt = Infinity
    const view = w.views.viewFor(n)
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
    this.scheduleWake(n)
  }

  /** What WaveWorld.stepVote does: one step of the node's vote, its effects carried out. */
  step(n: SimNode, input: VoteInput): void {
    const v = n.vote
    if (!v) return
    const eff = v.step(input, this.w.localNow(n))
    for (const e of eff) this.effect(n, e)
    if (n.vote === v) {
      this.scheduleWake(n)
      this.w.cycles.maybeLeftover(n)
    }
  }

  /** A message reaches its addressee (if that very process is still up and not cut off). */
  deliver(ev: Extract<VoteEvent, { k: 'msg' }>): void {
    const w = this.w
    const n = w.nodes.get(ev.to)!
    if (!n.up || n.inst !== ev.inst || !n.vote) {
      this.netStats.vanished++
      return
    }
    if (!w.partitions.reachable(ev.from, ev.to)) {
      this.netStats.cut++
      return
    }
    this.netStats.delivered++
    w.stepVote(n, { type: 'message', from: ev.from, msg: ev.msg })
  }

  /** The vote's own wake-up (its nextWakeAt). */
  tick(ev: Extract<VoteEvent, { k: 'tick' }>): void {
    const w = this.w
    const n = w.nodes.get(ev.id)!
    if (!n.up || n.inst !== ev.inst || !n.vote) return
    n.wakeAt = Infinity
    if (w.t === n.lastTickAt) {
      if (++n.ticksAtOnce > 1000) throw new Error(`wave sim: ${n.id} asks for ticks at ${w.t} ms without end (nextWakeAt does not advance; seed ${w.seed})`)
    } else {
      n.lastTickAt = w.t
      n.ticksAtOnce = 0
    }
    w.stepVote(n, { type: 'tick' })
  }

  private scheduleWake(n: SimNode): void {
    const v = n.vote
    if (!v) return
    const w = v.nextWakeAt()
    if (!Number.isFinite(w)) return
    const at = Math.max(this.w.t, this.w.toSim(n, w) + 1e-6)
    if (at >= n.wakeAt) return
    n.wakeAt = at
    this.w.enqueue(at, { k: 'tick', id: n.id, inst: n.inst })
  }

  private effect(n: SimNode, e: VoteEffect): void {
    const w = this.w
    switch (e.type) {
      case 'persist':
        n.store = e.state
        return
      case 'send':
        this.transmit(n, e.to, e.msg)
        return
      case 'broadcast':
        this.observeBroadcast(n, e.msg)
        for (const o of w.nodes.values()) if (o !== n) this.transmit(n, o.id, e.msg)
        return
      case 'lease-acquired':
        if (w.checker.acquired(e.lease)) this.leases++
        w.cycles.onLease(n, e.lease)
        return
      case 'lease-released':
        w.checker.resolved(n.id, e.lease.slot, e.lease.term, 'releases')
        return
      case 'lease-lost':
        w.checker.trace(`${n.id} lost slot ${e.lease.slot} term ${e.lease.term}: ${e.reason}`)
        w.cycles.onLeaseLost(n, e.lease)
        return
      case 'dropped':
        return
    }
  }

  /** Ground truth follows withdraws and force-releases as they leave their signer. */
  private observeBroadcast(n: SimNode, m: VoteMessage): void {
    const checker = this.w.checker
    if (m.k === 'wd') checker.resolved(m.cand, m.slot, m.term, 'withdraws')
    else if (m.k === 'force') checker.forceReleased(m.slot, m.term)
    else if (m.k === 'req' && checker.full) checker.trace(`${n.id} requests slot ${m.slot} term ${m.term}`)
    if (m.k === 'wd' && checker.full) checker.trace(`${n.id} withdraws slot ${m.slot} term ${m.term} (leader ${m.leader ?? '-'})`)
  }

  private transmit(from: SimNode, to: string, msg: VoteMessage): void {
    const w = this.w
    this.messagesByKind[msg.k] = (this.messagesByKind[msg.k] ?? 0) + 1
    this.netStats.sent++
    const dst = w.nodes.get(to)
    if (!dst || !dst.up) {
      this.netStats.vanished++
      return
    }
    if (!w.partitions.reachable(from.id, to)) {
      this.netStats.cut++
      return
    }
    // No per-link stream order: a broadcast crosses the mesh on different paths.
    const plan = planArrivals(this.net, this.netRng, this.netStats, w.t, 0)
    for (const at of plan.times) w.enqueue(at, { k: 'msg', to, inst: dst.inst, from: from.id, msg })
  }
}
