/**
 * HealthObserver: runs the probes of one node in parallel and returns one round of
 * NodeObservations. A source can be a probe, skipped on purpose (stated in gate output),
 * or missing (neither configured nor skipped: observed as an error, so gates fail closed).
 */
import type { CephProbe } from './ceph-probe.js'
import type { KubeProbe } from './kube-probe.js'
import type { KubeletProbe } from './kubelet-probe.js'
import { observe, skipped, type NodeObservations, type Observed } from './observation.js'

export type SourceSetting<P> = P | { skip: string } | { missing: string }

export interface HealthObserverOptions {
  node: string
  kubelet: SourceSetting<KubeletProbe>
  kube: SourceSetting<KubeProbe>
  ceph: SourceSetting<CephProbe>
}

/** What the round is for: the pre gate also asks ok-to-stop and plans the drain. */
export type Purpose = 'health' | 'pre' | 'post'

export interface Round {
  obs: NodeObservations
  /** Wall time per source and in all, ms. */
  ms: { kubelet: number; kube: number; ceph: number; total: number }
}

export class HealthObserver {
  constructor(readonly options: HealthObserverOptions) {}

  get node(): string {
    return this.options.node
  }

  /**
   * One round. `jointWith` (pre rounds): the hosts ok-to-stop counts as stopped together with
   * this one — every node down, holding a slot or rebooting (agent/protocol/joint-safety.ts).
   */
  async observe(purpose: Purpose = 'health', opts: { jointWith?: readonly string[] } = {}): Promise<Round> {
    const t0 = performance.now()
    const ms = { kubelet: 0, kube: 0, ceph: 0, total: 0 }
    const timed = async <T>(name: 'kubelet' | 'kube' | 'ceph', s: SourceSetting<unknown>, fn: () => Promise<T>): Promise<Observed<T>> => {
      if (typeof s === 'object' && s !== null && 'skip' in s) return skipped(String(s.skip))
      if (typeof s === 'object' && s !== null && 'missing' in s) return { state: 'error', code: 'not-configured', error: String(s.missing) }
      const t = performance.now()
      const r = await observe(fn)
      ms[name] = performance.now() - t
      return r
    }
    const o = this.options
    const [kubelet, kube, ceph] = await Promise.all([
      timed('kubelet', o.kubelet, () => (o.kubelet as KubeletProbe).run()),
      timed('kube', o.kube, () => (o.kube as KubeProbe).run({ drainPlan: purpose === 'pre' })),
      timed('ceph', o.ceph, () => (o.ceph as CephProbe).run({ okToStop: purpose === 'pre', ...(purpose === 'pre' && opts.jointWith?.length ? { jointWith: opts.jointWith } : {}) })),
    ])
    ms.total = performance.now() - t0
    return { obs: { node: o.node, kubelet, kube, ceph }, ms }
  }
}
