/**
 * What a lease's cycle starts as, from what the node itself carries (its cycle mark, and
 * whether it was cordoned in this boot) and the coordinator's control message: an upgrade
 * from its pre gate, an upgrade resumed after an agent restart, or a node verb (reboot,
 * shutdown, maintenance, decommission), itself fresh, resumed or past its reboot. The
 * UpgradeAgent asks `options(lease)` and hands the answer to the executor.
 */
import type { Clock, Logger } from '../protocol/ports.js'
import type { Lease } from '../protocol/vote/index.js'
import { verbImage, type VerbKind } from '../protocol/node-verbs.js'
import type { WaveGate } from '../protocol/wave-control.js'
import { cycleMark } from '../protocol/upgrade-cycle/index.js'
import type { UpgradeSteps } from './executor.js'

/**
 * Longest wait, at a boot that finds a cycle mark (and no maintenance mark), for the
 * coordinator's control message before the leftover cycle is finished: a node in
 * maintenance whose mark could not be written must learn it is still held (the control is
 * re-broadcast every 3 s) rather than uncordon itself. 30 s.
 */
export const CONTROL_WAIT_MS = 30_000


export interface LeasePlanOptions {
  nodeId: string
  /** The image this node runs. */
  image: string
  steps: UpgradeSteps
  /** The current wave's target image (undefined: no wave known). */
  target: () => string | undefined
  /** The control message's node verb, if any. */
  verb: () => ReturnType<WaveGate['verb']>
  closed: () => boolean
  clock: Clock
  wait: (ms: number) => Promise<void>
  logger: Logger
}

export class LeasePlan {
  constructor(private readonly o: LeasePlanOptions) {}

  /** The executor's options for this lease. */
  async options(lease: Lease): Promise<{ resume?: boolean; verb?: VerbKind; image?: string }> {
    let verb = await this.verbLease(lease)
    // The lease came back to a restarted agent before the control message naming its verb:
    // a cycle on the node's own image marked in this very boot is a verb not carried out
    // yet (the machine has not gone down) — learn which before acting, rather than take the
    // mark for the reboot.
    if (!verb && (await this.markedThisBootOnOwnImage(lease))) verb = await this.verbLeaseWithin(lease, CONTROL_WAIT_MS)
    return verb ?? { resume: await this.resumes(lease) }
  }

  /**
   * Whether this lease's cycle was already under way before this process started (an agent
   * restart, not a reboot): the node carries this cycle's mark. Then the cycle goes on from
   * noout (idempotent) instead of the pre gate — whose wait would publish `ready` for a node
   * that is cordoned. Unknown (Kubernetes unreachable): not a resume.
   */
  private async resumes(lease: Lease): Promise<boolean> {
    const target = this.o.target()
    if (target === undefined || this.o.image === target) return false
    const mark = await this.o.steps.leftoverCycle().catch(() => undefined)
    return mark === cycleMark(lease)
  }

  /** This lease's cycle mark is on the node, set in this boot, and the wave targets the image this node runs (only a verb does). */
  private async markedThisBootOnOwnImage(lease: Lease): Promise<boolean> {
    const target = this.o.target()
    if (target === undefined || this.o.image !== target || !this.o.steps.cordonedThisBoot) return false
    if ((await this.o.steps.leftoverCycle().catch(() => undefined)) !== cycleMark(lease)) return false
    return (await this.o.steps.cordonedThisBoot().catch(() => undefined)) === true
  }

  /** verbLease, asked again as control messages arrive (re-broadcast every 3 s), for at most `ms`. */
  private async verbLeaseWithin(lease: Lease, ms: number): Promise<Awaited<ReturnType<LeasePlan['verbLease']>>> {
    const end = this.o.clock.now() + ms
    for (;;) {
      const v = await this.verbLease(lease)
      if (v || this.o.closed() || this.o.clock.now() >= end) {
        if (!v) this.o.logger.warn({ component: 'upgrade', node: this.o.nodeId, lease }, 'no control message named the verb of this lease: finishing its cycle as after a reboot')
        return v
      }
      await this.o.wait(250)
    }
  }

  /**
   * The executor's options for a node verb's lease (node-verbs.ts), undefined for an
   * upgrade. A node carrying this lease's cycle mark has been through the verb's cycle
   * before this process started: after a reboot or power-off that means the machine went
   * down and came back (the cycle goes on at its post gate); for maintenance and
   * decommission, which do not reboot, it is a resume (noout, cordon, drain again).
   */
  private async verbLease(lease: Lease): Promise<{ verb: VerbKind; image: string; resume: boolean } | undefined> {
    const v = this.o.verb()
    const target = this.o.target()
    if (!v || v.node !== this.o.nodeId || v.wave !== lease.wave || target === undefined) return undefined
    const marked = (await this.o.steps.leftoverCycle().catch(() => undefined)) === cycleMark(lease)
    if (marked && (v.kind === 'reboot' || v.kind === 'shutdown')) {
      // Marked in this very boot: the agent restarted, the machine never went down — carry on.
      if ((await this.o.steps.cordonedThisBoot?.().catch(() => undefined)) === true) {
        this.o.logger.warn({ component: 'upgrade', node: this.o.nodeId, lease, verb: v.kind }, 'agent restarted mid-cycle in the same boot: the verb carries on (noout, cordon, drain again, then down)')
        return { verb: v.kind, image: verbImage(v.kind), resume: true }
      }
      return { verb: v.kind, image: target, resume: false }
    }
    return { verb: v.kind, image: verbImage(v.kind), resume: marked }
  }
}
