/**
 * Each simulated node's upgrade cycle: production's machine (agent/protocol/upgrade-cycle,
 * the one agent/upgrade/executor.ts drives with the real steps), here over the models —
 * noout and the joint ok-to-stop through the Ceph model, cordon and drain through the
 * Kubernetes model, the reboot as the machine going down (machine-power.ts).
 *
 * The sim has no operator to act on a failed node, so its cycle policy has no drain deadline
 * and no verify timeout (both are pinned by the cycle's unit tests); polls are production's.
 */
import type { Lease } from '../../agent/protocol/vote/vote-node.js'
import { jointSet, slotHolders } from '../../agent/protocol/joint-safety.js'
import { defaultCyclePolicy, stepCycle, type CycleAction, type CycleInput, type CyclePolicy } from '../../agent/protocol/upgrade-cycle/index.js'
import type { Phase } from '../../agent/protocol/node-record.js'
import type { SimNode } from './sim-node.js'
import { TARGET } from './wave-constants.js'
import type { WaveWorld } from './wave-world.js'

/**
 * Production's cycle policy, without the two limits only an operator can act on (see the
 * header). The post gate's poll is only a backstop here: the world pokes the cycle at every
 * change of the gate's inputs (kubelet Ready, a recovery finishing), which is when a poll
 * would first see it pass — so a slow poll changes no timing and saves events.
 */
const SIM_CYCLE_POLICY: CyclePolicy = Object.freeze({ ...defaultCyclePolicy, drainDeadlineMs: Infinity, verifyTimeoutMs: Infinity, verifyPollMs: 60_000 })

export class CycleSteps {
  /** Times a holder's joint ok-to-stop said no and it waited (WaveResult.jointWaits). */
  jointWaits = 0

  constructor(private readonly w: WaveWorld) {}

  /** The node's vote granted it a lease: its cycle carries it out (after a leftover run, if one is going). */
  onLease(n: SimNode, lease: Lease): void {
    if (n === this.w.coord) return
    // Already carrying out this very lease (resumed after an agent restart): nothing new.
    if (n.lease && n.lease.slot === lease.slot && n.lease.term === lease.term && n.cycle.run) return
    if (n.cycle.run) {
      // Finishing something else first (a leftover cycle): this lease comes next.
      n.pendingLease = lease
      return
    }
    this.startCycle(n, lease, false)
  }

  private startCycle(n: SimNode, lease: Lease, resume: boolean): void {
    n.lease = lease
    n.pendingLease = undefined
    this.cycleInput(n, { type: 'lease', lease, target: TARGET, image: n.image, fence: this.fence(n), policy: SIM_CYCLE_POLICY, ...(resume ? { resume: true } : {}) })
  }

  private fence(n: SimNode): boolean {
    return !!n.lease && !!n.vote && n.vote.fenceValid(n.lease)
  }

  /**
   * Feeds the node's cycle one input and carries out its effects, as agent/upgrade/executor.ts
   * does; actions the models answer at once go straight back in. Re-entrant calls (a
   * release steps the vote, whose effects may start a cycle) queue behind the running one.
   */
  private cycleInput(n: SimNode, input: CycleInput): void {
    const w = this.w
    n.cycleInbox.push(input)
    if (n.cycling) return
    n.cycling = true
    try {
      for (let next = n.cycleInbox.shift(); next; next = n.cycleInbox.shift()) {
        const inst = n.inst
        const r = stepCycle(n.cycle, next, w.t)
        n.cycle = r.state
        for (const e of r.effects) {
          switch (e.type) {
            case 'phase':
              this.setPhase(n, e.phase, e.reason)
              break
            case 'log':
              if (e.level !== 'info') w.checker.trace(`${n.id} cycle: ${e.msg}`)
              break
            case 'release':
              w.checker.trace(`${n.id} passes its post-reboot gate: uncordon, unset noout, release`)
              w.stepVote(n, { type: 'gate', lease: e.lease, passed: true })
              break
            case 'wake':
              this.cycleWake(n, e.at)
              break
            case 'do': {
              const done = this.perform(n, e.action, inst)
              if (done) n.cycleInbox.push(done)
              break
            }
            case 'end':
              this.cycleEnded(n, e.outcome)
              break
          }
          if (n.inst !== inst) return // the machine went down (its reboot): RAM is gone
        }
      }
    } finally {
      n.cycling = false
      n.cycleInbox.length = 0
    }
  }

