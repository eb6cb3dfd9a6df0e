/**
 * Joint Ceph safety. A holder goes down only if `ceph osd ok-to-stop` passes for its own
 * OSDs PLUS those of every other node that is down, holding a slot, or rebooting — its
 * "joint set" — asked before noout and again right before the reboot. Asking each node
 * alone is not enough: two holders whose hosts share PGs both pass while the other is
 * still up (draining), and then both go down (docs/vote.md, "Joint Ceph safety").
 *
 * Two holders must never wait on each other for good (each counting the other as stopped,
 * neither going first: seen in the simulator once a third host died under two draining
 * holders). So the pair is ordered by id: a holder leaves out of its set the holders with a
 * greater id that have not gone down yet (draining), because each of those counts it in its
 * own set before going down. For any two holders, the greater one's yes covers both, whoever
 * goes first or if both go at once; the smallest waits only on nodes really down or back but
 * not yet verified. A greater holder past its reboot (up again, post-reboot gate not passed:
 * its OSDs may be empty and backfilling) asks nothing any more, so it is always counted — left
 * out, the smaller one went down beside it on Ceph's ok-to-stop, which does not count a
 * backfill target (seen on real Ceph with K=2: a reboot while the first host backfilled).
 *
 * Voters judge a candidate by the same question, answered from gossip: each node publishes
 * its pre verdict with the set it was computed jointly with (`health.gates.preWith`); the
 * question "may `hosts` stop, on top of what is down?" is answered yes only when some host
 * of `hosts` passed its pre gate jointly with a set that covers the others and every node
 * this voter sees down. ok-to-stop is monotone (stopping fewer OSDs never makes a PG
 * inactive that stopping more did not), so a covering superset's yes is a yes. Pure.
 */

/** What a node's view says of the others, for its joint set. */
export interface JointInputs {
  self: string
  /** The wave roster (or every member when no wave runs). */
  ids: Iterable<string>
  /** Unavailable in this view (availability.ts): down, missing, rebooting, draining, verifying, not Ready. */
  unavailable(id: string): boolean
  /** Whose OSDs may be down now: dead, missing, or phase rebooting. */
  down(id: string): boolean
  /** Who holds or was promised a slot, as this node's vote knows it. */
  holders: Iterable<string>
  /**
   * Whose record says it is in a cycle before its reboot (phase draining): a holder too,
   * even when the vote missed its grant. Without this, a holder whose vote lost the other's
   * grant counted it as merely unavailable, and two holders waited on each other for good.
   */
  cycling?: (id: string) => boolean
  /** Whose record says it is back from its cycle's reboot, not yet verified (phase verifying): always counted. */
  rebooted?: (id: string) => boolean
}

/**
 * The joint set of `self`: every other node that is unavailable in its view or holds (or
 * was promised) a slot, or whose record shows it in a cycle — except such holders with a
 * greater id that have not gone down yet (they count `self` in their own set; see the header).
 * Sorted, without duplicates.
 */
export function jointSet(v: JointInputs): string[] {
  const held = new Set(v.holders)
  const out = new Set<string>()
  const consider = (id: string) => {
    if (id === v.self || out.has(id)) return
    if (held.has(id) || v.cycling?.(id) === true) {
      if (id > v.self && !v.down(id) && v.rebooted?.(id) !== true) return
      out.add(id)
    } else if (v.unavailable(id)) out.add(id)
  }
  for (const id of v.ids) consider(id)
  for (const h of held) consider(h)
  return [...out].sort()
}

/** Who holds or was promised a slot, as a vote's view() lists its slots. */
export function slotHolders(slots: readonly { holder: string | undefined; promisedTo: readonly string[] }[]): string[] {
  const out: string[] = []
  for (const s of slots) {
    if (s.holder !== undefined && !out.includes(s.holder)) out.push(s.holder)
    for (const p of s.promisedTo) if (!out.includes(p)) out.push(p)
  }
  return out
}

/** A node's published pre verdict: passed, and jointly with which hosts. */
export interface JointVerdict {
  pre: boolean
  /** The hosts counted as stopped with it (absent: an agent that asks alone). */
  preWith?: readonly string[] | undefined
}

/**
 * ClusterView.okToStop from gossip: would every PG stay active if all of `hosts` stopped,
 * on top of what is down? `unavailable`: every node this voter sees unavailable; `down`:
 * whose OSDs may be down (dead, missing, rebooting). Yes only if some host h of `hosts`
 * reports pre = true jointly with a set that covers the other hosts and the unavailable
 * nodes — leaving out, by the same order as jointSet, the other hosts with a greater id
 * that are not down (they count h in their own set). Unknown fails closed.
 */
export function jointOkToStop(hosts: readonly string[], verdictOf: (id: string) => JointVerdict | undefined, unavailable: Iterable<string>, down: (id: string) => boolean): boolean {
  const others = [...unavailable]
  for (const h of hosts) {
    const v = verdictOf(h)
    if (!v?.pre) continue
    const cover = new Set(v.preWith ?? [])
    cover.add(h)
    const inHosts = new Set(hosts)
    const covered = (x: string) => cover.has(x) || (inHosts.has(x) && x > h && !down(x))
    if (hosts.every(covered) && others.every(covered)) return true
  }
  return false
}
