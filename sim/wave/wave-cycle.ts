/**
 * The upgrade cycle in each simulated node: production's machine (agent/protocol/upgrade-cycle,
 * the one agent/upgrade/executor.ts drives with the real steps) carried out over the models —
 * noout and the joint ok-to-stop through the Ceph model, cordon and drain through the
 * Kubernetes model, the reboot as the machine going down and up again. Functions of the
 * WaveWorld they act on (wave-world.ts composes them).
 */
import type { Lease } from '../../agent/protocol/vote/vote-node.js'
import { jointSet, slotHolders } from '../../agent/protocol/joint-safety.js'
import { defaultCyclePolicy, idleCycle, stepCycle, type CycleAction, type CycleInput, type CyclePolicy } from '../../agent/protocol/upgrade-cycle/index.js'
import type { Phase } from '../../agent/protocol/node-record.js'
import type { SimNode } from './sim-node.js'
import { cephChanged, refresh, schedulePoke } from './wave-view.js'
import { bootVote } from './wave-vote.js'
import { TARGET, type WaveWorld } from './wave-world.js'

/**
 * Production's cycle policy, without the two limits only an operator can act on (see the
 * header). The post gate's poll is only a backstop here: the world pokes the cycle at every
 * change of the gate's inputs (kubelet Ready, a recovery finishing), which is when a poll
 * would first see it pass — so a slow poll changes no timing and saves events.
 */
const SIM_CYCLE_POLICY: CyclePolicy = Object.freeze({ ...defaultCyclePolicy, drainDeadlineMs: Infinity, verifyTimeoutMs: Infinity, verifyPollMs: 60_000 })

export function onLease(w: WaveWorld, n: SimNode, lease: Lease): void {
  if (n === w.coord) return
  // Already carrying out this very lease (resumed after an agent restart): nothing new.
  if (n.lease && n.lease.slot === lease.slot && n.lease.term === lease.term && n.cycle.run) return
  if (n.cycle.run) {
    // Finishing something else first (a leftover cycle): this lease comes next.
    n.pendingLease = lease
    return
  }
  startCycle(w, n, lease, false)
}

export function startCycle(w: WaveWorld, n: SimNode, lease: Lease, resume: boolean): void {
  n.lease = lease
  n.pendingLease = undefined
  cycleInput(w, n, { type: 'lease', lease, target: TARGET, image: n.image, fence: fence(w, n), policy: SIM_CYCLE_POLICY, ...(resume ? { resume: true } : {}) })
}

export function fence(w: WaveWorld, n: SimNode): boolean {
  return !!n.lease && !!n.vote && n.vote.fenceValid(n.lease)
}

/**
 * Feeds the node's cycle one input and carries out its effects, as agent/upgrade/executor.ts
 * does; actions the models answer at once go straight back in. Re-entrant calls (a
 * release steps the vote, whose effects may start a cycle) queue behind the running one.
 */