  private cycleEnded(n: SimNode, outcome: string): void {
    if (outcome !== 'rebooting') n.lease = undefined
    if (outcome === 'fenced' || outcome === 'finished') this.w.checker.trace(`${n.id} cycle ends: ${outcome}`)
    const next = n.pendingLease
    n.pendingLease = undefined
    if (next && n.vote?.fenceValid(next)) this.w.after(0, () => this.onLease(n, next))
  }

  /** Only the latest wake counts: a poke (a model change) may have run the check since. */
  private cycleWake(n: SimNode, at: number): void {
    n.cycleWakeAt = at
    const inst = n.inst
    this.w.at(at, () => {
      if (n.inst !== inst || !n.up || n.cycleWakeAt !== at) return
      n.cycleWakeAt = Infinity
      this.cycleInput(n, { type: 'tick', fence: this.fence(n) })
    })
  }

  /**
   * What a waiting gate depends on changed (Ceph, or a record reaching this node): the post
   * gate may pass now (kubelet Ready, PGs clean) — try it at once, as the next poll would;
   * a holder waiting at its pre-gate or joint check is poked, as production's executor is on
   * a view change (it tries again no sooner than pokeMinGapMs after its last try).
   */
  pokeCycle(n: SimNode): void {
    const r = n.cycle.run
    if (!r || r.inFlight || !n.up || !n.vote) return
    if (r.step === 'post-gate') this.cycleInput(n, { type: 'tick', fence: this.fence(n) })
    else if (r.step === 'pre-gate' || r.step === 'joint-check') this.cycleInput(n, { type: 'poke', fence: this.fence(n) })
  }

  setPhase(n: SimNode, phase: Phase, reason?: string): void {
    const p = phase === 'ready' || phase === 'joining' || phase === 'booting' || phase === 'leaving' ? 'idle' : phase
    if (reason && this.w.checker.full) this.w.checker.trace(`${n.id} ${phase}: ${reason}`)
    if (p === n.phase) return
    n.phase = p
    this.w.views.refresh(n)
  }

  /** The joint ok-to-stop of `n` in its own view: itself plus everyone it sees down, holding or rebooting. */
  private jointVerdict(n: SimNode, what: string): { pass: boolean; reasons: string[] } {
    const w = this.w
    const view = n.view
    const holders = n.vote ? slotHolders(n.vote.view().slots) : []
    const set = jointSet({
      self: n.id,
      ids: w.ids,
      unavailable: (id) => !(view?.facts(id)?.available ?? false),
      // Ground truth here: the model counts a down host as stopped whether it is listed or not.
      down: (id) => !w.nodes.get(id)!.up,
      holders,
      // What its record shows, as n sees it (gossip-delayed): a holder even if n's vote missed the grant.
      cycling: (id) => view?.facts(id)?.cycling === true,
      rebooted: (id) => view?.facts(id)?.rebooted === true,
    })
    // The model itself (not the voters' cached port): what the holder asks is Ceph, live.
    if (w.ceph.okToStop([n.id, ...set])) return { pass: true, reasons: [] }
    this.jointWaits++
    const why = `Ceph not ok-to-stop jointly with ${set.join(',') || 'nobody'}`
    w.checker.trace(`${n.id} ${what}: ${why}`)
    return { pass: false, reasons: [why] }
  }

  /** One action on the models. Returns its `done` when it finished at once, or undefined (it answers later). */
  private perform(n: SimNode, a: CycleAction, inst: number): CycleInput | undefined {
    const w = this.w
    const done = (extra: Partial<Extract<CycleInput, { type: 'done' }>> = {}): CycleInput => ({ type: 'done', step: a.step, fence: this.fence(n), ...extra })
    switch (a.step) {
      case 'pre-gate':
        return done({ verdict: this.jointVerdict(n, 'waits before noout') })
      case 'joint-check':
        return done({ verdict: this.jointVerdict(n, 'waits before its reboot') })
      case 'post-gate':
        return done({ verdict: n.kubeletReady && w.ceph.hostClean(n.id, w.t) ? { pass: true, reasons: [] } : { pass: false, reasons: ['not back yet'] } })
      case 'set-noout':
        w.ceph.setNoout(n.id, true)
        return done()
      case 'clear-noout':
        w.ceph.setNoout(n.id, false)
        return done()
      case 'cordon':
        n.cordoned = true
        w.kube.setCordoned(n.id, true)
        w.checker.trace(`${n.id} noout + cordon, draining ${w.kube.podCount(n.id)} pods`)
        w.views.refresh(n)
        return done()
      case 'uncordon':
        n.cordoned = false
        w.kube.setCordoned(n.id, false)
        w.views.refresh(n)
        return done()
      case 'drain':
        if (a.force) {
          w.kube.evacuate(n.id, w.t, () => w.draw(w.cfg.podStartMs))
          w.views.refresh(n)
          return done({ drain: { ok: true, blocking: [] } })
        }
        this.drainStep(n, inst, w.t + a.deadlineMs)
        return undefined
      case 'assign':
        return done()
      case 'reboot':
        this.rebootForWave(n)
        return undefined
    }
  }

