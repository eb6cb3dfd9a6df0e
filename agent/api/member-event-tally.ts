/**
 * Member joins, suspicions and deaths this agent has learned since it started: plain counts
 * kept from the first event, so that the agent's Prometheus series (agent-metrics.ts, whose
 * prom-client registry is built on the first scrape) count from the start too.
 */
import type { MeshEvent } from '../protocol/mesh-types.js'

/** The event stream the tally listens to (agent/mesh MeshRuntime satisfies it). */
export interface MemberEventSource {
  on(event: 'event', listener: (event: MeshEvent, at: number) => void): unknown
  off(event: 'event', listener: (event: MeshEvent, at: number) => void): unknown
}

export class MemberEventTally {
  /** Members seen for the first time. */
  joins = 0
  /** Members that turned suspect. */
  suspicions = 0
  /** Members declared dead. */
  deaths = 0
  private readonly detach: () => void

  constructor(mesh: MemberEventSource) {
    const onEvent = (e: MeshEvent) => {
      if (e.type !== 'member') return
      if (e.previous === undefined) this.joins++
      if (e.status === 'suspect' && e.previous !== 'suspect') this.suspicions++
      if (e.status === 'dead' && e.previous !== 'dead') this.deaths++
    }
    mesh.on('event', onEvent)
    this.detach = () => mesh.off('event', onEvent)
  }

  close(): void {
    this.detach()
  }
}