export function cycleInput(w: WaveWorld, n: SimNode, input: CycleInput): void {
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
            setPhase(w, n, e.phase, e.reason)
            break
          case 'log':
            if (e.level !== 'info') w.checker.trace(`${n.id} cycle: ${e.msg}`)
            break
          case 'release':
            w.checker.trace(`${n.id} passes its post-reboot gate: uncordon, unset noout, release`)
            w.stepVote(n, { type: 'gate', lease: e.lease, passed: true })
            break
          case 'wake':
            cycleWake(w, n, e.at)
            break
          case 'do': {
            const done = perform(w, n, e.action, inst)
            if (done) n.cycleInbox.push(done)
            break
          }
          case 'end':
            cycleEnded(w, n, e.outcome)
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

export function cycleEnded(w: WaveWorld, n: SimNode, outcome: string): void {
  if (outcome !== 'rebooting') n.lease = undefined
  if (outcome === 'fenced' || outcome === 'finished') w.checker.trace(`${n.id} cycle ends: ${outcome}`)
  const next = n.pendingLease
  n.pendingLease = undefined
  if (next && n.vote?.fenceValid(next)) w.after(0, () => onLease(w, n, next))
}

/** Only the latest wake counts: a poke (a model change) may have run the check since. */
export function cycleWake(w: WaveWorld, n: SimNode, at: number): void {
  n.cycleWakeAt = at
  const inst = n.inst
  w.at(at, () => {
    if (n.inst !== inst || !n.up || n.cycleWakeAt !== at) return
    n.cycleWakeAt = Infinity
    cycleInput(w, n, { type: 'tick', fence: fence(w, n) })
  })
}

/**
 * What a waiting gate depends on changed (Ceph, or a record reaching this node): the post
 * gate may pass now (kubelet Ready, PGs clean) — try it at once, as the next poll would;
 * a holder waiting at its pre-gate or joint check is poked, as production's executor is on
 * a view change (it tries again no sooner than pokeMinGapMs after its last try).
 */
export function pokeCycle(w: WaveWorld, n: SimNode): void {
  const r = n.cycle.run
  if (!r || r.inFlight || !n.up || !n.vote) return
  if (r.step === 'post-gate') cycleInput(w, n, { type: 'tick', fence: fence(w, n) })
  else if (r.step === 'pre-gate' || r.step === 'joint-check') cycleInput(w, n, { type: 'poke', fence: fence(w, n) })
}

export function setPhase(w: WaveWorld, n: SimNode, phase: Phase, reason?: string): void {
  const p = phase === 'ready' || phase === 'joining' || phase === 'booting' || phase === 'leaving' ? 'idle' : phase
  if (reason && w.checker.full) w.checker.trace(`${n.id} ${phase}: ${reason}`)
  if (p === n.phase) return
  n.phase = p
  refresh(w, n)
}

/** The joint ok-to-stop of `n` in its own view: itself plus everyone it sees down, holding or rebooting. */
export function jointVerdict(w: WaveWorld, n: SimNode, what: string): { pass: boolean; reasons: string[] } {
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
  })
  // The model itself (not the voters' cached port): what the holder asks is Ceph, live.
  if (w.ceph.okToStop([n.id, ...set])) return { pass: true, reasons: [] }
  w.jointWaits++
  const why = `Ceph not ok-to-stop jointly with ${set.join(',') || 'nobody'}`
  w.checker.trace(`${n.id} ${what}: ${why}`)
  return { pass: false, reasons: [why] }
}

/** One action on the models. Returns its `done` when it finished at once, or undefined (it answers later). */
export function perform(w: WaveWorld, n: SimNode, a: CycleAction, inst: number): CycleInput | undefined {
  const done = (extra: Partial<Extract<CycleInput, { type: 'done' }>> = {}): CycleInput => ({ type: 'done', step: a.step, fence: fence(w, n), ...extra })
  switch (a.step) {
    case 'pre-gate':
      return done({ verdict: jointVerdict(w, n, 'waits before noout') })
    case 'joint-check':
      return done({ verdict: jointVerdict(w, n, 'waits before its reboot') })
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
      refresh(w, n)
      return done()
    case 'uncordon':
      n.cordoned = false
      w.kube.setCordoned(n.id, false)
      refresh(w, n)
      return done()
    case 'drain':
      if (a.force) {
        w.kube.evacuate(n.id, w.t, () => w.draw(w.cfg.podStartMs))
        refresh(w, n)
        return done({ drain: { ok: true, blocking: [] } })
      }
      drainStep(w, n, inst, w.t + a.deadlineMs)
      return undefined
    case 'assign':
      return done()
    case 'reboot':
      rebootForWave(w, n)
      return undefined
  }
}

/** One pass of the drain through the Kubernetes model; answers the cycle when done (or at the deadline). */
export function drainStep(w: WaveWorld, n: SimNode, inst: number, deadline: number): void {
  if (!n.up || n.inst !== inst) return
  const r = w.kube.evict(n.id, w.t, () => w.draw(w.cfg.podStartMs))
  refresh(w, n)
  schedulePoke(w) // PDB budgets changed for everyone
  const answer = (drain: { ok: boolean; blocking: string[] }) => {
    if (!n.up || n.inst !== inst) return
    cycleInput(w, n, { type: 'done', step: 'drain', fence: fence(w, n), drain })
  }
  if (r.left > 0) {
    if (r.retryAt >= deadline) return w.at(deadline, () => answer({ ok: false, blocking: [`${w.kube.podCount(n.id)} pod(s)`] }))
    return w.at(r.retryAt, () => drainStep(w, n, inst, deadline))
  }
  w.after(w.draw(w.cfg.drainGraceMs), () => answer({ ok: true, blocking: [] }))
}

