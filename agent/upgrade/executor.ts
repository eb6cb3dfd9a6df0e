/**
 * UpgradeExecutor: what a node does with a reboot lease it won.
 *
 * Before the reboot (the node is not on the wave's target yet):
 *   draining -> noout for its CRUSH host -> cordon -> drain (deadline; the wave's policy
 *   decides what a blocked drain means: `halt` fails the node, `force` goes on) ->
 *   ask the coordinator, with proof of the lease, to boot it on the target ->
 *   rebooting -> Rebooter.reboot().
 * After the reboot (RAM boot: the vote relearned the lease and handed it back):
 *   verifying -> post-reboot gate until it passes (or the node timeout: phase `failed`
 *   with the reason, which halts the wave) -> uncordon -> clear noout -> release -> ready.
 *
 * The fencing token (slot, term) is re-checked immediately before every action: a lease
 * that was force-released meanwhile stops the executor before it touches anything else.
 * Nothing here frees a lease on a timer; a failed node keeps its slot until it is healthy
 * or an operator force-releases it.
 */
import type { Phase } from '../protocol/node-record.js'
import { silentLogger, type Clock, type Logger, type Rebooter } from '../protocol/ports.js'
import type { Lease } from '../protocol/vote/index.js'

export interface GateVerdict {
  pass: boolean
  reasons: string[]
}

/** The node-local actions of a reboot cycle (agent/upgrade/real-steps.ts wires real ones). */
export interface UpgradeSteps {
  preGate(): Promise<GateVerdict>
  setNoout(): Promise<void>
  clearNoout(): Promise<void>
  /** Cordons the node, marked with this cycle (so a boot that finds the mark without a lease can finish it). */
  cordon(lease: Lease): Promise<void>
  /** Uncordons and removes the cycle mark. */
  uncordon(): Promise<void>
  /** The mark of a cycle this node was cordoned for and has not finished, if any. */
  leftoverCycle(): Promise<string | undefined>
  /** Evicts what a drain evicts; resolves with what still blocks at the deadline. */
  drain(deadlineMs: number, force: boolean): Promise<{ ok: boolean; blocking: string[] }>
  /** Asks the coordinator, with the lease as proof, to boot this node on `target` next. */
  assign(lease: Lease, target: string): Promise<void>
  postGate(): Promise<GateVerdict>
}

export interface ExecutorPolicy {
  /** Longest drain before the drain policy applies. */
  drainDeadlineMs: number
  drainPolicy: 'halt' | 'force'
  /** Longest wait for the post-reboot gate after boot before the node is marked failed. */
  verifyTimeoutMs: number
  /** Poll interval of the post-reboot gate. */
  verifyPollMs: number
}

export const defaultExecutorPolicy: Readonly<ExecutorPolicy> = Object.freeze({
  drainDeadlineMs: 300_000,
  drainPolicy: 'halt',
  verifyTimeoutMs: 900_000,
  verifyPollMs: 2000,
})

export interface ExecutorDeps {
  steps: UpgradeSteps
  rebooter: Rebooter
  /** The vote's fencing check: is this still our lease at this (slot, term)? */
  fenceValid(lease: Lease): boolean
  /** The wave's target image, and this node's current image. */
  target(): string | undefined
  image(): string
  /** Publishes this node's phase (and why) in its record. */
  setPhase(phase: Phase, reason?: string): void
  /** Tells the vote that the post-reboot gate passed: it releases the slot. */
  released(lease: Lease): void
  clock: Clock
  /** Waits `ms` (production: a timer; tests: a fake clock's advance). */
  wait(ms: number): Promise<void>
  policy?: Partial<ExecutorPolicy>
  logger?: Logger
}

export type ExecutorOutcome = 'rebooting' | 'released' | 'finished' | 'failed' | 'fenced'

export class UpgradeExecutor {
  private readonly policy: ExecutorPolicy
  private readonly log: Logger
  private running: Promise<ExecutorOutcome> | undefined
  /** The last step and its outcome, for the API. */
  last: { step: string; at: number; note?: string } | undefined

  constructor(private readonly d: ExecutorDeps) {
    this.policy = { ...defaultExecutorPolicy, ...d.policy }
    this.log = d.logger ?? silentLogger
  }

  /** Runs the cycle for a lease; a second call while one runs returns the same run. */
  onLease(lease: Lease): Promise<ExecutorOutcome> {
    this.running ??= this.run(lease).finally(() => {
      this.running = undefined
    })
    return this.running
  }

