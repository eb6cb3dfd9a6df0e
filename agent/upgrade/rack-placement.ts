/**
 * RackPlacement: this node's Ceph CRUSH host follows its failure domain, once (again after
 * the domain changes; retried at the next round after an error). The move itself and when it
 * must wait are agent/health/crush-location.ts (placeHost, crushMoveWaits); this holds what
 * one agent remembers between rounds: whether it is placed, and why it last waited.
 */
import type { CephProbe } from '../health/ceph-probe.js'
import { placeHost } from '../health/crush-location.js'
import type { Logger } from '../protocol/ports.js'

export interface RackPlacementOptions {
  nodeId: string
  /** This node's CRUSH host name. */
  host: string
  logger: Logger
  count: (name: string) => void
}

export class RackPlacement {
  /** The Ceph probe the real steps use (absent: no Ceph, or test steps). */
  probe: CephProbe | undefined
  private placed = false
  /** Why the CRUSH move waits (logged when it changes). */
  private waits: string | undefined
  /** The failure domain (options.domain, or one learned later: LLDP). */
  private domain: string | undefined

  constructor(
    private readonly o: RackPlacementOptions,
    domain: string | undefined,
  ) {
    this.domain = domain
  }

  /** A domain learned after start (LLDP): Ceph's CRUSH location follows it at the next round. */
  setDomain(domain: string): void {
    if (domain === this.domain) return
    this.domain = domain
    this.placed = false
  }

  /**
   * Once: Ceph's CRUSH location follows the failure domain (retried next round on an error).
   * A move re-places data, so it waits while `why()` gives a reason (crushMoveWaits: this
   * node in a cycle, or a wave running): moved under a wave, the backfill it starts competes
   * with the holders' recovery and reads as theirs.
   */
  maybePlace(why: () => string | undefined): void {
    const domain = this.domain
    if (this.placed || !this.probe || !domain || domain === 'default') return
    const waits = why()
    const log = this.o.logger
    if (waits) {
      if (this.waits !== waits) log.info({ component: 'upgrade', node: this.o.nodeId, domain, why: waits }, 'CRUSH location change waits')
      this.waits = waits
      return
    }
    this.waits = undefined
    this.placed = true
    void placeHost(this.probe, this.o.host, domain).then(
      (r) => log.info({ component: 'upgrade', node: this.o.nodeId, domain, ...r }, r.moved ? 'CRUSH host moved under its rack' : 'CRUSH location unchanged'),
      (err: Error) => {
        this.placed = false
        this.o.count('crush-location-errors')
        log.warn({ component: 'upgrade', node: this.o.nodeId, domain, err: err.message }, 'could not set the CRUSH location; trying again next round')
      },
    )
  }
}
