/**
 * What the boot agent leaves in the new root for the run-mode agent, in the tmpfs upper
 * (RAM only; nothing reaches a disk): the node's seed, certificate and roster, the cluster
 * facts, the hostname, and /etc/shoal/agent.json for `shoal agent --config`.
 */
import { access, chmod, mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { resolveAgentConfig } from '../config.js'
import type { EnrollResponse } from '../protocol/enroll/index.js'
import type { MeshConfig } from '../protocol/mesh-config.js'
import type { InventorySummary } from '../protocol/node-record.js'
import { COORDINATOR_MEMBER_ID } from '../protocol/roster.js'
import type { UpgradeParam } from '../protocol/kernel-params/index.js'

/** Where the run-mode agent finds Ceph and Kubernetes credentials, when the layers carry them. */
export const CEPH_CONF = '/etc/ceph/ceph.conf'
export const KUBECONFIG = '/etc/kubernetes/kubelet.conf'

export const AGENT_CONFIG_FILE = 'etc/shoal/agent.json'

export interface NodeFilesInput {
  enrolled: EnrollResponse
  seedHex: string
  /** Coordinator base URL (kept for the run-mode agent's roster refresh). */
  coordinator: string
  /** This node's address on the provisioning LAN: the mesh and the API bind to it. */
  address: string
  apiPort: number
  domain: string
  /** Layer names as stacked, lowest first (for the operator: /etc/shoal/layers). */
  layers: string[]
  /**
   * The hardware summary boot read from /sys: published as is, so the agent does not start
   * a systeminformation child at start (tens of CPU-seconds on an emulated worker). The
   * full inventory is still collected on request (GET /v1/nodes/{id}/inventory).
   */
  inventory?: InventorySummary
  /** Component digest for the record (agent/fingerprint). */
  comps?: string[]
  /** Mesh timing overrides from shoal.mesh= (agent/protocol/kernel-params/mesh-param.ts); absent: the lan preset. */
  mesh?: Partial<MeshConfig>
  /** The transport's silent-link close, from shoal.mesh=silentLinkMs:N. */
  silentLinkMs?: number
  /** shoal.upgrade= (agent/protocol/kernel-params/upgrade-param.ts); absent: take part in waves with the defaults. */
  upgrade?: UpgradeParam
  /** The layers came in chunks and their signed manifest is kept: the agent serves their chunks (docs/layers.md). */
  layerChunks?: { manifestFile: string; layerDir: string; uploadBytesPerSec?: number }
  /** Which of CEPH_CONF / KUBECONFIG the stacked layers carry (writeNodeFiles looks). */
  found?: { cephConf?: boolean; kubeconfig?: boolean }
}

/**
 * The agent's `upgrade` block: a worker booted by the coordinator votes and reboots for
 * waves the coordinator signs (its key is the roster's `coordinator` member), asks it for
 * the new version at its URL, and reboots for real. Ceph and Kubernetes gates use the
 * credentials the layers carry; a source with none fails its gate closed unless
 * shoal.upgrade=skip:… says it is absent on purpose. Absent block: no coordinator in the
 * roster, or shoal.upgrade=off.
 */
function upgradeBlock(i: NodeFilesInput): Record<string, unknown> | undefined {
  if (i.upgrade?.off) return undefined
  const coordinatorKey = i.enrolled.roster?.members.find((m) => m.id === COORDINATOR_MEMBER_ID)?.key
  if (!coordinatorKey) return undefined
  return {
    coordinatorKey,
    coordinatorUrl: i.coordinator,
    host: i.enrolled.id,
    ...(i.found?.cephConf ? { cephConf: CEPH_CONF } : {}),
    ...(i.found?.kubeconfig ? { kubeconfig: KUBECONFIG } : {}),
    rebooter: 'reboot',
    ...(i.upgrade && !i.upgrade.off ? i.upgrade.fields : {}),
  }
}

/**
 * The run-mode agent's config file: only the fields boot decides; everything else keeps
 * agent/config.ts's defaults. Validated (resolveAgentConfig) before it is written.
 */
export function agentConfigFor(i: NodeFilesInput): Record<string, unknown> {
  const file = {
    cluster: i.enrolled.cluster,
    nodeId: i.enrolled.id,
    seedFile: '/etc/shoal/node.seed',
    rosterFile: '/etc/shoal/roster.json',
    bootstrap: i.enrolled.bootstrap,
    meshHost: i.address,
    apiHost: i.address,
    apiPort: i.apiPort,
    apiAdvertise: `${i.address}:${i.apiPort}`,
    image: i.enrolled.image,
    domain: i.domain,
    phase: 'ready',
    ...(i.inventory ? { inventory: i.inventory } : {}),
    ...(i.comps ? { comps: i.comps } : {}),
    ...(i.mesh ? { mesh: i.mesh } : {}),
    ...(i.silentLinkMs !== undefined ? { silentLinkMs: i.silentLinkMs } : {}),
    ...(i.layerChunks ? { layerChunks: { ...i.layerChunks, clusterKey: i.enrolled.clusterKey } } : {}),
  }
  const upgrade = upgradeBlock(i)
  if (upgrade) Object.assign(file, { upgrade })
  resolveAgentConfig(file)
  return file
}

export async function writeNodeFiles(newRoot: string, i: NodeFilesInput): Promise<void> {
  const put = async (rel: string, content: string, mode = 0o644) => {
    const p = join(newRoot, rel)
    await mkdir(dirname(p), { recursive: true })
    await writeFile(p, content, { mode })
    await chmod(p, mode)
  }
  const e = i.enrolled
  const exists = (rel: string) => access(join(newRoot, rel)).then(() => true, () => false)
  i = { ...i, found: { cephConf: await exists(CEPH_CONF), kubeconfig: await exists(KUBECONFIG) } }
  await put('etc/hostname', `${e.id}\n`)
  await put('etc/shoal/layers', `${i.layers.join(' ')}\n`)
  await put('etc/shoal/node.seed', `${i.seedHex}\n`, 0o600)
  await put('etc/shoal/certificate.json', JSON.stringify(e.certificate, null, 2) + '\n')
  await put('etc/shoal/roster.signed.json', JSON.stringify(e.roster, null, 2) + '\n')
  await put('etc/shoal/roster.json', JSON.stringify({ cluster: e.cluster, members: e.roster.members }, null, 2) + '\n')
  await put('etc/shoal/cluster.json', JSON.stringify({ cluster: e.cluster, clusterKey: e.clusterKey, coordinator: i.coordinator, bootstrap: e.bootstrap }, null, 2) + '\n')
  await put(AGENT_CONFIG_FILE, JSON.stringify(agentConfigFor(i), null, 2) + '\n')
}
