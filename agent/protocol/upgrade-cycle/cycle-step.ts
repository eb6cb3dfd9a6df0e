/**
 * The upgrade cycle as a pure step: `stepCycle(state, input, now) -> { state, effects }`.
 * Production (agent/upgrade/executor.ts, over agent/upgrade/real-steps.ts) and the
 * simulator (sim/wave/cycle-steps.ts, over the Ceph and Kubernetes models) drive this very
 * function; neither keeps a sequence of its own.
 *
 * Before the reboot (the node is not on the wave's target yet):
 *   pre-gate (joint ok-to-stop; a failing gate waits and retries, touching nothing) ->
 *   phase draining -> noout -> cordon (marked with the cycle) -> drain (deadline; the
 *   policy decides what a blocked drain means: `halt` fails the node, `force` goes on) ->
 *   assign (the coordinator boots it on the target next) -> joint-check (ok-to-stop again,
 *   for this node plus every node down, holding a slot or rebooting; failing, the holder
 *   keeps its slot, publishes why and tries again every waitPollMs — it never reboots on a
 *   stale answer) -> phase rebooting -> reboot.
 * After the reboot (on the target; the vote handed the lease back):
 *   phase verifying -> post-gate every verifyPollMs until it passes (or verifyTimeoutMs:
 *   phase failed, which halts the wave) -> uncordon -> clear noout -> release -> ready.
 * Leftover (booted cordoned for a cycle whose lease is gone): the after-boot tail without
 *   the release.
 *
 * The fencing token (slot, term) is re-checked before every action (each input carries
 * `fence`, read by the driver at that moment). A fence lost before the reboot stops the
 * cycle and undoes what it set (a decommission's OSDs in again, uncordon, clear noout: only
 * ever more available); lost
 * after the reboot, the cycle finishes as a leftover, with nothing to release. Nothing
 * here frees a lease on a timer: a failed node keeps its slot until it is healthy or an
 * operator force-releases it.
 */
import type { Lease } from '../vote/index.js'
import type { CyclePolicy } from './cycle-policy.js'
import type { CycleAction, CycleEffect, CycleInput, CycleOutcome, CycleRun, CycleState, CycleStepName, GateVerdict } from './cycle-types.js'

export interface CycleStepResult {
  state: CycleState
  effects: CycleEffect[]
}

/** The fence-check name of each action (what the logs and `last` say). */
const FENCE_NAME: Record<CycleStepName, string> = {
  'pre-gate': 'pre-gate',
  'set-noout': 'noout',
  cordon: 'cordon',
  drain: 'drain',
  assign: 'assign',
  'joint-check': 'joint-check',
  reboot: 'reboot',
  'post-gate': 'verify',
  uncordon: 'uncordon',
  'clear-noout': 'clear-noout',
  'osd-out': 'osd-out',
  'osd-in': 'osd-in',
  'data-moved': 'data-moved',
}

export function cycleMark(lease: Lease): string {
  return `${lease.wave}/${lease.slot}/${lease.term}`
}

export function stepCycle(state: CycleState, input: CycleInput, now: number): CycleStepResult {
  const c = new Cycle(state, now)
  c.step(input)
  return { state: c.state(), effects: c.effects }
}

/** One step's scratch: a copy of the state being changed and the effects so far. */
class Cycle {
  readonly effects: CycleEffect[] = []
  private run: CycleRun | undefined
  private outcome: CycleOutcome | undefined
  private last: CycleState['last']

  constructor(
    s: CycleState,
    private readonly now: number,
  ) {
    this.run = s.run ? { ...s.run } : undefined
    this.outcome = s.outcome
    this.last = s.last
  }

  state(): CycleState {
    return { run: this.run, outcome: this.outcome, last: this.last }
  }

  step(input: CycleInput): void {
    switch (input.type) {
      case 'lease':
        return this.startLease(input)
      case 'leftover':
        return this.startLeftover(input.mark, input.policy)
      case 'done':
        return this.done(input)
      case 'tick':
        return this.tick(input.fence)
      case 'poke':
        return this.poke(input.fence)
    }
  }

  // ---- starting ------------------------------------------------------------------------

  private begin(kind: CycleRun['kind'], lease: Lease | undefined, target: string | undefined, mark: string | undefined, policy: CyclePolicy): CycleRun {
    this.outcome = undefined
    this.run = { kind, lease, target, mark, policy, step: 'pre-gate', inFlight: false, touched: 'none', undoing: false, forced: false, afterBoot: false, verifyDeadline: Infinity, waitingWhy: undefined, triedAt: -Infinity, retryAt: Infinity }
    return this.run
  }

