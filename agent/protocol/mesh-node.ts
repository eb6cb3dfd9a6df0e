/**
 * MeshNode: one agent's view of the cluster, as a deterministic state machine.
 *
 *   step(input, now) -> effects      (see mesh-types.ts for the driving rules)
 *
 * The state is owned by the parts and mutated in place (at N=1000 copying it per step
 * would dominate the simulator); the step is still pure in the sense that matters: no IO,
 * no clock, no global randomness — the same inputs give the same effects.
 *
 * This class only composes the parts, one protocol idea each, each with its own state and
 * its own next wake-up:
 * - membership.ts — the member table: signed records and liveness claims, suspicion
 *   (suspicion.ts) and refutation;
 * - swim-probe.ts — SWIM probing of the neighbour heard from least recently, direct then indirect, stretched by Lifeguard's
 *   awareness.ts;
 * - overlay.ts — which members we keep links to;
 * - dissemination.ts — Plumtree: every new fact pushed along the broadcast tree at once,
 *   announced lazily elsewhere;
 * - anti-entropy-rounds.ts — Scuttlebutt repair with one random neighbour per second and
 *   with every new neighbour at once;
 * - app-broadcast.ts — signed application payloads;
 * - mesh-context.ts — what they share: config, ports, the step's effects, counters.
 */
import { AntiEntropyRounds } from './anti-entropy-rounds.js'
import { AppBroadcasts } from './app-broadcast.js'
import { Awareness } from './awareness.js'
import { Dissemination } from './dissemination.js'
import { DropReason } from './errors.js'
import type { MeshConfig } from './mesh-config.js'
import { catchingUp, MeshContext } from './mesh-context.js'
import type { MemberView, MeshEffect, MeshInput } from './mesh-types.js'
import { Membership } from './membership.js'
import type { MeshMessage, Update } from './messages.js'
import type { NodeRecordBody } from './node-record.js'
import { Overlay } from './overlay.js'
import type { Keyring, Logger, Rng } from './ports.js'
import { silentLogger } from './ports.js'
import type { RecordSnapshot } from './record-snapshot.js'
import type { Roster } from './roster.js'
import { SwimProber } from './swim-probe.js'

export interface MeshNodeInit {
  /** This node's own record, without the fields the node manages itself. */
  self: Omit<NodeRecordBody, 'key' | 'inc' | 'ver'>
  config: MeshConfig
  roster: Roster
  keyring: Keyring
  rng: Rng
  logger?: Logger
}

/**
 * How often expired state is swept: Plumtree's cache of delivered facts, seen broadcast
 * ids, dead members past their retention. Nothing waits on it; it only bounds memory.
 */
const SWEEP_INTERVAL_MS = 10_000

export class MeshNode {
  readonly id: string
  /** Dropped input by reason, plus a few activity counts; served by /v1/self. */
  readonly counters: Record<string, number>

  private readonly ctx: MeshContext
  private readonly awareness = new Awareness()
  private readonly membership: Membership
  private readonly apps: AppBroadcasts
  private readonly dissemination: Dissemination
  private readonly prober: SwimProber
  private readonly antiEntropy: AntiEntropyRounds
  private readonly overlay: Overlay
  private nextSweepAt: number
  /** nextWakeAt() as the last step left it, when that step ran no timers (undefined: work it out). */
  private wakeAt: number | undefined

  constructor(init: MeshNodeInit, now: number) {
    this.id = init.self.id
    this.ctx = new MeshContext(this.id, init.config, init.roster, init.keyring, init.rng, init.logger ?? silentLogger, (peer) => this.overlay.cutOff(peer))
    this.counters = this.ctx.counters
    const spread = (u: Update, at: number) => this.dissemination.spread(u, undefined, 0, at)
    this.membership = new Membership(
      this.ctx,
      this.awareness,
      {
        spread,
        isNeighbour: (id) => this.overlay.has(id),
        closeLink: (id, reason) => this.overlay.closeLink(id, reason),
        probeSoon: (id) => this.prober.probeSoon(id),
      },
      init.self,
      now,
    )
    this.apps = new AppBroadcasts(this.ctx, spread)
    this.dissemination = new Dissemination(
      this.ctx,
      {
        apply: (u, from, at) => (u.k === 'rec' ? this.membership.applyRecord(u.rec, from, at) : u.k === 'claim' ? this.membership.applyClaim(u, from, at) : this.apps.apply(u, from, at)),
        knows: (id) => {
          const parts = id.split(':')
          return parts[0] === 'r' || parts[0] === 'c' ? this.membership.knows(parts) : this.apps.knows(id)
        },
        current: (id) => this.membership.current(id.split(':')),
      },
      (peer) => this.overlay.has(peer),
    )
    // Each part draws its first timer's random phase here, in this order.
    const links = { has: (p: string) => this.overlay.has(p), all: () => this.overlay.peers() }
    this.prober = new SwimProber(this.ctx, this.awareness, links, (id) => this.membership.statusOf(id), (id, at) => this.membership.accuse(id, at), now)
    this.antiEntropy = new AntiEntropyRounds(this.ctx, this.membership, links.all, now)
    this.overlay = new Overlay(
      this.ctx,
      {
        statusOf: (id) => this.membership.statusOf(id),
        dialable: () => this.membership.dialable(),
        dead: () => this.membership.dead(),
        accuse: (id, at) => this.membership.accuse(id, at),
        linkUp: (peer, at) => {
          this.dissemination.linkUp(peer, catchingUp(this.membership.members.size, this.ctx.roster.size))
          this.antiEntropy.greet(peer, at)
        },
        linkDown: (peer) => {
          this.dissemination.linkDown(peer)
          this.prober.forget(peer)
          this.antiEntropy.forget(peer)
        },
      },
      now,
    )
    this.nextSweepAt = now + SWEEP_INTERVAL_MS
  }

