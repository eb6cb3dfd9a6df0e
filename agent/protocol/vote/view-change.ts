/**
 * A view change that cannot matter to this node's vote. The agent hands the vote a
 * `view-changed` input whenever the mesh shows a member's record change (and after every
 * gate round); the vote then judges its holders (resolution.ts doneHolderTick) and, with a
 * slot free, whether to ask for it (candidate.ts maybeRequest). Most such changes concern
 * members this node watches for neither: at N=200 in the simulator, 98% of the ~240,000
 * view-changed steps of a wave did nothing.
 *
 * With the members whose facts may have changed (`changed`, a superset is fine), the step
 * returns at once, changing nothing, when it would anyway: the books and the clock alone
 * stop the candidate (requestBlocked), and no holder it judged before is named in
 * `changed` or due to be asked (doneHoldersQuiet). Without `changed` it always runs.
 */
import { requestBlocked } from './candidate.js'
import { doneHoldersQuiet } from './resolution.js'
import type { VoteCore } from './vote-core.js'

/** True when a view-changed step now, with only `changed` different, would do nothing. */
export function viewChangeQuiet(vn: VoteCore, changed: ReadonlySet<string>): boolean {
  if (!vn.wave) return true // nothing to judge, nothing to ask for
  const c = vn.cand.collecting
  if (c?.reclaim && vn.cand.reclaimVotes.size > 0) return false // votes to count (maybeRequest)
  return requestBlocked(vn) && doneHoldersQuiet(vn, changed)
}
