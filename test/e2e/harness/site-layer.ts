/**
 * A site layer, as an operator adds one on top of the worker stack: the cluster's
 * credentials. Here it carries a kubeconfig for the fake Kubernetes API the test runs on
 * the controller's address; the boot agent finds /etc/kubernetes/kubelet.conf in the
 * stacked root and points the agent's gates and drain at it.
 */
import type { LayerSpec } from '../../../layers/layer-spec.js'
import { put } from '../../../layers/stage.js'

export function siteLayer(kubeApiUrl: string): LayerSpec {
  return {
    name: 'site',
    description: 'site credentials: the kubeconfig of the (fake) Kubernetes API',
    archPackages: [],
    async stage({ root }) {
      const kubeconfig = {
        apiVersion: 'v1', kind: 'Config',
        clusters: [{ name: 'site', cluster: { server: kubeApiUrl } }],
        users: [{ name: 'site', user: {} }],
        contexts: [{ name: 'site', context: { cluster: 'site', user: 'site' } }],
        'current-context': 'site',
      }
      await put(root, 'etc/kubernetes/kubelet.conf', JSON.stringify(kubeconfig, null, 2) + '\n')
    },
  }
}
