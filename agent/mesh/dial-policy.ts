/**
 * Whom we dial, when, and when we give up (hyperswarm's retry-timer idea, our rules):
 * at once toward smaller keys; toward greater keys only after a random hold-off and only
 * if that peer has not dialled us meanwhile. The direction is hyperswarm's own: when a
 * second connection from the same key reaches a server, hyperswarm keeps the NEW one only
 * if the server holds the smaller key (the greater key is its "expected initiator");
 * otherwise it keeps the old one and destroys the new. A dial that is retried (a first
 * attempt timed out at the client after the server had accepted it — common on a loaded
 * machine) therefore left a server dialled by a smaller key holding the abandoned first
 * connection, and the client writing into a connection the server had destroyed: a link
 * silent on both ends until the silent-link close. Dialled the greater-to-smaller way,
 * the retry replaces the stale connection.
 *
 * A dial with no connection after `dialTimeoutMs` is given up; if the mesh asked for it,
 * it hears `disconnected`.
 *
 * A dial that is only wanted while we lack links (a seed, or the overlay growing toward its
 * target: `wanted`) is let go when its hold-off ends with enough links up: while a whole
 * mesh forms, peers that dialled us fill the degree during the hold-off, and each link past
 * it costs a Noise handshake at both ends and its share of every broadcast. The mesh hears
 * `disconnected` for such a dial, as for one that failed (its overlay may ask again).
 */
import type Hyperswarm from 'hyperswarm'
import type { Logger, Rng } from '../protocol/ports.js'
import type { EmitTransportEvent, TransportStats } from './transport-stats.js'

export interface DialPolicyOptions {
  selfId: string
  selfKey: string
  /** Hold-off before dialling a greater key: random in [h/2, h]. */
  greaterKeyHoldOffMs: number
  dialTimeoutMs: number
  rng: Rng
  stats: TransportStats
  log: Logger
  emit: EmitTransportEvent
  /** Is a link to `peer` open? */
  linked(peer: string): boolean
  /** When `peer` last reached our firewall (it is dialling us), if ever. */
  lastInboundAttempt(peer: string): number | undefined
}

/** A peer that dialled us this recently before (or after) we decided to dial it is left to finish. */
const INBOUND_GRACE_MS = 1000

export class DialPolicy {
  private swarm: Hyperswarm | undefined
  private closed = false
  /** Dials in flight: peer id -> give-up timer. */
  private readonly dialing = new Map<string, NodeJS.Timeout>()
  /** Held-off dials toward greater keys. */
  private readonly holdOffs = new Map<string, NodeJS.Timeout>()
  /** Peers the mesh asked for: only those get a `disconnected` when a dial fails. */
  private readonly requested = new Set<string>()

  constructor(private readonly o: DialPolicyOptions) {}

  attach(swarm: Hyperswarm): void {
    this.swarm = swarm
  }

  /** A dial to `peer` is in flight or held off. */
  busy(peer: string): boolean {
    return this.dialing.has(peer) || this.holdOffs.has(peer)
  }

  /** Dials in flight or held off. */
  inFlight(): number {
    return this.dialing.size + this.holdOffs.size
  }

  /** The mesh asked for `peer`: a failed dial (or one let go, see `reach`) is reported back to it. */
  request(peer: string, key: string, wanted?: () => boolean): void {
    this.requested.add(peer)
    this.reach(peer, key, wanted)
  }

  /**
   * Dials at once toward a smaller key; toward a greater one after a hold-off, unless it
   * dials us first, or `wanted` (if given) says no more links are needed by then.
   */
  reach(peer: string, key: string, wanted?: () => boolean): void {
    if (key < this.o.selfKey) return this.dial(peer, key)
    const h = this.o.greaterKeyHoldOffMs
    const holdOff = h / 2 + (this.o.rng.next() * h) / 2
    const askedAt = Date.now()
    this.holdOffs.set(
      peer,
      setTimeout(() => {
        this.holdOffs.delete(peer)
        if (this.closed || this.o.linked(peer) || (this.o.lastInboundAttempt(peer) ?? 0) >= askedAt - INBOUND_GRACE_MS) {
          this.requested.delete(peer)
          return
        }
        if (wanted && !wanted()) {
          this.o.stats.dialsDropped++
          this.o.log.debug({ component: 'mesh.transport', node: this.o.selfId, peer }, 'letting a held-off dial go: enough links came up meanwhile')
          if (this.requested.delete(peer)) this.o.emit('disconnected', peer)
          return
        }
        this.dial(peer, key)
      }, holdOff),
    )
  }

  /** A link to `peer` is up (either way): no dial of ours is pending any more. */
  connected(peer: string): void {
    this.cancel(peer)
    this.requested.delete(peer)
  }

  cancel(peer: string): void {
    const t = this.dialing.get(peer)
    if (t) {
      clearTimeout(t)
      this.dialing.delete(peer)
    }
    const h = this.holdOffs.get(peer)
    if (h) {
      clearTimeout(h)
      this.holdOffs.delete(peer)
    }
  }

  close(): void {
    this.closed = true
    for (const t of this.dialing.values()) clearTimeout(t)
    for (const t of this.holdOffs.values()) clearTimeout(t)
    this.dialing.clear()
    this.holdOffs.clear()
  }

  private dial(peer: string, key: string): void {
    if (!this.swarm || this.closed) return
    this.o.stats.dials++
    this.o.log.debug({ component: 'mesh.transport', node: this.o.selfId, peer }, 'dialling')
    const buf = Buffer.from(key, 'hex')
    this.swarm.joinPeer(buf)
    this.dialing.set(
      peer,
      setTimeout(() => {
        this.dialing.delete(peer)
        this.swarm?.leavePeer(buf)
        if (!this.o.linked(peer) && this.requested.delete(peer)) this.o.emit('disconnected', peer)
      }, this.o.dialTimeoutMs),
    )
  }
}
