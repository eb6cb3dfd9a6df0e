/**
 * ClusterView: the port through which the vote sees the cluster. Production builds it from
 * the mesh's gossiped NodeRecords (image, phase, domain, health, workload) and the local
 * Ceph/Kubernetes probes (agent/health); the simulator from its models, as each node would
 * see them (stale by the gossip delay, blind across a partition).
 * Synchronous, cheap, never blocks: implementations answer from cached state.
 */

export interface NodeFacts {
  id: string
  /** Image version the node runs. */
  image: string
  /** Failure domain (rack, host group). */
  domain: string
  /**
   * False when the node is unavailable for ANY cause: rebooting, draining, cordoned,
   * not Ready, dead or missing from the mesh. Counts against K.
   */
  available: boolean
  /** The post-reboot gate: kubelet Ready, node Ready, OSDs up+in, its PGs active+clean. */
  healthy: boolean
  /** Pods a drain would evict (ranking: fewer first). */
  pods: number
  /** Load (ranking: lower first). */
  load: number
  /**
   * Its record says it is carrying out an upgrade cycle before its reboot (phase
   * `draining`, alive): it holds a slot, even when this node's vote missed the grant (a
   * grant is broadcast once). The joint set (joint-safety.ts) orders such a node as a holder.
   */
  cycling?: boolean
  /** Its record says it is back from its cycle's reboot, not yet verified (phase `verifying`, alive): every joint set counts it. */
  rebooted?: boolean
  /** Pods a PodDisruptionBudget refuses to evict now (ranking: any such node after the others). Absent: 0. */
  blocked?: number
  /** Ceph PGs with a replica on its OSDs, and of those the ones it is primary for (ranking: fewer first). Absent: 0. */
  pgs?: number
  primaries?: number
}

export interface ClusterView {
  /** What this node believes about `id`; undefined when `id` is missing (counts unavailable). */
  facts(id: string): NodeFacts | undefined
  /**
   * Ceph ok-to-stop: would every PG stay active if all OSDs of `hosts` stopped, on top of
   * what is down now? (production: `ceph osd ok-to-stop` + `osd dump`, see the reference's
   * timing trap.)
   */
  okToStop(hosts: readonly string[]): boolean
  /** Kubernetes: can `id` be drained now without breaking a PodDisruptionBudget? */
  drainable(id: string): boolean
  /**
   * Optional: a number that changes whenever the image, domain or availability `facts`
   * gives for any id may have changed (or whether it knows the id at all). With it the vote
   * keeps what it derived from a whole-roster pass until the number changes (view-scan.ts);
   * without it, it scans the roster on every check.
   */
  version?(): number
  /**
   * Optional, with `version`: the ids whose image, domain or availability (or presence)
   * may differ from what `facts` said when `version()` returned `since`; undefined when the
   * view cannot tell (then the vote passes over the whole roster again). With it, the vote
   * updates its roster pass by the few members that changed: O(changes) per view change
   * instead of O(roster) — at N=200 in the simulator, every node re-reading every member
   * on every change was a fifth of the run.
   */
  changedSince?(since: number): Iterable<string> | undefined
  /**
   * Optional: the key the cluster's current roster gives `id` (its mesh record's, which the
   * mesh admits only from roster keys). A worker that lives in RAM makes a new key at every
   * boot, but a wave's roster fixed the keys when it started: without this, a node that
   * rebooted for the wave could never be heard again, and its slot never released.
   */
  currentKey?(id: string): string | undefined
  /**
   * Optional: the second (Unix time) `id`'s current life began, as its mesh record shows it
   * (its incarnation). The coordinator holds a wave back until no member up now booted too
   * close to its start (cold-start.ts); without it, it never waits.
   */
  bootSecond?(id: string): number | undefined
}
