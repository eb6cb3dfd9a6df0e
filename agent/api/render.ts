/**
 * Text renderings of API answers, shared by the CLI (`shoal status|nodes|node|watch`) and
 * the demo, so the operator sees one format everywhere.
 */
import type { WatchLine } from './agent-client.js'
import type { ClusterSummary, NodeDetail, NodeSummary } from './node-summary.js'

export function age(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-'
  if (ms < 1000) return `${ms}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m${Math.floor((ms % 60_000) / 1000)}s`
  return `${Math.floor(ms / 3_600_000)}h${Math.floor((ms % 3_600_000) / 60_000)}m`
}

/**
 * The one table renderer of every CLI table and the demo: columns aligned by padding, two
 * spaces apart, the last column unpadded; an empty cell (undefined, null, '') shows '-'.
 */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === undefined || c === null || c === '' ? '-' : String(c))))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')
}

function healthText(n: NodeSummary): string {
  if (!n.health) return '-'
  return n.health.conditions > 0 ? `${n.health.status} (${n.health.conditions})` : n.health.status
}

/** The node table; `wide` adds how long each status has held, the incarnation and the record version. */
export function nodesTable(nodes: NodeSummary[], opts: { wide?: boolean } = {}): string {
  const base = (n: NodeSummary) => [n.id, n.status, n.phase, n.image, n.domain, healthText(n), n.lastUpdateAgeMs === null ? '-' : `${age(n.lastUpdateAgeMs)} ago`]
  if (opts.wide) {
    return table(
      ['NODE', 'STATUS', 'PHASE', 'IMAGE', 'DOMAIN', 'HEALTH', 'UPDATED', 'FOR', 'INC', 'VER', 'OSDS', 'API'],
      nodes.map((n) => [...base(n), age(n.statusAgeMs), n.incarnation, n.version, n.health?.osdsTotal === undefined ? '-' : `${n.health.osdsUp ?? 0}/${n.health.osdsTotal}`, n.api]),
    )
  }
  return table(['NODE', 'STATUS', 'PHASE', 'IMAGE', 'DOMAIN', 'HEALTH', 'UPDATED', 'API'], nodes.map((n) => [...base(n), n.api]))
}

function tally(values: (string | null)[]): string {
  const m = new Map<string, number>()
  for (const v of values) m.set(v ?? '-', (m.get(v ?? '-') ?? 0) + 1)
  return [...m].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ') || '-'
}

export function statusText(c: ClusterSummary): string {
  return [
    `cluster as seen by ${c.answeredBy} at ${c.observedAt}`,
    `nodes:   ${c.counts.total} known, ${c.counts.alive} alive, ${c.counts.suspect} suspect, ${c.counts.dead} dead`,
    `phases:  ${tally(c.nodes.map((n) => n.phase))}`,
    `images:  ${tally(c.nodes.map((n) => n.image))}`,
    `health:  ${tally(c.nodes.map((n) => n.health?.status ?? null))}`,
    `domains: ${tally(c.nodes.map((n) => n.domain))}`,
  ].join('\n')
}

export function nodeText(n: NodeDetail): string {
  const r = n.record
  const inv = r?.inv ?? {}
  const gib = (b: number | undefined) => (b === undefined ? '-' : `${Math.round(b / 2 ** 30)} GiB`)
  const lines: [string, string | number | undefined | null][] = [
    ['id', n.id],
    ['status', `${n.status} (for ${age(n.statusAgeMs)}, incarnation ${n.incarnation})`],
    ['phase', n.phase],
    ['image', n.image],
    ['domain', n.domain],
    ['health', healthText(n)],
    ['api', n.api],
    ['updated', n.lastUpdateAgeMs === null ? '-' : `${age(n.lastUpdateAgeMs)} ago (version ${n.version})`],
    ['key', r?.key],
    ['hardware', [inv.vendor, inv.product].filter(Boolean).join(' ') || '-'],
    ['cpu', inv.cpuModel ? `${inv.cpuModel}, ${inv.cpuCores ?? '?'} cores` : '-'],
    ['memory', gib(inv.memoryBytes)],
    ['disks', inv.disks === undefined ? '-' : `${inv.disks} (${inv.diskBytes === undefined ? '?' : (inv.diskBytes / 1e12).toFixed(1) + ' TB'})`],
    ['nics', inv.nics],
  ]
  const out = lines.map(([k, v]) => `${(k + ':').padEnd(10)} ${v ?? '-'}`)
  for (const c of r?.health.conditions ?? []) out.push(`  ${c.severity.padEnd(8)} ${c.id}: ${c.message} (${c.source})`)
  return out.join('\n')
}

/** One watch event as one line; undefined for lines a human does not need (heartbeats, snapshots). */
export function watchText(line: WatchLine): string | undefined {
  const t = line.at.slice(11, 23)
  if (line.type === 'member') {
    const what = line.previous === null ? 'JOINED' : line.status.toUpperCase()
    const n = line.node
    const extra = n ? `  phase=${n.phase ?? '-'} image=${n.image ?? '-'} domain=${n.domain ?? '-'}` : ''
    return `${t}  ${what.padEnd(7)} ${line.id}${line.previous && line.previous !== line.status ? ` (was ${line.previous})` : ''}${extra}`
  }
  if (line.type === 'record') {
    const n = line.node
    // A first record arrives with the JOINED line; later ones matter only if the operator would see a difference.
    const shown = (line.changed ?? []).filter((f) => f === 'phase' || f === 'image' || f === 'health' || f === 'domain')
    if (!n || shown.length === 0 || shown.length === 4) return undefined
    return `${t}  UPDATED ${line.id}  ${shown.map((f) => `${f}=${f === 'health' ? (n.health?.status ?? '-') : (n[f as 'phase' | 'image' | 'domain'] ?? '-')}`).join(' ')}`
  }
  return undefined
}
