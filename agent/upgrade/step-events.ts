/**
 * Kubernetes Events for a reboot cycle, without touching the steps themselves: wraps the
 * UpgradeSteps and the Rebooter the executor drives, and records on the node — cordon,
 * drain started / blocked / done, reboot, post-reboot gate passed / failed, uncordon — each
 * with its reason (the wave, slot and term, the target image, what blocked, why a gate
 * failed). Methods the wrapper does not know pass through unchanged.
 */
import type { KubeEventRecorder } from '../health/kube-events.js'
import type { Rebooter } from '../protocol/ports.js'
import type { Lease } from '../protocol/vote/index.js'
import type { GateVerdict, UpgradeSteps } from './executor.js'

export interface CycleContext {
  /** The wave's target image, if a wave is known. */
  target(): string | undefined
  /** The image this node runs. */
  image(): string
}

const REBOOT_EVENT_WAIT_MS = 2000

export function stepsWithEvents(steps: UpgradeSteps, rec: KubeEventRecorder, ctx: CycleContext): UpgradeSteps {
  let lease: Lease | undefined
  let lastGateFailure: string | undefined
  const cycle = () => (lease ? `wave ${lease.wave} (slot ${lease.slot}, term ${lease.term})` : 'a reboot cycle')
  const upgrade = () => {
    const t = ctx.target()
    return t && t !== ctx.image() ? `${ctx.image()} -> ${t}` : ctx.image()
  }
  const wrapped: Partial<UpgradeSteps> = {
    async cordon(l: Lease) {
      lease = l
      await steps.cordon(l)
      await rec.event('Normal', 'ShoalCordon', `Cordoned by shoal for ${cycle()}: upgrading ${upgrade()}`)
    },
    async drain(deadlineMs: number, force: boolean) {
      await rec.event('Normal', 'ShoalDrainStarted', `Draining for ${cycle()} (deadline ${deadlineMs < 10_000 ? `${deadlineMs} ms` : `${Math.round(deadlineMs / 1000)} s`}${force ? ', force' : ''})`)
      const r = await steps.drain(deadlineMs, force)
      if (r.ok) await rec.event('Normal', 'ShoalDrained', `Drained for ${cycle()}`)
      else await rec.event('Warning', 'ShoalDrainBlocked', `Drain blocked at the deadline by ${r.blocking.join(', ') || 'pods that would not leave'}`)
      return r
    },
    async postGate(): Promise<GateVerdict> {
      const v = await steps.postGate()
      if (v.pass) {
        lastGateFailure = undefined
        await rec.event('Normal', 'ShoalPostGatePassed', `Post-reboot gate passed on ${ctx.image()}${v.reasons.length ? ` (${v.reasons.join('; ')})` : ''}`)
      } else {
        const why = v.reasons.join('; ') || 'no reason given'
        // The gate is polled until it passes: record a failure once per distinct reason.
        if (why !== lastGateFailure) await rec.event('Warning', 'ShoalPostGateFailed', `Post-reboot gate failed on ${ctx.image()}: ${why}`)
        lastGateFailure = why
      }
      return v
    },
    async uncordon() {
      await steps.uncordon()
      await rec.event('Normal', 'ShoalUncordon', `Uncordoned by shoal: back on ${ctx.image()} and healthy (post-reboot gate passed) after ${cycle()}`)
      lease = undefined
    },
  }
  return new Proxy(steps, {
    get(target, prop, receiver) {
      if (prop in wrapped) return wrapped[prop as keyof UpgradeSteps]
      const v = Reflect.get(target, prop, receiver)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
}

/** Records the reboot (waiting at most 2 s for the API: the machine is about to go down) before rebooting. */
export function rebooterWithEvents(rebooter: Rebooter, rec: KubeEventRecorder, ctx: CycleContext): Rebooter {
  return {
    async reboot(reason: string) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([rec.event('Normal', 'ShoalReboot', `Rebooting into ${ctx.target() ?? 'the assigned image'}: ${reason}`), new Promise<void>((r) => (timer = setTimeout(r, REBOOT_EVENT_WAIT_MS)))])
      clearTimeout(timer)
      return rebooter.reboot(reason)
    },
    ...(rebooter.powerOff
      ? {
          async powerOff(reason: string) {
            let timer: NodeJS.Timeout | undefined
            await Promise.race([rec.event('Normal', 'ShoalPowerOff', `Powering off (node verb shutdown): ${reason}`), new Promise<void>((r) => (timer = setTimeout(r, REBOOT_EVENT_WAIT_MS)))])
            clearTimeout(timer)
            return rebooter.powerOff!(reason)
          },
        }
      : {}),
  }
}
