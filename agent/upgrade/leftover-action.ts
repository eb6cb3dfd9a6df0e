/**
 * What a booting (or restarted) agent does with the cycle mark it finds on its Kubernetes
 * node, before it counts itself ready. Pure.
 *
 * - no mark: nothing was under way — `ready`;
 * - the coordinator's control message has arrived: held in maintenance there — `hold`;
 *   else `finish` the cycle as a leftover (post gate, uncordon, clear noout);
 * - no control message yet: a node whose maintenance mark is set (`maintenance`, written
 *   when its maintenance verb held it) stays held — `hold` — however long the coordinator
 *   is away: only the coordinator ends a maintenance (`shoal node maintenance off`), and
 *   its next control message says whether it did. Any other mark waits `controlWaitMs`
 *   for that message (it may still say "held") — `wait` — then is finished.
 */
export type LeftoverAction = 'ready' | 'wait' | 'hold' | 'finish'

export interface LeftoverFacts {
  /** The cycle mark on the node (undefined: none). */
  mark: string | undefined
  /** The node carries the maintenance mark (its maintenance verb held it). */
  maintenance: boolean
  /** A control message from the coordinator has been received since this process started. */
  control: boolean
  /** That control message lists this node as held in maintenance. */
  heldNow: boolean
  sinceBootMs: number
  controlWaitMs: number
}

export function leftoverAction(f: LeftoverFacts): LeftoverAction {
  if (f.mark === undefined) return 'ready'
  if (f.control) return f.heldNow ? 'hold' : 'finish'
  if (f.maintenance) return 'hold'
  return f.sinceBootMs < f.controlWaitMs ? 'wait' : 'finish'
}