  /** One pass of the drain through the Kubernetes model; answers the cycle when done (or at the deadline). */
  private drainStep(n: SimNode, inst: number, deadline: number): void {
    const w = this.w
    if (!n.up || n.inst !== inst) return
    const r = w.kube.evict(n.id, w.t, () => w.draw(w.cfg.podStartMs))
    w.views.refresh(n)
    w.views.schedulePoke() // PDB budgets changed for everyone
    const answer = (drain: { ok: boolean; blocking: string[] }) => {
      if (!n.up || n.inst !== inst) return
      this.cycleInput(n, { type: 'done', step: 'drain', fence: this.fence(n), drain })
    }
    if (r.left > 0) {
      if (r.retryAt >= deadline) return w.at(deadline, () => answer({ ok: false, blocking: [`${w.kube.podCount(n.id)} pod(s)`] }))
      return w.at(r.retryAt, () => this.drainStep(n, inst, deadline))
    }
    w.after(w.draw(w.cfg.drainGraceMs), () => answer({ ok: true, blocking: [] }))
  }

  private rebootForWave(n: SimNode): void {
    const w = this.w
    w.checker.waveReboot(n.id, n.lease, this.fence(n))
    w.checker.trace(`${n.id} reboots for the wave (slot ${n.lease!.slot} term ${n.lease!.term})`)
    n.waveReboot = true
    const inactive = w.ceph.hostDown(n.id, w.t)
    w.checker.pgsInactivated(n.id, inactive, (p) => w.ceph.pgHosts(p))
    w.power.machineDown(n)
    const downFor = w.draw(w.cfg.rebootMs)
    w.after(downFor, () => w.power.machineUp(n))
  }

  onLeaseLost(n: SimNode, lease: Lease): void {
    // The cycle sees it at its next fence check (as in production); a lease queued behind another run is dropped.
    if (n.pendingLease && n.pendingLease.slot === lease.slot && n.pendingLease.term === lease.term) n.pendingLease = undefined
  }

  /**
   * After every vote step, as agent/upgrade/upgrade-agent.ts's maybeReady: a node that is
   * cordoned for a cycle but holds no lease (its reclaim failed, or an operator
   * force-released it, while it was down) finishes that cycle as a leftover — post gate,
   * uncordon, clear noout, nothing to release. (In the sim only the cycle cordons.)
   */
  maybeLeftover(n: SimNode): void {
    if (n === this.w.coord || !n.cordoned || n.cycle.run || n.cycling || n.pendingLease) return
    const v = n.vote
    if (!v || v.abstaining || v.busy || v.currentLease()) return
    this.cycleInput(n, { type: 'leftover', mark: 'sim', policy: SIM_CYCLE_POLICY })
  }

  /**
   * The new agent process picks up where the old one stopped: a lease it read back from its
   * Store is carried on (resume: noout, cordon and drain again — idempotent — then the
   * joint check and the reboot; or the post gate when already on the target). Without one,
   * the cycle is idle: a reclaim, if any, starts it again; maybeLeftover finishes a cordon
   * nobody holds a lease for.
   */
  resumeCycle(n: SimNode): void {
    if (n === this.w.coord || !n.vote) return
    const l = n.vote.currentLease()
    if (!l) {
      if (n.phase !== 'idle') this.setPhase(n, 'ready')
      return
    }
    this.w.checker.trace(`${n.id} resumes slot ${l.slot} term ${l.term} after the restart`)
    this.startCycle(n, l, n.image !== TARGET)
  }
}