export function rebootForWave(w: WaveWorld, n: SimNode): void {
  w.checker.waveReboot(n.id, n.lease, fence(w, n))
  w.checker.trace(`${n.id} reboots for the wave (slot ${n.lease!.slot} term ${n.lease!.term})`)
  n.waveReboot = true
  const inactive = w.ceph.hostDown(n.id, w.t)
  w.checker.pgsInactivated(n.id, inactive, (p) => w.ceph.pgHosts(p))
  machineDown(w, n)
  const downFor = w.draw(w.cfg.rebootMs)
  w.after(downFor, () => machineUp(w, n))
}

export function onLeaseLost(w: WaveWorld, n: SimNode, lease: Lease): void {
  // The cycle sees it at its next fence check (as in production); a lease queued behind another run is dropped.
  if (n.pendingLease && n.pendingLease.slot === lease.slot && n.pendingLease.term === lease.term) n.pendingLease = undefined
}

/**
 * After every vote step, as agent/upgrade/upgrade-agent.ts's maybeReady: a node that is
 * cordoned for a cycle but holds no lease (its reclaim failed, or an operator
 * force-released it, while it was down) finishes that cycle as a leftover — post gate,
 * uncordon, clear noout, nothing to release. (In the sim only the cycle cordons.)
 */
export function maybeLeftover(w: WaveWorld, n: SimNode): void {
  if (n === w.coord || !n.cordoned || n.cycle.run || n.cycling || n.pendingLease) return
  const v = n.vote
  if (!v || v.abstaining || v.busy || v.currentLease()) return
  cycleInput(w, n, { type: 'leftover', mark: 'sim', policy: SIM_CYCLE_POLICY })
}

/** A machine stops: RAM (vote state, Store, executor state) is gone. */
export function machineDown(w: WaveWorld, n: SimNode): void {
  if (!n.up) return
  n.up = false
  n.vote = undefined
  n.store = undefined
  n.inst++
  n.boot++
  n.kubeletReady = false
  n.lease = undefined
  n.cycle = idleCycle
  n.pendingLease = undefined
  n.cycleWakeAt = Infinity
  if (n !== w.coord) {
    w.kube.setReady(n.id, false)
    if (w.kube.podCount(n.id) > 0) w.kube.evacuate(n.id, w.t, () => w.draw(w.cfg.podStartMs))
    w.ceph.hostDown(n.id, w.t)
    cephChanged(w)
  }
  refresh(w, n)
}

/** The machine boots (on the target image if this was the wave's reboot). */
export function machineUp(w: WaveWorld, n: SimNode): void {
  if (n.up || n.permanentlyDead) return
  n.up = true
  n.boot++
  if (n.waveReboot) n.image = TARGET
  n.waveReboot = false
  n.phase = 'idle'
  w.checker.trace(`${n.id} boots on ${n.image}${n.returnsUnhealthy ? ' (unhealthy)' : ''}`)
  bootVote(w, n, true)
  if (n === w.coord) return
  w.ceph.hostUp(n.id, w.t, w.draw(w.cfg.recoveryMs))
  cephChanged(w)
  const boot = n.boot
  w.after(w.draw(w.cfg.kubeletMs), () => kubeletUp(w, n, boot))
  refresh(w, n)
}

/** The kubelet of machine boot `boot` gets Ready (an agent restart does not touch it). */
export function kubeletUp(w: WaveWorld, n: SimNode, boot: number): void {
  if (!n.up || n.boot !== boot || n.returnsUnhealthy) return
  n.kubeletReady = true
  w.kube.setReady(n.id, true)
  refresh(w, n)
  pokeCycle(w, n)
}