  private startLease(i: Extract<CycleInput, { type: 'lease' }>): void {
    if (this.run) return // one run at a time: the driver hands a second lease to the running one
    const r = this.begin('lease', i.lease, i.target, undefined, i.policy)
    if (i.verb) r.verb = i.verb
    if (i.target === undefined) return this.fail('no wave target known for this lease')
    if (i.image === i.target) {
      r.afterBoot = true
      r.touched = 'cordon'
      if (!this.fenceOk(i.fence, 'post-gate')) return
      this.phase('verifying')
      r.verifyDeadline = this.now + r.policy.verifyTimeoutMs
      return this.act({ step: 'post-gate' }, i.fence)
    }
    if (i.resume) {
      this.note('resume', `slot ${i.lease.slot} term ${i.lease.term}: carrying on after an agent restart`)
      // What the previous process set is undone on a fence loss too. A decommission may have
      // marked its OSDs out already: `osd in` of OSDs that are in changes nothing.
      r.touched = i.verb === 'decommission' ? 'osd-out' : 'cordon'
      return this.startDraining(i.fence)
    }
    this.act({ step: 'pre-gate' }, i.fence)
  }

  private startLeftover(mark: string, policy: CyclePolicy): void {
    if (this.run) return
    const r = this.begin('leftover', undefined, undefined, mark, policy)
    r.afterBoot = true
    r.touched = 'cordon'
    this.log('warn', 'booted cordoned for a cycle whose lease is gone: finishing it', { cycle: mark })
    this.phase('verifying')
    this.note('leftover', `finishing cycle ${mark}`)
    r.verifyDeadline = this.now + policy.verifyTimeoutMs
    this.act({ step: 'post-gate' }, true)
  }

  // ---- carrying on -----------------------------------------------------------------------

  private done(i: Extract<CycleInput, { type: 'done' }>): void {
    const r = this.run
    if (!r || !r.inFlight || r.step !== i.step) return // not ours (a stale answer): ignore
    r.inFlight = false
    const fence = i.fence
    if (i.error !== undefined && !isGate(i.step)) {
      if (r.undoing) {
        this.log('warn', `undoing after a fence loss: ${i.step} failed: ${i.error}`)
        return this.afterUndo(i.step, fence)
      }
      return this.fail(`upgrade step ${i.step} failed: ${i.error}`)
    }
    const verdict: GateVerdict = i.verdict ?? (i.error !== undefined ? { pass: false, reasons: [i.error] } : { pass: false, reasons: ['no verdict'] })
    if (r.undoing) return this.afterUndo(i.step, fence)
    switch (i.step) {
      case 'pre-gate':
        if (!verdict.pass) return this.wait('pre-gate', `waiting for the pre-reboot gate: ${verdict.reasons.join('; ')}`, 'ready')
        r.waitingWhy = undefined
        return this.startDraining(fence)
      case 'set-noout':
        r.touched = 'noout'
        return this.act({ step: 'cordon', lease: r.lease! }, fence)
      case 'cordon':
        r.touched = 'cordon'
        return this.act({ step: 'drain', deadlineMs: r.policy.drainDeadlineMs, force: false }, fence)
      case 'drain': {
        const d = i.drain ?? { ok: true, blocking: [] }
        if (d.ok || r.forced) return this.afterDrain(fence)
        if (r.policy.drainPolicy === 'halt') return this.fail(`drain blocked at the deadline by ${d.blocking.join(', ')}`)
        r.forced = true
        this.note('drain --force', `forcing past ${d.blocking.join(', ')}`)
        return this.act({ step: 'drain', deadlineMs: r.policy.drainDeadlineMs, force: true }, fence, 'drain --force')
      }
      case 'assign':
        return this.act({ step: 'joint-check' }, fence)
      case 'osd-out':
        r.touched = 'osd-out'
        return this.act({ step: 'data-moved' }, fence)
      case 'data-moved':
        if (!verdict.pass) return this.wait('data-moved', `decommission: waiting for Ceph to move the data off this host's OSDs: ${verdict.reasons.join('; ')}`, 'draining')
        r.waitingWhy = undefined
        return this.leave(fence)
      case 'joint-check':
        if (!verdict.pass) return this.wait('joint-check', `waiting: not safe to stop jointly with the nodes down or holding a slot: ${verdict.reasons.join('; ')}`, 'draining')
        r.waitingWhy = undefined
        if (!this.fenceOk(fence, 'reboot')) return
        this.phase('rebooting')
        if (r.verb === 'shutdown') {
          this.note('power-off', `node verb shutdown (wave ${r.lease!.wave})`)
          return this.act({ step: 'reboot', reason: `node verb shutdown ${r.lease!.wave}: slot ${r.lease!.slot} term ${r.lease!.term}, powering off`, powerOff: true }, fence)
        }
        if (r.verb === 'reboot') {
          this.note('reboot', `node verb reboot (wave ${r.lease!.wave}), same image`)
          return this.act({ step: 'reboot', reason: `node verb reboot ${r.lease!.wave}: slot ${r.lease!.slot} term ${r.lease!.term}` }, fence)
        }
        this.note('reboot', `onto ${r.target}`)
        return this.act({ step: 'reboot', reason: `upgrade wave ${r.lease!.wave}: slot ${r.lease!.slot} term ${r.lease!.term}, onto ${r.target}` }, fence)
      case 'reboot':
        return this.end('rebooting')
      case 'post-gate':
        if (verdict.pass) return this.act({ step: 'uncordon' }, fence)
        if (this.now >= r.verifyDeadline) return this.fail(`post-reboot gate did not pass within ${Math.round(r.policy.verifyTimeoutMs / 1000)} s: ${verdict.reasons.join('; ')}`)
        return this.schedule(r.policy.verifyPollMs)
      case 'uncordon':
        r.touched = 'noout'
        // No fence check between the two: both only make the node more available.
        return this.act({ step: 'clear-noout' }, true)
      case 'clear-noout':
        r.touched = 'none'
        return this.finish(fence)
    }
  }

