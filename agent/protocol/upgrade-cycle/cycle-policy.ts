/** The timeouts and policies of one upgrade cycle (agent/protocol/upgrade-config.ts sets them from config). */
export interface CyclePolicy {
  /** Longest drain before the drain policy applies. Infinity: wait as long as the PDBs say. */
  drainDeadlineMs: number
  /** What a drain still blocked at the deadline means: `halt` fails the node (the wave halts), `force` evicts anyway. */
  drainPolicy: 'halt' | 'force'
  /** Longest wait for the post-reboot gate after boot before the node is marked failed. Infinity: no limit. */
  verifyTimeoutMs: number
  /** Poll interval of the post-reboot gate. */
  verifyPollMs: number
  /**
   * Poll interval while a holder waits for its pre-reboot gate or the joint ok-to-stop
   * check right before the reboot. 5 s: a PG state settles in ~1-2 s after an OSD change,
   * and every try costs a few `ceph` runs.
   */
  waitPollMs: number
  /**
   * A waiting holder tries again as soon as what it waits on changes (a `poke`: a record or
   * health change, a release), but no sooner than this after its last try. 1 s: PG states
   * lag an OSD change by about that, and each try costs a few `ceph` runs.
   */
  pokeMinGapMs: number
}

export const defaultCyclePolicy: Readonly<CyclePolicy> = Object.freeze({
  drainDeadlineMs: 300_000,
  drainPolicy: 'halt',
  verifyTimeoutMs: 900_000,
  verifyPollMs: 2000,
  waitPollMs: 5000,
  pokeMinGapMs: 1000,
})
