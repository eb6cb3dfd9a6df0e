/**
 * The faults a wave can meet, carried out on the world: power loss, an agent restart, the
 * coordinator back from its disk, partitions and their heal, and the operator who, once the
 * faults heal, retires what never came back. fault-schedule.ts decides when (seeded);
 * scripted scenarios call these directly (through WaveWorld).
 */
import { idleCycle } from '../../agent/protocol/upgrade-cycle/index.js'
import type { SimNode } from './sim-node.js'
import type { WaveWorld } from './wave-world.js'

export class FaultInjector {
  /** What the schedule injected, `kind@seconds` (WaveResult.faults). */
  readonly injected: string[] = []
  /** When every fault heals (Infinity: no schedule). */
  healAt = Infinity

  constructor(private readonly w: WaveWorld) {}

  /** Power loss: the machine is gone for `downMs` (Infinity: never returns). */
  crash(n: SimNode, downMs: number, why: string): void {
    const w = this.w
    if (!n.up) return
    w.checker.trace(`FAULT ${n.id} crashes (${why})${Number.isFinite(downMs) ? `, back in ${(downMs / 1000).toFixed(1)} s` : ', never returns'}`)
    n.waveReboot = false
    w.power.machineDown(n)
    if (!Number.isFinite(downMs)) n.permanentlyDead = true
    else w.after(downMs, () => w.power.machineUp(n))
  }

  /** The coordinator comes back from its disk (level): promises intact, no quiet period. */
  restartCoordinator(): void {
    const c = this.w.coord
    if (c.up) return
    c.up = true
    this.w.checker.trace('coordinator back')
    this.w.votes.bootVote(c, false)
  }

  /** The agent process restarts; the machine and its Store stay. */
  restartProcess(n: SimNode): void {
    const w = this.w
    if (!n.up) return
    w.checker.trace(`FAULT ${n.id} agent restarts (store kept)`)
    // The process's RAM goes: its cycle (an action in flight is dropped with the old instance).
    n.cycle = idleCycle
    n.cycleInbox.length = 0
    n.pendingLease = undefined
    n.cycleWakeAt = Infinity
    n.lease = undefined
    w.votes.bootVote(n, true)
    w.cycles.resumeCycle(n)
  }

  partition(groups: string[][]): void {
    const w = this.w
    w.checker.trace(`FAULT partition: ${groups.map((g) => `[${g.length <= 6 ? g.join(',') : `${g.length} nodes`}]`).join(' | ')}`)
    w.views.currentViewVersion()
    w.partitions.set(groups)
    w.views.bumpView(undefined)
    for (const n of w.order) w.views.refresh(n)
    w.views.schedulePoke()
  }

  healPartition(): void {
    const w = this.w
    if (!w.partitions.active) return
    w.checker.trace('partition heals')
    w.views.currentViewVersion()
    w.partitions.heal()
    w.views.bumpView(undefined)
    w.views.schedulePoke()
  }

  /** The operator deals with what never came back: retire it, force-release its slot, unset noout. */
  operatorCleanup(): void {
    const w = this.w
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
    w.views.cephChanged()
  }

  heal(): void {
    const w = this.w
    w.checker.trace('faults heal')
    this.healPartition()
    for (const n of w.nodes.values()) {
      if (n.returnsUnhealthy) {
        n.returnsUnhealthy = false
        if (n.up && !n.kubeletReady) w.power.kubeletUp(n, n.boot)
      }
      if (n === w.coord && !n.up) this.restartCoordinator()
    }
    if (w.cfg.faults.operator) this.operatorCleanup()
  }
}
