/**
 * node: what makes a machine a Kubernetes + Ceph node (kubelet, containerd, ceph-osd).
 * The test build carries only their configuration skeleton: the QEMU test boots workers
 * that join the mesh, not a Kubernetes cluster.
 */
import type { LayerSpec } from '../layer-spec.js'
import { put } from '../stage.js'

export const node: LayerSpec = {
  name: 'node',
  description: 'Kubernetes and Ceph node software (kubelet, containerd, ceph-osd)',
  archPackages: ['kubelet', 'kubeadm', 'containerd', 'cni-plugins', 'ceph', 'lvm2', 'chrony'],
  async stage({ root, version }) {
    await put(root, 'etc/kubernetes/kubelet.env', `# kubelet flags; the node id (hostname) is written at boot by shoal\nKUBELET_ARGS=--node-labels=shoal.io/image=${version}\n`)
    await put(root, 'etc/ceph/ceph.conf', '# written at boot from the cluster roster\n')
    await put(root, 'usr/lib/shoal/node-layer', `${version}\n`)
  },
}
