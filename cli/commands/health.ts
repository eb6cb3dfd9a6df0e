/**
 * `shoal health [NODE]`: the health conditions of one node, or of every node the sources
 * know (Kubernetes nodes and CRUSH hosts), read straight from Ceph and the Kubernetes API.
 * Exit 0 when every node is ok or warning, 1 when any is critical or unknown.
 */
import { HealthModel } from '../../agent/health/health-model.js'
import { HealthSources, type SourceName } from '../../agent/health/health-sources.js'
import { CephProbe, osdsUnder, type CephSnapshot } from '../../agent/health/ceph-probe.js'
import { toNodeView } from '../../agent/health/kube-client.js'
import { KubeNode, listOf } from '../../agent/health/kube-schemas.js'
import { observe, type NodeObservations } from '../../agent/health/observation.js'
import { ShoalError } from '../../agent/protocol/errors.js'
import type { HealthSummary } from '../../agent/protocol/node-record.js'
import { formatted, outputFormat, outputOption, parse, table, type FlagDoc } from '../args.js'
import type { CliIo } from '../main.js'

export const summary = 'health conditions of a node (or all nodes) from Ceph and the Kubernetes API'

/** Flags shared by `shoal health` and `shoal gate`. */
export const sourceOptions = {
  ...outputOption,
  'ceph-conf': { type: 'string' },
  'ceph-keyring': { type: 'string' },
  keyring: { type: 'string' },
  'ceph-name': { type: 'string' },
  'ceph-transport': { type: 'string' },
  kubeconfig: { type: 'string' },
  'kube-context': { type: 'string' },
  context: { type: 'string' },
  'in-cluster': { type: 'boolean' },
  'kubelet-url': { type: 'string' },
  skip: { type: 'string', multiple: true },
  'timeout-ms': { type: 'string' },
} as const

/** --help text of the source flags. */
export const sourceDocs: Record<string, FlagDoc> = {
  'ceph-conf': { value: 'FILE', help: 'ceph.conf of the cluster to ask', default: 'Ceph not asked' },
  'ceph-keyring': { value: 'FILE', help: 'keyring for --ceph-name' },
  keyring: { aliasOf: 'ceph-keyring' },
  'ceph-name': { value: 'client.NAME', help: 'Ceph user', default: 'client.admin' },
  'ceph-transport': { value: 'session|cli', help: 'one long-lived ceph session, or a `ceph` process per call', default: 'session' },
  kubeconfig: { value: 'FILE', help: 'kubeconfig of the cluster to ask', default: 'Kubernetes not asked' },
  'kube-context': { value: 'NAME', help: 'kubeconfig context', default: "the kubeconfig's current-context" },
  context: { aliasOf: 'kube-context' },
  'in-cluster': { help: 'use the pod service account instead of --kubeconfig' },
  'kubelet-url': { value: 'URL', help: "the node's kubelet /healthz", default: 'kubelet not asked' },
  skip: { value: 'kube|ceph|kubelet', help: 'do not ask that source (repeatable)' },
  'timeout-ms': { value: 'MS', help: 'per-source timeout', default: 'each source\'s' },
}

export const sourceUsage =
  '[--ceph-conf FILE [--ceph-keyring FILE] [--ceph-name client.NAME] [--ceph-transport session|cli]] [--kubeconfig FILE [--kube-context NAME] | --in-cluster] ' +
  '[--kubelet-url URL] [--skip kube|ceph|kubelet]... [--timeout-ms MS] [-o table|wide|json|yaml]'

export function sourcesFrom(values: Record<string, unknown>): HealthSources {
  const skip = ((values.skip as string[] | undefined) ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)
  let timeoutMs: number | undefined
  if (values['timeout-ms'] !== undefined) {
    timeoutMs = Number(values['timeout-ms'])
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new ShoalError('usage', `--timeout-ms must be a positive integer, not "${values['timeout-ms']}"`)
  }
  const transport = values['ceph-transport']
  if (transport !== undefined && transport !== 'session' && transport !== 'cli')
    throw new ShoalError('usage', `--ceph-transport must be "session" or "cli", not "${String(transport)}"`)
  return new HealthSources({
    cephTransport: transport as 'session' | 'cli' | undefined,
    cephConf: values['ceph-conf'] as string | undefined,
    cephKeyring: (values['ceph-keyring'] ?? values.keyring) as string | undefined,
    cephName: values['ceph-name'] as string | undefined,
    kubeconfig: values.kubeconfig as string | undefined,
    kubeContext: (values['kube-context'] ?? values.context) as string | undefined,
    inCluster: values['in-cluster'] as boolean | undefined,
    kubeletUrl: values['kubelet-url'] as string | undefined,
    skip: skip as SourceName[],
    timeoutMs,
  })
}

