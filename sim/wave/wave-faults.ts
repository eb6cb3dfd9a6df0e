/**
 * Faults a simulated wave suffers, and their healing: power loss, agent restarts, a
 * coordinator coming back, partitions, and the operator retiring what never came back. Used
 * by the fault schedule (fault-schedule.ts) and by scenarios, through WaveWorld's methods.
 */
import { idleCycle } from '../../agent/protocol/upgrade-cycle/index.js'
import type { SimNode } from './sim-node.js'
import { kubeletUp, machineDown, machineUp, setPhase, startCycle } from './wave-cycle.js'
import { bumpView, cephChanged, refresh, schedulePoke } from './wave-view.js'
import { bootVote } from './wave-vote.js'
import { TARGET, type WaveWorld } from './wave-world.js'

/** Power loss: the machine is gone for `downMs` (Infinity: never returns). */
export function crash(w: WaveWorld, n: SimNode, downMs: number, why: string): void {
  if (!n.up) return
  w.checker.trace(`FAULT ${n.id} crashes (${why})${Number.isFinite(downMs) ? `, back in ${(downMs / 1000).toFixed(1)} s` : ', never returns'}`)
  n.waveReboot = false
  machineDown(w, n)
  if (!Number.isFinite(downMs)) n.permanentlyDead = true
  else w.after(downMs, () => machineUp(w, n))
}

/** The coordinator comes back from its disk (level): promises intact, no quiet period. */
export function restartCoordinator(w: WaveWorld): void {
  const c = w.coord
  if (c.up) return
  c.up = true
  w.checker.trace('coordinator back')
  bootVote(w, c, false)
}

/** The agent process restarts; the machine and its Store stay. */
export function restartProcess(w: WaveWorld, n: SimNode): void {
  if (!n.up) return
  w.checker.trace(`FAULT ${n.id} agent restarts (store kept)`)
  // The process's RAM goes: its cycle (an action in flight is dropped with the old instance).
  n.cycle = idleCycle
  n.cycleInbox.length = 0
  n.pendingLease = undefined
  n.cycleWakeAt = Infinity
  n.lease = undefined
  bootVote(w, n, true)
  resumeCycle(w, n)
}

/**
 * The new agent process picks up where the old one stopped: a lease it read back from its
 * Store is carried on (resume: noout, cordon and drain again — idempotent — then the
 * joint check and the reboot; or the post gate when already on the target). Without one,
 * the cycle is idle: a reclaim, if any, starts it again; maybeLeftover finishes a cordon
 * nobody holds a lease for.
 */
export function resumeCycle(w: WaveWorld, n: SimNode): void {
  if (n === w.coord || !n.vote) return
  const l = n.vote.currentLease()
  if (!l) {
    if (n.phase !== 'idle') setPhase(w, n, 'ready')
    return
  }
  w.checker.trace(`${n.id} resumes slot ${l.slot} term ${l.term} after the restart`)
  startCycle(w, n, l, n.image !== TARGET)
}

export function partition(w: WaveWorld, groups: string[][]): void {
  w.checker.trace(`FAULT partition: ${groups.map((g) => `[${g.length <= 6 ? g.join(',') : `${g.length} nodes`}]`).join(' | ')}`)
  w.partitions.set(groups)
  bumpView(w, undefined)
  for (const n of w.order) refresh(w, n)
  schedulePoke(w)
}

export function healPartition(w: WaveWorld): void {
  if (!w.partitions.active) return
  w.checker.trace('partition heals')
  w.partitions.heal()
  bumpView(w, undefined)
  schedulePoke(w)
}

/** The operator deals with what never came back: retire it, force-release its slot, unset noout. */
export function operatorCleanup(w: WaveWorld): void {
  const c = w.coord
  if (!c.vote) return
  for (const n of w.order) {
    if (!n.permanentlyDead || n.retired) continue
    n.retired = true
    w.checker.trace(`operator retires ${n.id} (never came back)`)
    w.stepVote(c, { type: 'retire', node: n.id })
    w.ceph.setNoout(n.id, false)
    // What the coordinator knows the node holds or was promised (`shoal lease release
    // NODE --force`): only up to that node's term, so a later holder keeps its lease.
    for (const s of c.vote.snapshot().slots) {
      if (s.grant?.holder === n.id || s.promises.some((p) => p.cand === n.id)) w.stepVote(c, { type: 'force-release', slot: s.slot, node: n.id })
    }
    // A lease the coordinator never heard of, as the holder's peers show it (`shoal status`).
    for (const l of w.checker.holders()) if (l.holder === n.id) w.stepVote(c, { type: 'force-release', slot: l.slot, term: l.term })
  }
  cephChanged(w)
}

export function heal(w: WaveWorld): void {
  w.checker.trace('faults heal')
  healPartition(w)
  for (const n of w.nodes.values()) {
    if (n.returnsUnhealthy) {
      n.returnsUnhealthy = false
      if (n.up && !n.kubeletReady) kubeletUp(w, n, n.boot)
    }
    if (n === w.coord && !n.up) restartCoordinator(w)
  }
  if (w.cfg.faults.operator) operatorCleanup(w)
}
