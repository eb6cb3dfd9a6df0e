/**
 * Who may connect (hyperswarm's firewall hook): only keys on the roster, and inbound
 * connections only while we are under `maxDegree` (hyperswarm's maxPeers does not cap
 * them). A refusal for the cap is no verdict on the peer: hyperswarm bans the key, and we
 * lift the ban so it can come back once there is room. It also remembers who is dialling
 * us, so the dial policy can hold back from dialling them in turn.
 */
import type { PeerInfo } from 'hyperswarm'
import type { Logger } from '../protocol/ports.js'
import type { Roster } from '../protocol/roster.js'
import type { EmitTransportEvent, TransportStats } from './transport-stats.js'

export interface AdmissionOptions {
  selfId: string
  roster: Roster
  maxDegree: number
  stats: TransportStats
  log: Logger
  emit: EmitTransportEvent
  /** Open links right now, by peer id. */
  links: { has(peer: string): boolean; readonly size: number }
}

export class Admission {
  private readonly capRejected = new Set<string>()
  /** Peers whose handshake reached our firewall: they are dialling us, so we hold back. */
  private readonly inboundAttempts = new Map<string, number>()

  constructor(private readonly o: AdmissionOptions) {}

  /** hyperswarm's contract: return true to refuse. `payload` is null for our own dials. */
  firewall(remoteKey: Buffer, payload: unknown): boolean {
    const { o } = this
    const hex = remoteKey.toString('hex')
    const id = o.roster.idOf(hex)
    if (id === undefined) {
      o.stats.rejected.notOnRoster++
      o.log.warn({ component: 'mesh.transport', node: o.selfId, key: hex }, 'refused a key that is not on the roster')
      o.emit('rejected', hex, 'not-on-roster')
      return true
    }
    if (payload !== null) this.inboundAttempts.set(id, Date.now())
    if (payload !== null && !o.links.has(id) && o.links.size >= o.maxDegree) {
      o.stats.rejected.inboundCap++
      this.capRejected.add(hex)
      o.emit('rejected', hex, 'inbound-cap')
      return true
    }
    return false
  }

  /** hyperswarm banned a key we refused: lift the ban if the refusal was only for the cap. */
  onBan(info: PeerInfo): void {
    if (this.capRejected.delete(info.publicKey.toString('hex'))) info.ban(false)
  }

  /**
   * A connection that passed the firewall: several handshakes can pass its cap check at
   * once, so the cap is checked again here (false: refuse it).
   */
  admit(peer: string, inbound: boolean): boolean {
    const { o } = this
    if (inbound && !o.links.has(peer) && o.links.size >= o.maxDegree) {
      o.stats.rejected.inboundCap++
      return false
    }
    this.inboundAttempts.delete(peer)
    return true
  }

  /** When `peer`'s last handshake reached our firewall (ms), or undefined. */
  lastInboundAttempt(peer: string): number | undefined {
    return this.inboundAttempts.get(peer)
  }
}