const usage = `shoal health [NODE] ${sourceUsage}`

interface NodeHealth {
  node: string
  health: HealthSummary
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, sourceOptions, usage, { summary, docs: sourceDocs })
  const format = outputFormat(values.output)
  if (positionals.length > 1) throw new ShoalError('usage', `expected at most one NODE, got ${positionals.join(' ')} (see: shoal health --help)`)
  const sources = sourcesFrom(values)
  try {
    const nodes: NodeHealth[] = []
    const notes: string[] = [...skipNotes(sources)]
    const now = Date.now()
    if (positionals[0]) {
      const round = await sources.observer(positionals[0]).observe('health')
      nodes.push({ node: positionals[0], health: new HealthModel().update(round.obs, now) })
    } else {
      for (const obs of await allNodes(sources)) nodes.push({ node: obs.node, health: new HealthModel().update(obs, now) })
      if (nodes.length === 0) throw new ShoalError('unreachable', 'no source named any node: give --ceph-conf and/or --kubeconfig, or a NODE')
    }
    if (format === 'json' || format === 'yaml') io.out(formatted(format, { nodes, skipped: notes }, () => ''))
    else {
      io.out(table(['NODE', 'STATUS', 'READY', 'OSDS', 'CONDITIONS'], nodes.map((n) => [
        n.node,
        n.health.status,
        n.health.kubeletReady === undefined ? '-' : n.health.kubeletReady ? 'yes' : 'no',
        n.health.osdsTotal === undefined ? '-' : `${n.health.osdsUp}/${n.health.osdsTotal}`,
        String(n.health.conditions.filter((c) => c.severity !== 'info').length),
      ])))
      for (const n of nodes) for (const c of n.health.conditions) io.out(`  ${n.node}: ${c.severity.padEnd(8)} ${c.id}: ${c.message}`)
      for (const s of notes) io.out(`note: ${s}`)
    }
    return nodes.every((n) => n.health.status === 'ok' || n.health.status === 'warning') ? 0 : 1
  } finally {
    await sources.close()
  }
}

function skipNotes(s: HealthSources): string[] {
  const out: string[] = []
  for (const [name, v] of [['ceph', s.ceph], ['kube', s.kube], ['kubelet', s.kubelet]] as const) {
    if ('skip' in v) out.push(`${name}: not checked (${v.skip})`)
    if ('missing' in v) out.push(`${name}: ${v.missing}`)
  }
  return out
}

/** One Ceph snapshot and one node list, spread over every node either source knows. */
async function allNodes(s: HealthSources): Promise<NodeObservations[]> {
  const c = s.ceph
  const k = s.kube
  const [ceph, kube] = await Promise.all([
    'cli' in c ? observe(() => new CephProbe({ host: '' }, c.cli).run()) : undefined,
    'client' in k ? observe(async () => (await k.client.call('GET', '/api/v1/nodes', listOf(KubeNode))).body!.items) : undefined,
  ])
  const names = new Set<string>()
  if (ceph?.state === 'ok') for (const n of ceph.value.tree.nodes) if (n.type === 'host') names.add(n.name)
  if (kube?.state === 'ok') for (const n of kube.value) names.add(n.metadata.name)
  const out: NodeObservations[] = []
  for (const node of [...names].sort()) {
    const obs: NodeObservations = { node, kubelet: { state: 'skipped', why: 'cluster-wide view' }, kube: { state: 'skipped', why: '--skip kube' }, ceph: { state: 'skipped', why: '--skip ceph' } }
    if (ceph?.state === 'ok') {
      const { known, osds } = osdsUnder(ceph.value.tree, node)
      obs.ceph = { state: 'ok', value: { ...ceph.value, host: node, hostOsds: osds, hostKnown: known } as CephSnapshot }
    } else if (ceph) obs.ceph = ceph as NodeObservations['ceph']
    else if ('missing' in s.ceph) obs.ceph = { state: 'error', code: 'not-configured', error: s.ceph.missing }
    if (kube?.state === 'ok') {
      const n = kube.value.find((x) => x.metadata.name === node)
      obs.kube = n ? { state: 'ok', value: { node: toNodeView(n) } } : { state: 'error', code: 'kube-not-found', error: `node "${node}" is not in the Kubernetes API` }
    } else if (kube) obs.kube = kube as NodeObservations['kube']
    else if ('missing' in s.kube) obs.kube = { state: 'error', code: 'not-configured', error: s.kube.missing }
    out.push(obs)
  }
  return out
}
