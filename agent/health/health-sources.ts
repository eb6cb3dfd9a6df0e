/**
 * Turns "where are Ceph and Kubernetes" settings (CLI flags or agent config) into probes.
 * A source is given, skipped on purpose, or missing; missing ones make gates fail closed
 * with a message that says which flag to pass.
 */
import { ShoalError } from '../protocol/errors.js'
import { CephCli } from './ceph-cli.js'
import { CephSession } from './ceph-session.js'
import { CephProbe } from './ceph-probe.js'
import { HealthObserver, type SourceSetting } from './health-observer.js'
import { KubeClient } from './kube-client.js'
import { inClusterConfig, loadKubeconfig, type KubeConnection } from './kube-config.js'
import { KubeProbe } from './kube-probe.js'
import { KubeletProbe } from './kubelet-probe.js'

export const sourceNames = ['kube', 'ceph', 'kubelet'] as const
export type SourceName = (typeof sourceNames)[number]

export interface HealthSourceSettings {
  cephConf?: string
  cephKeyring?: string
  cephName?: string
  cephBin?: string
  kubeconfig?: string
  kubeContext?: string
  inCluster?: boolean
  kubeletUrl?: string
  skip?: SourceName[]
  /** Per probe call. */
  timeoutMs?: number
  /** 'session' (default): one librados connection for all commands; 'cli': one `ceph` process per command. */
  cephTransport?: 'session' | 'cli'
}

/** Connections resolved once; close() releases the HTTP pool. */
export class HealthSources {
  readonly ceph: { cli: CephCli } | { skip: string } | { missing: string }
  readonly kube: { client: KubeClient } | { skip: string } | { missing: string }
  readonly kubelet: { url: string } | { skip: string }
  readonly skipped: SourceName[]

  constructor(readonly settings: HealthSourceSettings) {
    const skip = new Set(settings.skip ?? [])
    for (const s of skip) if (!sourceNames.includes(s)) throw new ShoalError('usage', `--skip takes kube, ceph or kubelet, not "${s}"`)
    this.skipped = [...skip]
    const t = settings.timeoutMs
    if (skip.has('ceph')) this.ceph = { skip: '--skip ceph' }
    else if (settings.cephConf) {
      const o = { conf: settings.cephConf, keyring: settings.cephKeyring, name: settings.cephName, bin: settings.cephBin, timeoutMs: t ?? 10_000 }
      this.ceph = { cli: settings.cephTransport === 'cli' ? new CephCli(o) : new CephSession(o) }
    }
    else this.ceph = { missing: 'no Ceph cluster given: pass --ceph-conf FILE (and --ceph-keyring FILE) or --skip ceph' }

    if (skip.has('kube')) this.kube = { skip: '--skip kube' }
    else {
      let conn: KubeConnection | undefined
      if (settings.kubeconfig) conn = loadKubeconfig(settings.kubeconfig, settings.kubeContext)
      else if (settings.inCluster) {
        conn = inClusterConfig()
        if (!conn) throw new ShoalError('usage', '--in-cluster: KUBERNETES_SERVICE_HOST/PORT are not set; this is not a pod')
      }
      this.kube = conn
        ? { client: new KubeClient(conn, { timeoutMs: t ?? 5000 }) }
        : { missing: 'no Kubernetes API given: pass --kubeconfig FILE (or --in-cluster) or --skip kube' }
    }

    if (skip.has('kubelet')) this.kubelet = { skip: '--skip kubelet' }
    else if (settings.kubeletUrl) this.kubelet = { url: settings.kubeletUrl }
    else this.kubelet = { skip: 'not on the node, node Ready covers it; pass --kubelet-url to probe /healthz' }
  }

  observer(node: string): HealthObserver {
    const c = this.ceph
    const k = this.kube
    const l = this.kubelet
    const ceph: SourceSetting<CephProbe> = 'cli' in c ? new CephProbe({ host: node }, c.cli) : c
    const kube: SourceSetting<KubeProbe> = 'client' in k ? new KubeProbe(k.client, node) : k
    const kubelet: SourceSetting<KubeletProbe> = 'url' in l ? new KubeletProbe({ url: l.url, timeoutMs: this.settings.timeoutMs }) : l
    return new HealthObserver({ node, ceph, kube, kubelet })
  }

  async close(): Promise<void> {
    if ('cli' in this.ceph && this.ceph.cli instanceof CephSession) this.ceph.cli.close()
    if ('client' in this.kube) await this.kube.client.close()
  }
}
