/**
 * UpgradeExecutor: drives the pure upgrade cycle (agent/protocol/upgrade-cycle) with the
 * node's real steps (real-steps.ts) and its Rebooter — the same machine the simulator
 * drives with its models. It carries out each effect: an action through UpgradeSteps (its
 * answer goes back in as `done`, with the fencing token read at that moment), a wake
 * through `wait`, the phase into the record, the release into the vote.
 *
 * See agent/protocol/upgrade-cycle/cycle-step.ts for the cycle itself: pre-gate, noout,
 * cordon, drain, assign, the joint ok-to-stop right before the reboot, reboot; after it,
 * the post gate, uncordon, clear noout, release. Nothing here frees a lease on a timer.
 */
import type { VerbKind } from '../protocol/node-verbs.js'
import type { Phase } from '../protocol/node-record.js'
import { silentLogger, type Clock, type Logger, type Rebooter } from '../protocol/ports.js'
import {
  defaultCyclePolicy,
  idleCycle,
  stepCycle,
  type CycleAction,
  type CycleInput,
  type CycleOutcome,
  type CyclePolicy,
  type CycleState,
  type DrainResult,
  type GateVerdict,
} from '../protocol/upgrade-cycle/index.js'
import type { Lease } from '../protocol/vote/index.js'

export type { GateVerdict } from '../protocol/upgrade-cycle/index.js'

/** The node-local actions of a reboot cycle (agent/upgrade/real-steps.ts wires real ones). */
export interface UpgradeSteps {
  /** The pre-reboot gate, joint with every node down, holding a slot or rebooting. */
  preGate(): Promise<GateVerdict>
  /**
   * The joint Ceph question again, right before the reboot (after the drain): ok-to-stop
   * for this node's OSDs plus those of every node down, holding a slot or rebooting, and
   * no OSD down outside that set.
   */
  jointCheck(): Promise<GateVerdict>
  setNoout(): Promise<void>
  clearNoout(): Promise<void>
  /** Cordons the node, marked with this cycle (so a boot that finds the mark without a lease can finish it). */
  cordon(lease: Lease): Promise<void>
  /** Uncordons and removes the cycle mark. */
  uncordon(): Promise<void>
  /** The mark of a cycle this node was cordoned for and has not finished, if any. */
  leftoverCycle(): Promise<string | undefined>
  /**
   * Whether that mark was set in this very boot (the agent restarted; the machine has not
   * gone down since). undefined: cannot tell (no boot id known, or a mark from an agent that
   * wrote none) — then a mark counts as a reboot, as it always did. Absent: never tells.
   */
  cordonedThisBoot?(): Promise<boolean | undefined>
  /** Maintenance: marks the node as held by its maintenance verb `wave` (cleared by uncordon). Absent: not marked. */
  markMaintenance?(wave: string): Promise<void>
  /** The maintenance mark (the verb's wave), if set. Absent: never marked. */
  maintenanceMark?(): Promise<string | undefined>
  /** Evicts what a drain evicts; resolves with what still blocks at the deadline. */
  drain(deadlineMs: number, force: boolean): Promise<DrainResult>
  /** Asks the coordinator, with the lease as proof, to boot this node on `target` next. */
  assign(lease: Lease, target: string): Promise<void>
  postGate(): Promise<GateVerdict>
  /** Decommission: marks this host's OSDs out (`ceph osd out`). Absent: these steps cannot decommission (the step fails). */
  osdOut?(): Promise<void>
  /** A decommission undone (its lease lost before it left): marks this host's OSDs in again (`ceph osd in`). Absent: the undo logs it and goes on. */
  osdIn?(): Promise<void>
  /** Decommission: every PG active+clean and none left on this host's OSDs (their data moved). */
  dataMoved?(): Promise<GateVerdict>
}

export type ExecutorPolicy = CyclePolicy
export const defaultExecutorPolicy: Readonly<ExecutorPolicy> = defaultCyclePolicy

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

export type ExecutorOutcome = CycleOutcome

export class UpgradeExecutor {
  private readonly policy: ExecutorPolicy
  private readonly log: Logger
  private running: Promise<ExecutorOutcome> | undefined
  private state: CycleState = idleCycle
  private lease: Lease | undefined
  /** Ends the current wait early (set while the cycle waits on a timer). */
  private wakeEarly: (() => void) | undefined
  /** A poke that came while an action ran: delivered at the next wait. */
  private pokedLate = false

  constructor(private readonly d: ExecutorDeps) {
    this.policy = { ...defaultExecutorPolicy, ...d.policy }
    this.log = d.logger ?? silentLogger
  }

  /** The last step and its outcome, for the API. */
  get last(): { step: string; at: number; note?: string } | undefined {
    return this.state.last
  }