  /**
   * After a boot that found this node cordoned for a cycle (`mark`) whose lease it no longer
   * holds — the wave was aborted or replaced, or the slot force-released, while it was down:
   * the tail of that cycle without the release (there is no slot to free). Phase
   * `verifying` (unavailable, so it counts against every wave's budget) until the post gate
   * passes, then uncordon and clear noout. Only makes the node more available.
   */
  finishLeftover(mark: string): Promise<ExecutorOutcome> {
    this.running ??= this.leftover(mark).finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private async leftover(mark: string): Promise<ExecutorOutcome> {
    this.log.warn({ component: 'executor', cycle: mark }, 'booted cordoned for a cycle whose lease is gone: finishing it')
    this.d.setPhase('verifying')
    this.note('leftover', `finishing cycle ${mark}`)
    const failed = await this.verify(undefined)
    if (failed) return failed
    await this.d.steps.uncordon()
    await this.d.steps.clearNoout()
    this.d.setPhase('ready')
    this.note('leftover', `cycle ${mark} finished: uncordoned, noout cleared`)
    return 'finished'
  }

  private async run(lease: Lease): Promise<ExecutorOutcome> {
    const target = this.d.target()
    if (target !== undefined && this.d.image() === target) return this.afterBoot(lease)
    return this.beforeReboot(lease, target)
  }

  private async beforeReboot(lease: Lease, target: string | undefined): Promise<ExecutorOutcome> {
    if (target === undefined) return this.fail('no wave target known for this lease')
    if (!this.fence(lease, 'pre-gate')) return 'fenced'
    const pre = await this.d.steps.preGate()
    if (!pre.pass) {
      // Our view changed since the vote (an OSD elsewhere went down): going down now would
      // be unsafe. Hold the slot, do nothing, and let the operator or the gate decide.
      return this.fail(`pre-reboot gate failed: ${pre.reasons.join('; ')}`)
    }
    if (!this.fence(lease, 'noout')) return 'fenced'
    this.d.setPhase('draining')
    await this.d.steps.setNoout()
    if (!this.fence(lease, 'cordon')) return 'fenced'
    await this.d.steps.cordon(lease)
    if (!this.fence(lease, 'drain')) return 'fenced'
    const drain = await this.d.steps.drain(this.policy.drainDeadlineMs, false)
    if (!drain.ok) {
      if (this.policy.drainPolicy === 'halt') return this.fail(`drain blocked at the deadline by ${drain.blocking.join(', ')}`)
      this.note('drain', `forcing past ${drain.blocking.join(', ')}`)
      if (!this.fence(lease, 'drain --force')) return 'fenced'
      await this.d.steps.drain(this.policy.drainDeadlineMs, true)
    }
    if (!this.fence(lease, 'assign')) return 'fenced'
    await this.d.steps.assign(lease, target)
    if (!this.fence(lease, 'reboot')) return 'fenced'
    this.d.setPhase('rebooting')
    this.note('reboot', `onto ${target}`)
    await this.d.rebooter.reboot(`upgrade wave ${lease.wave}: slot ${lease.slot} term ${lease.term}, onto ${target}`)
    return 'rebooting'
  }

  private async afterBoot(lease: Lease): Promise<ExecutorOutcome> {
    if (!this.fence(lease, 'verify')) return 'fenced'
    this.d.setPhase('verifying')
    const failed = await this.verify(lease)
    if (failed) return failed
    if (!this.fence(lease, 'uncordon')) return 'fenced'
    await this.d.steps.uncordon()
    await this.d.steps.clearNoout()
    if (!this.fence(lease, 'release')) return 'fenced'
    this.d.released(lease)
    this.d.setPhase('ready')
    this.note('release', 'post-reboot gate passed')
    return 'released'
  }

  /** Polls the post-reboot gate until it passes (undefined), the verify timeout fails the node, or the lease is fenced. */
  private async verify(lease: Lease | undefined): Promise<ExecutorOutcome | undefined> {
    const deadline = this.d.clock.now() + this.policy.verifyTimeoutMs
    for (;;) {
      const last = await this.d.steps.postGate().catch((err: Error): GateVerdict => ({ pass: false, reasons: [err.message] }))
      if (last.pass) return undefined
      if (this.d.clock.now() >= deadline) return this.fail(`post-reboot gate did not pass within ${Math.round(this.policy.verifyTimeoutMs / 1000)} s: ${last.reasons.join('; ')}`)
      await this.d.wait(this.policy.verifyPollMs)
      if (lease && !this.fence(lease, 'verify')) return 'fenced'
    }
  }

  private fence(lease: Lease, step: string): boolean {
    if (this.d.fenceValid(lease)) return true
    this.log.warn({ component: 'executor', lease, step }, 'fencing token no longer valid: stopping before this step')
    this.note(step, 'fenced: the lease is no longer ours')
    return false
  }

  private fail(reason: string): ExecutorOutcome {
    this.log.error({ component: 'executor', reason }, 'upgrade step failed; the wave halts')
    this.d.setPhase('failed', reason)
    this.note('failed', reason)
    return 'failed'
  }

  private note(step: string, note?: string): void {
    this.last = { step, at: this.d.clock.now(), ...(note ? { note } : {}) }
  }
}
