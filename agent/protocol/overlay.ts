/**
 * The overlay: which members this node keeps a connection to. It aims for `targetDegree`
 * random alive members and never holds more than `maxDegree` (trimming at random, with a
 * `bye` so the peer does not take it for a failure). A link that breaks without a bye is
 * dialled once more: if that fails, the member table accuses the peer. Now and then it
 * dials one member held dead, so the halves of a healed partition find each other again.
 */
import type { MeshContext } from './mesh-context.js'
import type { Liveness } from './mesh-types.js'
import { pick, shuffle } from './random.js'

/** What the overlay reads of, and asks of, the rest of the node. */
export interface OverlayHooks {
  statusOf(id: string): Liveness | undefined
  /** Members we could link to (alive, with a record, not us), in table order. */
  dialable(): Iterable<string>
  /** Members held dead, in table order. */
  dead(): Iterable<string>
  /** A link we dialled to check a member failed: accuse it. */
  accuse(id: string, now: number): void
  /** A link is up: the other parts may use it. */
  linkUp(peer: string, now: number): void
  /** A link is gone (closed by either side or broken). */
  linkDown(peer: string): void
}

export class Overlay {
  private readonly neighbours = new Set<string>()
  /** Dials in flight: peer -> when we give up on it. */
  private readonly pending = new Map<string, number>()
  /** Peers we dialled again after an unexpected disconnect, to learn whether they live. */
  private readonly checking = new Set<string>()
  /** Links closed on purpose (by us, or the peer said bye): not a failure. */
  private readonly intentional = new Set<string>()
  private nextDeadProbeAt: number

  constructor(
    private readonly ctx: MeshContext,
    private readonly hooks: OverlayHooks,
    now: number,
  ) {
    this.nextDeadProbeAt = now + ctx.cfg.deadProbeIntervalMs + ctx.rng.int(ctx.cfg.deadProbeIntervalMs)
  }

  has(peer: string): boolean {
    return this.neighbours.has(peer)
  }

  /** Current neighbours, in the order they linked. */
  peers(): string[] {
    return [...this.neighbours]
  }

  // ---------------------------------------------------------------- transport events

  onConnected(peer: string, now: number): void {
    if (peer === this.ctx.id) return
    this.pending.delete(peer)
    this.checking.delete(peer)
    this.intentional.delete(peer)
    this.neighbours.add(peer)
    this.hooks.linkUp(peer, now)
    if (this.neighbours.size > this.ctx.cfg.maxDegree) this.trim()
  }

  onDisconnected(peer: string, now: number): void {
    const wasNeighbour = this.neighbours.delete(peer)
    const wasPending = this.pending.delete(peer)
    this.hooks.linkDown(peer)
    if (this.intentional.delete(peer)) return
    const status = this.hooks.statusOf(peer)
    if (this.checking.delete(peer)) {
      // We dialled it again to see whether it lives, and could not reach it.
      if (status === 'alive') this.hooks.accuse(peer, now)
      return
    }
    if (wasNeighbour && !wasPending && status !== undefined && status !== 'dead') {
      // The link broke without a goodbye: either the peer died or the path did. Dial once.
      this.checking.add(peer)
      this.dial(peer, now)
    }
  }

  /** The peer said goodbye: its coming disconnect is no failure. */
  onBye(peer: string): void {
    this.intentional.add(peer)
  }

  // ---------------------------------------------------------------- decisions

  closeLink(peer: string, reason: string): void {
    this.intentional.add(peer)
    this.neighbours.delete(peer)
    this.hooks.linkDown(peer)
    this.ctx.effect({ type: 'disconnect', peer, reason })
  }

  /** A neighbour that keeps sending bad input is disconnected. */
  cutOff(peer: string): void {
    if (!this.neighbours.has(peer) || peer === this.ctx.id) return
    this.ctx.log.warn({ component: 'mesh', node: this.ctx.id, peer, count: this.ctx.cfg.maxBadFramesPerPeer }, 'disconnecting a peer that keeps sending bad input')
    this.ctx.count('peers-cut-off')
    this.closeLink(peer, 'too many bad frames')
  }

  /**
   * Once per probe round: give up dials past their deadline (accusing a checked peer that
   * never answered), dial toward the target degree, trim above the maximum.
   */
  maintain(now: number): void {
    for (const [peer, deadline] of this.pending) {
      if (deadline > now) continue
      this.pending.delete(peer)
      if (this.checking.delete(peer) && this.hooks.statusOf(peer) === 'alive') this.hooks.accuse(peer, now)
    }
    const want = this.ctx.cfg.targetDegree - this.neighbours.size - this.pending.size
    if (want > 0) {
      const candidates: string[] = []
      for (const id of this.hooks.dialable()) if (!this.neighbours.has(id) && !this.pending.has(id)) candidates.push(id)
      for (const p of pick(candidates, want, this.ctx.rng)) this.dial(p, now, true)
    }
    this.trim()
  }

  /** Every deadProbeIntervalMs: dial one member held dead (it may be back, or across a healed partition). */
  redialDead(now: number): void {
    if (now < this.nextDeadProbeAt) return
    this.nextDeadProbeAt = now + this.ctx.cfg.deadProbeIntervalMs
    const dead: string[] = []
    for (const id of this.hooks.dead()) if (!this.pending.has(id)) dead.push(id)
    const p = pick(dead, 1, this.ctx.rng)[0]
    if (p) this.dial(p, now)
  }

  nextWakeAt(): number {
    return this.nextDeadProbeAt
  }

  /** `grow`: only toward the target degree (a check of a broken link or of the dead is not). */
  private dial(peer: string, now: number, grow = false): void {
    if (this.pending.has(peer) || this.neighbours.has(peer)) return
    this.pending.set(peer, now + this.ctx.cfg.connectTimeoutMs)
    this.ctx.effect(grow ? { type: 'connect', peer, grow } : { type: 'connect', peer })
  }

  private trim(): void {
    const excess = this.neighbours.size - this.ctx.cfg.maxDegree
    if (excess <= 0) return
    for (const p of shuffle([...this.neighbours], this.ctx.rng).slice(0, excess)) {
      this.ctx.send(p, { t: 'bye' })
      this.closeLink(p, 'overlay above maximum degree')
    }
  }
}
