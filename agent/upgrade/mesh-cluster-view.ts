/**
 * The vote's ClusterView in a real agent, answered from the gossiped NodeRecords — never
 * from a probe on the spot (the port is synchronous and must be cheap):
 * - facts: image, domain and workload from the record; available is agent/protocol's one
 *   rule (availability.ts: alive in the mesh, phase `ready`, health not critical);
 *   healthy = available and its own post-reboot gate passed.
 * - okToStop(hosts): the joint question, answered from gossip (agent/protocol/joint-safety.ts):
 *   some host of `hosts` published pre = true computed jointly (`gates.preWith`) with a set
 *   that covers the other hosts and every roster member this view sees unavailable. Each
 *   node asks `ceph osd ok-to-stop` for its own OSDs plus its joint set's (every node it
 *   sees down, holding a slot or rebooting), with the race guard "no OSD down outside the
 *   set". A node's verdict alone, computed against what is down now, is not enough: two
 *   holders sharing PGs would each pass while the other still drains.
 * - drainable(id): the node's pre gate (which includes "drain possible"), AND the wave
 *   is not held (WaveGate: paused, aborted, outside its window, alerts, or halted). A
 *   hold therefore stops new requests and votes, and nothing else.
 * Unknown fails closed: a node without gate verdicts is neither ok-to-stop nor drainable.
 */
import { inCycle, isAvailable, mayBeDown, memberAvailability, pastReboot } from '../protocol/availability.js'
import { jointOkToStop, jointSet } from '../protocol/joint-safety.js'
import { workFacts } from '../protocol/node-record.js'
import type { MemberView } from '../protocol/mesh-types.js'
import type { Clock } from '../protocol/ports.js'
import type { ClusterView, NodeFacts } from '../protocol/vote/cluster-view.js'
import type { WaveGate } from '../protocol/wave-control.js'

export interface MemberSource {
  view(): MemberView[]
}

export class MeshClusterView implements ClusterView {
  private cache: Map<string, MemberView> | undefined
  private unavailableCache: string[] | undefined
  /** The current wave's roster (for the halt rule); set by whoever tracks the wave. */
  roster: readonly string[] = []
  /** The wave the vote runs now (a node verb applies in its own wave only); set by whoever tracks the wave. */
  wave: () => string | undefined = () => undefined

  constructor(
    private readonly mesh: MemberSource,
    private readonly clock: Clock,
    private readonly gate?: WaveGate,
  ) {}

  /** Drops the cached member map now (the next question reads the mesh view again). */
  invalidate(): void {
    this.cache = undefined
    this.unavailableCache = undefined
  }

  /**
   * One read of the mesh view serves every question asked in the same synchronous run (a
   * vote step asks for facts many times); it is dropped right after. Kept longer, it went
   * stale on this node's own record: updating it emits no mesh event, so a node whose own
   * pre gate had just turned true kept judging itself by the old verdict — and, once the
   * rest of the cluster was quiet, never asked for the free slot (the live test's "last
   * worker never granted a slot").
   */
  member(id: string): MemberView | undefined {
    if (!this.cache) {
      this.cache = new Map(this.mesh.view().map((m) => [m.id, m]))
      queueMicrotask(() => this.invalidate())
    }
    return this.cache.get(id)
  }

  /** The key of `id`'s current record: the mesh admits records only from roster keys. */
  currentKey(id: string): string | undefined {
    return this.member(id)?.record?.key
  }

  facts(id: string): NodeFacts | undefined {
    const m = this.member(id)
    const r = m?.record
    if (!m || !r) return undefined
    const a = memberAvailability(m)
    const available = isAvailable(a)
    return {
      id,
      // The pending subject of a node verb is "not on the target yet" (node-verbs.ts): its one candidate.
      image: this.gate ? this.gate.viewImage(id, r.image, this.wave()) : r.image,
      domain: r.domain,
      available,
      healthy: available && r.health.gates?.post === true,
      ...workFacts(r.work),
      cycling: inCycle(a),
    }
  }

  okToStop(hosts: readonly string[]): boolean {
    return jointOkToStop(hosts, (id) => this.member(id)?.record?.health.gates, this.unavailable(), (id) => this.down(id))
  }

  /** The ids the joint question covers: the wave roster, or every member when no wave runs. */
  private ids(): string[] {
    if (this.roster.length > 0) return [...this.roster]
    if (!this.cache) this.member('')
    return [...this.cache!.keys()]
  }

  /** Roster members this view sees unavailable (cached with the member map). */
  unavailable(): string[] {
    if (!this.unavailableCache) this.unavailableCache = this.ids().filter((id) => !isAvailable(memberAvailability(this.member(id))))
    return this.unavailableCache
  }

  /** Whose OSDs may be down now: dead, suspect, missing, or rebooting. */
  down(id: string): boolean {
    return mayBeDown(memberAvailability(this.member(id)))
  }

  /** The joint set of `self` in this view, given the slot holders its vote knows (joint-safety.ts). */
  jointSet(self: string, holders: Iterable<string>): string[] {
    const unavailable = new Set(this.unavailable())
    return jointSet({ self, ids: this.ids(), unavailable: (id) => unavailable.has(id), down: (id) => this.down(id), holders, cycling: (id) => inCycle(memberAvailability(this.member(id))), rebooted: (id) => pastReboot(memberAvailability(this.member(id))) })
  }

  drainable(id: string): boolean {
    if (this.held().held) return false
    // Outside the wave's selection (a node selector, a canary): never a candidate for it.
    if (this.gate && !this.gate.selected(id)) return false
    return this.member(id)?.record?.health.gates?.pre === true
  }

  /** Whether new slots are held back now, and why (also for the API). */
  held(): { held: boolean; reason: string | undefined; halted: boolean } {
    if (!this.gate) return { held: false, reason: undefined, halted: false }
    const now = this.clock.now()
    this.gate.observe(this.roster, (id) => this.member(id), now)
    return this.gate.hold(now)
  }
}