  // ---------------------------------------------------------------- public face

  step(input: MeshInput, now: number): MeshEffect[] {
    this.wakeAt = undefined
    this.ctx.out = []
    switch (input.type) {
      case 'tick':
        break
      case 'message':
        this.onMessage(input.from, input.msg, now)
        break
      case 'bad-frame':
        // decodeMessage names an unknown type in `detail`.
        if (input.reason === DropReason.unknownType) this.ctx.ignoreType(input.from, input.detail)
        else this.ctx.drop(input.from, input.reason, input.detail)
        break
      case 'connected':
        this.overlay.onConnected(input.peer, now)
        break
      case 'disconnected':
        this.overlay.onDisconnected(input.peer, now)
        break
      case 'update-self':
        this.membership.updateSelf(input.patch, now)
        break
      case 'broadcast':
        this.apps.broadcast(input.topic, input.body, now)
        break
      case 'send-app':
        if (this.overlay.has(input.to)) this.ctx.send(input.to, { t: 'app', topic: input.topic, body: input.body })
        else if (input.to !== this.id) this.apps.broadcast(input.topic, input.body, now, input.to)
        break
    }
    // Every part's timer work is a no-op before its own next wake-up, so before the
    // earliest of them there is nothing to run: most steps are a frame arriving between
    // timers (at N=1000 in the simulator, about a fifth of the CPU went to the no-op).
    // The wake-up worked out here is still the answer when the driver asks right after.
    const wake = this.earliestTimer()
    if (now >= wake) this.runTimers(now)
    else this.wakeAt = wake
    return this.ctx.out
  }

  nextWakeAt(): number {
    return this.wakeAt ?? this.earliestTimer()
  }

  private earliestTimer(): number {
    return Math.min(this.prober.nextWakeAt(), this.antiEntropy.nextWakeAt(), this.dissemination.nextWakeAt(), this.overlay.nextWakeAt(), this.membership.nextWakeAt(), this.nextSweepAt)
  }

  /** Every member this node knows, itself included. */
  view(): MemberView[] {
    return this.membership.views()
  }

  member(id: string): MemberView | undefined {
    return this.membership.view(id)
  }

  self(): NodeRecordBody {
    return this.membership.self()
  }

  /**
   * Takes a snapshot of the cluster's records (record-snapshot.ts) into a fresh node's
   * table, as if a sync had delivered them before any link came up: the simulator's warm
   * start. Nothing is sent or emitted; the node's timers are unchanged. Returns how many
   * members were added.
   */
  adopt(snapshot: RecordSnapshot, now: number): number {
    this.wakeAt = undefined
    this.ctx.out = [] // outside a step: a dropped entry's event has no one to go to (it is counted)
    return this.membership.adopt(snapshot.entries, now)
  }

  /** Current overlay neighbours (connected peers). */
  peers(): string[] {
    return this.overlay.peers()
  }

  /** Takes the direct-probe round trips (ms) measured since the last call. */
  drainProbeRtts(): number[] {
    return this.prober.drainRtts()
  }

  // ---------------------------------------------------------------- inside

  private onMessage(from: string, msg: MeshMessage, now: number): void {
    this.ctx.count('messages-in')
    this.prober.heard(from, now)
    switch (msg.t) {
      case 'ping':
        return this.prober.onPing(from, msg)
      case 'ack':
        return this.prober.onAck(msg, now)
      case 'ping-req':
        return this.prober.onPingReq(from, msg, now)
      case 'nack':
        return this.prober.onNack(msg)
      case 'gossip':
        return this.dissemination.onGossip(from, msg, now)
      case 'ihave':
        return this.dissemination.onIhave(from, msg, now)
      case 'graft':
        return this.dissemination.onGraft(from, msg)
      case 'prune':
        return this.dissemination.onPrune(from)
      case 'bye':
        return this.overlay.onBye(from)
      case 'ae-sum':
        return this.antiEntropy.onSummary(from, msg, now)
      case 'ae-dig':
        return this.antiEntropy.onDigest(from, msg)
      case 'ae-delta':
        this.dissemination.onRepairs(from, msg, now)
        return this.antiEntropy.onDelta(from, now)
      case 'app':
        return this.ctx.emit({ type: 'app', from, topic: msg.topic, body: msg.body, direct: true })
    }
  }

  /** Each part's due work, in a fixed order (the order is part of what a seed reproduces). */
  private runTimers(now: number): void {
    this.prober.expireProbe(now)
    // The overlay is tended once per probe round, so it too slows down with awareness.
    if (this.prober.roundDue(now)) {
      this.overlay.maintain(now)
      this.prober.startProbe(now)
    }
    this.prober.expireRelays(now)
    this.membership.expireSuspicions(now)
    this.dissemination.tick(now)
    this.antiEntropy.tick(now)
    this.overlay.redialDead(now)
    if (now >= this.nextSweepAt) {
      this.nextSweepAt = now + SWEEP_INTERVAL_MS
      this.dissemination.sweep(now)
      this.apps.sweep(now)
      this.membership.sweep(now)
    }
  }
}
