/**
 * A simulated machine going down and coming back, for a wave reboot (cycle-steps.ts) or a
 * fault (fault-injector.ts): what RAM held is gone (vote state, Store, cycle), the kubelet and
 * the Ceph host go with it, and on boot a fresh agent starts, Ceph recovers the host and the
 * kubelet gets Ready after a drawn delay.
 */
import { idleCycle } from '../../agent/protocol/upgrade-cycle/index.js'
import type { SimNode } from './sim-node.js'
import { TARGET } from './wave-constants.js'
import type { WaveWorld } from './wave-world.js'

export class MachinePower {
  constructor(private readonly w: WaveWorld) {}

  /** A machine stops: RAM (vote state, Store, executor state) is gone. */
  machineDown(n: SimNode): void {
    const w = this.w
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
      w.views.cephChanged()
    }
    w.views.refresh(n)
  }

  /** The machine boots (on the target image if this was the wave's reboot). */
  machineUp(n: SimNode): void {
    const w = this.w
    if (n.up || n.permanentlyDead) return
    n.up = true
    n.boot++
    if (n.waveReboot) n.image = TARGET
    n.waveReboot = false
    n.phase = 'idle'
    w.checker.trace(`${n.id} boots on ${n.image}${n.returnsUnhealthy ? ' (unhealthy)' : ''}`)
    w.votes.bootVote(n, true)
    if (n === w.coord) return
    w.ceph.hostUp(n.id, w.t, w.draw(w.cfg.recoveryMs))
    w.views.cephChanged()
    const boot = n.boot
    w.after(w.draw(w.cfg.kubeletMs), () => this.kubeletUp(n, boot))
    w.views.refresh(n)
  }

  /** The kubelet of machine boot `boot` gets Ready (an agent restart does not touch it). */
  kubeletUp(n: SimNode, boot: number): void {
    const w = this.w
    if (!n.up || n.boot !== boot || n.returnsUnhealthy) return
    n.kubeletReady = true
    w.kube.setReady(n.id, true)
    w.views.refresh(n)
    w.cycles.pokeCycle(n)
  }
}
