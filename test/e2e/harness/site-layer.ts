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

/**
 * A controller's site layer, as an operator adds one: its site settings in
 * /etc/shoal/coordinator.env (the controller layer's service reads them; docs/coordinator.md).
 * Here: listen on the LAN (the default is loopback only), and a DHT on its address.
 */
export function controllerSiteLayer(settings: Record<string, string>): LayerSpec {
  return {
    name: 'controller-site',
    description: 'site settings of the controller (coordinator.env)',
    archPackages: [],
    async stage({ root }) {
      const { COORDINATOR_ENV_PATH } = await import('../../../layers/specs/controller.js')
      await put(root, COORDINATOR_ENV_PATH.slice(1), Object.entries(settings).map(([k, v]) => `${k}=${v}`).join('\n') + '\n')
    },
  }
}
