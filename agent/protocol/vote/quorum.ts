/**
 * The quorum rule (DESIGN.md "Reboot leases"): more than half of the wave roster, or
 * exactly half plus the coordinator's vote. Any two such quorums share a roster member
 * or the coordinator, and each votes once per (slot, term): two winners of one
 * (slot, term) are impossible. The coordinator's vote matters only in the tie.
 */

/** True when `rosterVotes` yes votes from distinct roster members (plus the coordinator's, if given) win. */
export function isQuorum(rosterSize: number, rosterVotes: number, coordinatorVoted: boolean): boolean {
  return 2 * rosterVotes > rosterSize || (2 * rosterVotes === rosterSize && coordinatorVoted)
}

/**
 * Can a quorum still form? `against`: roster members known to have voted for someone
 * else at this (slot, term) (they never change it); `coordinatorAgainst` likewise.
 */
export function canStillWin(rosterSize: number, rosterVotes: number, against: number, coordinatorAgainst: boolean): boolean {
  const best = rosterSize - against
  void rosterVotes
  return isQuorum(rosterSize, best, !coordinatorAgainst)
}

/**
 * How many roster members other than a node that lost its memory must describe their
 * promises before it may vote again: enough that the answers meet every quorum that could
 * have formed with its forgotten vote in it. With the coordinator among the answers, the
 * tie quorums (half + coordinator) are met through it; without, one more member is needed
 * when the roster is even.
 */
export function syncAnswersNeeded(rosterSize: number, coordinatorAnswered: boolean): number {
  const others = rosterSize - 1
  const majorityOthers = Math.floor(rosterSize / 2) // a majority quorum minus the forgetful node
  let need = others - majorityOthers + 1
  if (rosterSize % 2 === 0 && !coordinatorAnswered) {
    const tieOthers = rosterSize / 2 - 1 // a tie quorum's roster members minus the forgetful node
    need = Math.max(need, others - tieOthers + 1)
  }
  return Math.max(0, need)
}