  private tick(fence: boolean): void {
    const r = this.run
    if (!r || r.inFlight || !isGate(r.step)) return // no step waits on a timer there
    r.retryAt = Infinity
    this.act({ step: r.step }, fence)
  }

  /** Something a waiting gate depends on changed: try it now, or as soon as the gap allows. */
  private poke(fence: boolean): void {
    const r = this.run
    if (!r || r.inFlight || !isGate(r.step) || r.triedAt === -Infinity) return
    const at = r.triedAt + r.policy.pokeMinGapMs
    if (this.now >= at) return this.tick(fence)
    if (at >= r.retryAt) return // a try is already due by then
    r.retryAt = at
    this.effects.push({ type: 'wake', at })
  }

  /**
   * Drained. An upgrade asks for its image (assign) before the joint check; a node verb
   * keeps its image: reboot and shutdown go to the joint check, maintenance holds,
   * decommission marks its OSDs out.
   */
  private afterDrain(fence: boolean): void {
    const r = this.run!
    switch (r.verb) {
      case undefined:
        return this.act({ step: 'assign', lease: r.lease!, target: r.target! }, fence)
      case 'reboot':
      case 'shutdown':
        return this.act({ step: 'joint-check' }, fence)
      case 'decommission':
        return this.act({ step: 'osd-out' }, fence)
      case 'maintenance':
        return this.hold(fence)
    }
  }

  /**
   * Maintenance: drained, cordoned, noout set — and stays so. The slot is released (its
   * wave is only the verb), but the node stays phase `draining`, so every view counts it
   * unavailable against K until the operator ends the maintenance (the agent then finishes
   * the cycle as a leftover: post gate, uncordon, clear noout, ready).
   */
  private hold(fence: boolean): void {
    const r = this.run!
    if (!this.fenceOk(fence, 'drain', 'hold')) return
    this.phase('draining', `in maintenance (wave ${r.lease!.wave}): drained and held until maintenance is turned off`)
    this.effects.push({ type: 'release', lease: r.lease! })
    this.note('maintenance', 'drained and held; the slot released, the node counts unavailable')
    this.end('held')
  }

  /** Decommission: the data has moved; the node leaves (phase `leaving`, unavailable for good) and frees its slot. */
  private leave(fence: boolean): void {
    const r = this.run!
    if (!this.fenceOk(fence, 'data-moved', 'leave')) return
    this.phase('leaving', `decommissioned (wave ${r.lease!.wave}): drained, OSDs out, data moved`)
    this.effects.push({ type: 'release', lease: r.lease! })
    this.note('decommission', 'OSDs out and every PG active+clean without them')
    this.end('decommissioned')
  }

  private startDraining(fence: boolean): void {
    const r = this.run!
    if (!this.fenceOk(fence, 'set-noout')) return
    this.phase('draining')
    r.step = 'set-noout'
    this.act({ step: 'set-noout' }, fence)
  }

