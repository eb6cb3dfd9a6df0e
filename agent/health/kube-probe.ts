/**
 * KubeProbe: the Kubernetes API's view of one node (Ready, conditions, cordon) and, for the
 * pre-reboot gate, the drain plan (which pods a PodDisruptionBudget would hold back).
 */
import type { Probe } from '../protocol/ports.js'
import type { KubeClient } from './kube-client.js'
import { drainPlan } from './kube-drain.js'
import type { KubeView } from './observation.js'

export class KubeProbe implements Probe<KubeView> {
  readonly name = 'kube'
  constructor(
    readonly client: KubeClient,
    readonly node: string,
  ) {}

  async run(opts: { drainPlan?: boolean } = {}): Promise<KubeView> {
    if (!opts.drainPlan) return { node: await this.client.nodeView(this.node) }
    const [node, pods, pdbs] = await Promise.all([this.client.nodeView(this.node), this.client.podsOnNode(this.node), this.client.podDisruptionBudgets()])
    return { node, drain: drainPlan(pods, pdbs) }
  }
}