  /**
   * Runs the cycle for a lease; a second call while one runs returns the same run.
   * `resume`: the cycle was under way before an agent restart (skip the pre-gate).
   * `verb`: a node verb's cycle (node-verbs.ts), with `image` standing for this node's image
   * (the verb's marker before its reboot, the target after it).
   */
  onLease(lease: Lease, opts: { resume?: boolean; verb?: VerbKind; image?: string } = {}): Promise<ExecutorOutcome> {
    this.running ??= this.drive(lease, {
      type: 'lease',
      lease,
      target: this.d.target(),
      // A node verb's cycle judges "before or after the reboot" by the image it is given (node-verbs.ts).
      image: opts.image ?? this.d.image(),
      fence: this.d.fenceValid(lease),
      policy: this.policy,
      ...(opts.resume ? { resume: true } : {}),
      ...(opts.verb ? { verb: opts.verb } : {}),
    }).finally(() => {
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
    this.running ??= this.drive(undefined, { type: 'leftover', mark, policy: this.policy }).finally(() => {
      this.running = undefined
    })
    return this.running
  }

  /**
   * What a waiting gate depends on may have changed (a record, health, a release): a holder
   * waiting at its pre-gate or joint check (or the post gate) tries again at once, or as
   * soon as the cycle's pokeMinGapMs allows, instead of at its next waitPollMs. Cheap and
   * safe at any time; a poke while no run waits is remembered for its next wait.
   */
  poke(): void {
    if (!this.running) return
    if (this.wakeEarly) this.wakeEarly()
    else this.pokedLate = true
  }

  /** Waits until `at` or a poke, whichever first: the cycle's next input. */
  private async sleep(at: number): Promise<CycleInput> {
    let poked = this.pokedLate
    this.pokedLate = false
    if (!poked) {
      const early = new Promise<void>((resolve) => {
        this.wakeEarly = () => {
          poked = true
          resolve()
        }
      })
      await Promise.race([this.d.wait(Math.max(0, at - this.d.clock.now())), early])
      this.wakeEarly = undefined
    }
    return poked ? { type: 'poke', fence: this.fence() } : { type: 'tick', fence: this.fence() }
  }

  private fence(): boolean {
    return this.lease !== undefined && this.d.fenceValid(this.lease)
  }

  private async drive(lease: Lease | undefined, first: CycleInput): Promise<ExecutorOutcome> {
    this.lease = lease
    let input: CycleInput | undefined = first
    this.pokedLate = false
    // The earliest wake asked for and not yet come (a poke may leave it standing).
    let wakeAt: number | undefined
    for (;;) {
      const { state, effects } = stepCycle(this.state, input, this.d.clock.now())
      this.state = state
      input = undefined
      let action: CycleAction | undefined
      for (const e of effects) {
        switch (e.type) {
          case 'phase':
            this.d.setPhase(e.phase, e.reason)
            break
          case 'log':
            this.log[e.level]({ component: 'executor', ...e.data }, e.msg)
            break
          case 'release':
            this.d.released(e.lease)
            break
          case 'do':
            action = e.action
            break
          case 'wake':
            wakeAt = Math.min(wakeAt ?? Infinity, e.at)
            break
          case 'end':
            return e.outcome
        }
      }
      if (action) {
        wakeAt = undefined // the action's answer decides what comes next
        input = await this.perform(action)
      } else if (wakeAt !== undefined) {
        input = await this.sleep(wakeAt)
        if (input.type === 'tick') wakeAt = undefined
      } else throw new Error('upgrade cycle: a step left nothing to do and did not end (a bug in agent/protocol/upgrade-cycle)')
    }
  }

  /** Carries out one action; its outcome (or the error it threw) is the next input. */
  private async perform(a: CycleAction): Promise<CycleInput> {
    const s = this.d.steps
    const done = (extra: Partial<Extract<CycleInput, { type: 'done' }>> = {}): CycleInput => ({ type: 'done', step: a.step, fence: this.fence(), ...extra })
    try {
      switch (a.step) {
        case 'pre-gate':
          return done({ verdict: await s.preGate() })
        case 'joint-check':
          return done({ verdict: await s.jointCheck() })
        case 'post-gate':
          return done({ verdict: await s.postGate() })
        case 'set-noout':
          await s.setNoout()
          return done()
        case 'cordon':
          await s.cordon(a.lease)
          return done()
        case 'drain':
          return done({ drain: await s.drain(a.deadlineMs, a.force) })
        case 'assign':
          await s.assign(a.lease, a.target)
          return done()
        case 'reboot':
          if (a.powerOff) {
            if (!this.d.rebooter.powerOff) throw new Error('this rebooter cannot power the machine off')
            await this.d.rebooter.powerOff(a.reason)
          } else await this.d.rebooter.reboot(a.reason)
          return done()
        case 'osd-out':
          if (!s.osdOut) throw new Error('these upgrade steps cannot mark OSDs out (decommission)')
          await s.osdOut()
          return done()
        case 'osd-in':
          if (!s.osdIn) throw new Error('these upgrade steps cannot mark OSDs in (a decommission undone); mark them in by hand: ceph osd in')
          await s.osdIn()
          return done()
        case 'data-moved':
          if (!s.dataMoved) throw new Error('these upgrade steps cannot tell whether Ceph moved the data (decommission)')
          return done({ verdict: await s.dataMoved() })
        case 'uncordon':
          await s.uncordon()
          return done()
        case 'clear-noout':
          await s.clearNoout()
          return done()
      }
    } catch (err) {
      return done({ error: (err as Error).message })
    }
  }
}