  /** After the post gate passed and noout is cleared: release (lease) or just ready (leftover). */
  private finish(fence: boolean): void {
    const r = this.run!
    if (r.kind === 'leftover' || !r.lease) {
      this.phase('ready')
      this.note('leftover', `cycle ${r.mark ?? '?'} finished: uncordoned, noout cleared`)
      return this.end('finished')
    }
    if (!fence) {
      this.fenceLog('release')
      this.phase('ready')
      return this.end('fenced')
    }
    // Ready first, then free the slot: a node that has released must already read as
    // available, or for a moment it and the next holder both count against K.
    this.phase('ready')
    this.effects.push({ type: 'release', lease: r.lease })
    this.note('release', 'post-reboot gate passed')
    this.end('released')
  }

  // ---- the fence ---------------------------------------------------------------------------

  /** Emits the action when the fence holds (or the run has no lease); otherwise stops. */
  private act(action: CycleAction, fence: boolean, noteName?: string): void {
    const r = this.run!
    if (!this.fenceOk(fence, action.step, noteName)) return
    r.step = action.step
    r.inFlight = true
    if (isGate(action.step)) r.triedAt = this.now
    this.effects.push({ type: 'do', action })
  }

  private fenceOk(fence: boolean, step: CycleStepName, name?: string): boolean {
    const r = this.run!
    if (r.kind !== 'lease' || fence || r.undoing) return true
    this.fenceLog(name ?? FENCE_NAME[step])
    if (r.afterBoot) {
      // Down and back already: finish the cycle (gate, uncordon, noout), nothing to release.
      r.kind = 'leftover'
      r.mark = r.lease ? cycleMark(r.lease) : undefined
      return true
    }
    this.undo()
    return false
  }

  private fenceLog(step: string): void {
    this.log('warn', 'fencing token no longer valid: stopping before this step', { lease: this.run?.lease, step })
    this.note(step, 'fenced: the lease is no longer ours')
  }

  /** Before the reboot, with the lease gone: take back what this cycle set, then stop. */
  private undo(): void {
    const r = this.run!
    r.undoing = true
    if (r.touched === 'osd-out') return this.emitUndo('osd-in')
    if (r.touched === 'cordon') return this.emitUndo('uncordon')
    if (r.touched === 'noout') return this.emitUndo('clear-noout')
    if (r.waitingWhy !== undefined || r.step !== 'pre-gate') this.phase('ready')
    this.end('fenced')
  }

  private emitUndo(step: 'osd-in' | 'uncordon' | 'clear-noout'): void {
    const r = this.run!
    r.step = step
    r.inFlight = true
    this.effects.push({ type: 'do', action: { step } })
  }

  private afterUndo(step: CycleStepName, _fence: boolean): void {
    const r = this.run!
    if (step === 'osd-in') return this.emitUndo('uncordon')
    if (step === 'uncordon') return this.emitUndo('clear-noout')
    r.touched = 'none'
    this.phase('ready')
    this.end('fenced')
  }

  // ---- waiting, failing, ending ---------------------------------------------------------------

  private wait(step: CycleStepName, why: string, phase: 'ready' | 'draining'): void {
    const r = this.run!
    r.step = step
    if (r.waitingWhy !== why) {
      r.waitingWhy = why
      this.phase(phase, why)
      this.log('info', why)
      this.note(step, why)
    }
    this.schedule(r.policy.waitPollMs)
  }

  private schedule(ms: number): void {
    const r = this.run!
    r.retryAt = this.now + ms
    this.effects.push({ type: 'wake', at: r.retryAt })
  }

  private fail(reason: string): void {
    this.log('error', 'upgrade step failed; the wave halts', { reason })
    this.phase('failed', reason)
    this.note('failed', reason)
    this.end('failed')
  }

  private end(outcome: CycleOutcome): void {
    this.run = undefined
    this.outcome = outcome
    this.effects.push({ type: 'end', outcome })
  }

  private phase(phase: Extract<CycleEffect, { type: 'phase' }>['phase'], reason?: string): void {
    this.effects.push(reason === undefined ? { type: 'phase', phase } : { type: 'phase', phase, reason })
  }

  private note(step: string, note?: string): void {
    this.last = { step, at: this.now, ...(note ? { note } : {}) }
  }

  private log(level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>): void {
    this.effects.push(data ? { type: 'log', level, msg, data } : { type: 'log', level, msg })
  }
}

function isGate(step: CycleStepName): step is 'pre-gate' | 'joint-check' | 'post-gate' | 'data-moved' {
  return step === 'pre-gate' || step === 'joint-check' || step === 'post-gate' || step === 'data-moved'
}
