/**
 * The coordinator's ClusterView (agent/protocol/vote/cluster-view.ts), built from its own
 * mesh view: it has no Ceph or Kubernetes probes of its own, so it judges from what the
 * agents gossip (phase, image, domain, health, workload). It is only the tie-breaker: the
 * agents' views, with their real probes, decide every vote that is not a tie. "Available"
 * is agent/protocol/availability.ts's rule, the one every view uses. While the
 * wave is held (paused, aborted, halted, outside its window, alerts firing) every
 * candidate is reported not drainable, so the coordinator refuses its tie-break vote.
 */
import { isAvailable, memberAvailability } from '../../agent/protocol/availability.js'
import type { MemberView } from '../../agent/protocol/mesh-types.js'
import { workFacts } from '../../agent/protocol/node-record.js'
import type { ClusterView, NodeFacts } from '../../agent/protocol/vote/cluster-view.js'
import type { Hold } from '../../agent/protocol/wave-control.js'

/** Where members come from: the coordinator's MeshRuntime, or a fake in tests. */
export interface MemberSource {
  view(): MemberView[]
}

export const emptyMembers: MemberSource = { view: () => [] }

export class CoordinatorView implements ClusterView {
  private cache: Map<string, MemberView> | undefined

  constructor(
    private readonly source: MemberSource,
    private readonly hold: () => Hold,
  ) {}

  /** Drops the cached mesh view: the next question reads it again. */
  refresh(): void {
    this.cache = undefined
  }

  /**
   * One read of the mesh view serves every question asked in the same synchronous run (a
   * vote step asks for facts many times); it is dropped right after.
   */
  private get members(): Map<string, MemberView> {
    if (!this.cache) {
      this.cache = new Map(this.source.view().map((m) => [m.id, m]))
      queueMicrotask(() => (this.cache = undefined))
    }
    return this.cache
  }

  member(id: string): MemberView | undefined {
    return this.members.get(id)
  }

  /**
   * The second `id`'s current life began: its incarnation (a record's first is its boot
   * second; refutations only bump it). The vote holds a wave back at a cold start by it.
   */
  bootSecond(id: string): number | undefined {
    const m = this.members.get(id)
    if (!m) return undefined
    return Math.max(m.inc ?? 0, m.record?.inc ?? 0)
  }

  /** The key of `id`'s current record (a RAM-booted node gets a new one at every boot). */
  currentKey(id: string): string | undefined {
    return this.members.get(id)?.record?.key
  }

  facts(id: string): NodeFacts | undefined {
    const m = this.members.get(id)
    const r = m?.record
    if (!m || !r) return undefined
    return {
      id,
      image: this.viewImage?.(id, r.image) ?? r.image,
      domain: r.domain,
      available: isAvailable(memberAvailability(m)),
      healthy: r.health.status === 'ok',
      ...workFacts(r.work),
    }
  }

  /**
   * No Ceph here: safe unless a live host reports critical health. Holders that are down
   * (rebooting) are already counted against the budget by the vote itself.
   */
  okToStop(hosts: readonly string[]): boolean {
    for (const h of hosts) {
      const m = this.members.get(h)
      if (m?.status === 'alive' && m.record?.health.status === 'critical') return false
    }
    return true
  }

  drainable(id: string): boolean {
    return !this.hold().held && (this.selected?.(id) ?? true)
  }

  /** Whether the wave may take `id` now (its selection or canary); set by the wave service. */
  selected: ((id: string) => boolean) | undefined

  /** The image the vote sees for `id` (a node verb's pending subject: its marker, node-verbs.ts); set by the wave service. */
  viewImage: ((id: string, image: string) => string) | undefined
}
