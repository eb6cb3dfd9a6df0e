/**
 * `shoal upgrade` — rolling upgrade waves through the coordinator (coordinator/waves):
 *   shoal upgrade start --to V [--max-unavailable K] [--failure-domain domain|none] [--window HH:MM-HH:MM]
 *                       [--alert-source URL] [--drain-policy halt|force] [--node-timeout 30m] [--stall-timeout 30m]
 *                       [--force] [--dry-run]
 *     refused (exit 1) when some node could never pass its pre-reboot gate on its own (pool
 *     min_size = size, fewer CRUSH failure domains than replicas, a PDB that allows nothing):
 *     the coordinator says why and what to change; --force starts it anyway.
 *   shoal upgrade status [ID] [--watch] [-o table|json]
 *   shoal upgrade pause|resume|abort|rollback [ID]
 * ID defaults to the newest wave. Every command takes --coordinator URL and --admin-token T.
 */
import { ShoalError } from '../../../agent/protocol/errors.js'
import { DryRun, WaveStatus } from '../../waves/wave-api.js'
import { clientOptions, waveClient } from '../../waves/wave-client.js'
import { outputFormat, parse, table } from '../args.js'
import type { CliIo } from '../main.js'

export const summary = 'start, watch and steer a rolling upgrade wave (start|status|pause|resume|abort|rollback)'

const USAGE = `shoal upgrade start --to VERSION [--max-unavailable K] [--failure-domain domain|none] [--window HH:MM-HH:MM] [--alert-source URL] [--drain-policy halt|force] [--node-timeout 30m] [--stall-timeout 30m] [--force] [--dry-run]
       shoal upgrade status [ID] [--watch] [-o table|json]
       shoal upgrade pause|resume|abort|rollback [ID]
       (all: [--coordinator URL] [--admin-token T])`

const options = {
  ...clientOptions,
  to: { type: 'string' },
  'max-unavailable': { type: 'string' },
  'failure-domain': { type: 'string' },
  window: { type: 'string' },
  'alert-source': { type: 'string' },
  'drain-policy': { type: 'string' },
  'node-timeout': { type: 'string' },
  'stall-timeout': { type: 'string' },
  force: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  watch: { type: 'boolean', short: 'w' },
  'interval-ms': { type: 'string' },
  output: { type: 'string', short: 'o', default: 'table' },
} as const

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv
  if (!sub || !['start', 'status', 'pause', 'resume', 'abort', 'rollback'].includes(sub)) throw new ShoalError('usage', `${sub ? `unknown subcommand "${sub}"` : 'missing subcommand'}\nusage: ${USAGE}`)
  const { values, positionals } = parse(rest, options, USAGE)
  const format = outputFormat(values.output)
  if (positionals.length > (sub === 'start' ? 0 : 1)) throw new ShoalError('usage', `too many arguments: ${positionals.join(' ')}\nusage: ${USAGE}`)
  const id = encodeURIComponent(positionals[0] ?? 'current')

  if (sub === 'start') {
    const body = startBody(values)
    const client = await waveClient(values)
    const out = await client.call('/v1/waves', body)
    if (body.dryRun) {
      const d = DryRun.parse(out)
      if (format === 'json') io.out(JSON.stringify(d, null, 2))
      else printDryRun(d, io)
      // The dry run refuses what the start would refuse.
      if (d.refused) {
        io.err(`refused: ${d.refusal ?? 'this wave can never finish'}`)
        return 1
      }
      return 0
    }
    const s = WaveStatus.parse(out)
    if (format === 'json') io.out(JSON.stringify(s, null, 2))
    else io.out(`wave ${s.id} started: ${s.nodes.length} node(s) to ${s.target}, at most ${s.maxUnavailable} at a time (failure domain: ${s.failureDomain}); follow it with: shoal upgrade status ${s.id} --watch`)
    return 0
  }

  const client = await waveClient(values)
  if (sub === 'status') {
    const intervalMs = values['interval-ms'] === undefined ? 1000 : Number(values['interval-ms'])
    if (!(intervalMs >= 100)) throw new ShoalError('usage', `--interval-ms must be a number >= 100, not "${String(values['interval-ms'])}"`)
    let last = ''
    for (;;) {
      const s = WaveStatus.parse(await client.call(`/v1/waves/${id}`))
      const text = format === 'json' ? JSON.stringify(s, null, 2) : renderStatus(s)
      // Live view: print again only when something changed.
      if (text !== last) io.out(text)
      last = text
      if (!values.watch || s.state === 'done' || s.state === 'aborted') return s.state === 'aborted' ? 1 : 0
      await new Promise((r) => setTimeout(r, intervalMs))
    }
  }

  const out = await client.call(`/v1/waves/${id}/${sub}`, {})
  const s = WaveStatus.parse(out)
  if (format === 'json') io.out(JSON.stringify(s, null, 2))
  else if (sub === 'rollback') io.out(`wave ${s.rollbackOf} rolled back: wave ${s.id} takes ${s.nodes.length} node(s) back to ${s.target}`)
  else io.out(`wave ${s.id}: ${s.state}${s.reason ? ` (${s.reason})` : ''}`)
  return 0
}

function startBody(values: Record<string, unknown>): { target: string; dryRun: boolean; [k: string]: unknown } {
  const to = values.to as string | undefined
  if (!to) throw new ShoalError('usage', `start needs --to VERSION\nusage: ${USAGE}`)
  const body: { target: string; dryRun: boolean; [k: string]: unknown } = { target: to, dryRun: values['dry-run'] === true }
  if (values['max-unavailable'] !== undefined) {
    const k = Number(values['max-unavailable'])
    if (!Number.isInteger(k)) throw new ShoalError('usage', `--max-unavailable must be a whole number, not "${String(values['max-unavailable'])}"`)
    body.maxUnavailable = k
  }
  if (values['failure-domain'] !== undefined) body.failureDomain = values['failure-domain']
  if (values.window !== undefined) body.window = values.window
  if (values['alert-source'] !== undefined) body.alertSource = values['alert-source']
  if (values['drain-policy'] !== undefined) body.drainPolicy = values['drain-policy']
  if (values['node-timeout'] !== undefined) body.nodeTimeoutMs = parseDuration(String(values['node-timeout']))
  if (values['stall-timeout'] !== undefined) body.stallTimeoutMs = parseDuration(String(values['stall-timeout']), '--stall-timeout')
  if (values.force === true) body.force = true
  return body
}

/** `90s`, `30m`, `2h`, or plain milliseconds. */
export function parseDuration(text: string, flag = '--node-timeout'): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(text.trim())
  if (!m) throw new ShoalError('usage', `${flag} must look like 90s, 30m or 2h, not "${text}"`)
  const n = Number(m[1])
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h']
}

const time = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString().slice(11, 19))

export function renderStatus(s: WaveStatus): string {
  const p = s.progress
  const head = [
    `wave ${s.id} -> ${s.target}${s.previous ? ` (from ${s.previous})` : ''}: ${s.state.toUpperCase()}${s.reason ? ` — ${s.reason}` : ''}`,
    `  ${p.done}/${p.total} done, ${p.inProgress} in progress, ${p.waiting} waiting, ${p.failed} failed; max unavailable ${s.maxUnavailable}, failure domain ${s.failureDomain}${s.window ? `, window ${s.window} UTC` : ''}${s.held && s.state === 'running' ? ' (new slots held back)' : ''}`,
  ]
  const why = (n: WaveStatus['nodes'][number]) => [n.reason, ...(n.blocked ?? []).filter((b) => b.code !== 'hold' && b.code !== 'never').map((b) => b.message), ...((n.blocked ?? []).some((b) => b.code === 'never') ? ['can never stop (below)'] : [])].filter(Boolean).join('; ') || undefined
  const rows = s.nodes.map((n) => [n.node, n.state, time(n.since), n.slot === undefined ? undefined : `${n.slot}/${n.term}`, n.image, n.phase, n.liveness, why(n)])
  const tail: string[] = []
  if (s.blocked && Object.values(s.blocked).some((v) => v > 0)) tail.push(`waiting nodes by reason: ${Object.entries(s.blocked).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  for (const c of s.never ?? []) tail.push(`cannot clear by itself: ${c.message} (${c.nodes.length <= 6 ? c.nodes.join(', ') : `${c.nodes.length} nodes`})`, `  change: ${c.fix}`)
  return [...head, table(['NODE', 'STATE', 'SINCE', 'SLOT/TERM', 'IMAGE', 'PHASE', 'MESH', 'WHY'], rows), ...tail].join('\n')
}

function printDryRun(d: DryRun, io: CliIo): void {
  io.out(`dry run: wave to ${d.target}${d.previous ? ` (from ${d.previous})` : ''}, at most ${d.maxUnavailable} at a time, failure domain ${d.failureDomain}; nothing was changed`)
  io.out(`order the vote would pick now: ${d.order.length ? d.order.join(', ') : '(no candidate passes its gates now)'}`)
  io.out(table(['NODE', 'CANDIDATE', 'GATE', 'IMAGE', 'PHASE', 'DOMAIN', 'WHY'], d.nodes.map((n) => [n.node, n.candidate ? 'yes' : 'no', n.gate, n.image, n.phase, n.domain, n.reasons.filter((r) => !r.startsWith('can never stop: ')).join('; ') || undefined])))
  for (const c of d.never ?? []) io.out(`can never finish: ${c.message} (${c.nodes.length <= 6 ? c.nodes.join(', ') : `${c.nodes.length} nodes`})\n  change: ${c.fix}`)
  if (d.unknown?.length) io.out(`not judged (no Ceph/Kubernetes stop facts published): ${d.unknown.join(', ')}`)
}
