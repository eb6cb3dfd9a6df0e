/**
 * `shoal upgrade` — rolling upgrade waves through the coordinator (coordinator/waves):
 *   shoal upgrade start --to V [--max-unavailable K] [--failure-domain domain|none] [--window '[DAYS ]HH:MM-HH:MM[ ZONE]' ...]
 *                       [--at TIME] [--settle DURATION] [--selector id=GLOB,domain=GLOB] [--canary N]
 *                       [--alert-source URL] [--alert-matcher SELECTOR ...] [--drain-policy halt|force] [--node-timeout 30m] [--stall-timeout 30m]
 *                       [--force] [--dry-run]
 *     refused (exit 1) when some node could never pass its pre-reboot gate on its own (pool
 *     min_size = size, fewer CRUSH failure domains than replicas, a PDB that allows nothing):
 *     the coordinator says why and what to change; --force starts it anyway.
 *   shoal upgrade status [ID] [--watch] [-o table|json]
 *   shoal upgrade pause|resume|abort|rollback [ID]
 * ID defaults to the newest wave. Every command takes --coordinator URL and --admin-token-file FILE.
 */
import { parseAlertSelector } from '../../agent/protocol/alert-matchers.js'
import { ShoalError } from '../../agent/protocol/errors.js'
import { DryRun, WaveStatus } from '../../coordinator/waves/wave-api.js'
import { parseWindowRule } from '../../agent/protocol/maintenance-window.js'
import { formatted, outputFormat, outputOption, parse, subcommandHelp, table, type FlagDoc } from '../args.js'
import { badAnswer, coordinatorClient, coordinatorOptions } from '../clients.js'
import type { CliIo } from '../main.js'

export const summary = 'start, watch and steer a rolling upgrade wave (start|status|pause|resume|abort|rollback)'
export const subcommands = ['start', 'status', 'pause', 'resume', 'abort', 'rollback'] as const

const USAGE = `shoal upgrade start --to VERSION [--max-unavailable K] [--failure-domain domain|none] [--window '[DAYS ]HH:MM-HH:MM[ ZONE]' ...] [--at TIME] [--settle DURATION] [--selector KEY=GLOB,...] [--canary N] [--alert-source URL] [--alert-matcher '{alertname=~"Ceph.*",severity="critical"}' ...] [--drain-policy halt|force] [--node-timeout 30m] [--stall-timeout 30m] [--force] [--dry-run]
       shoal upgrade status [ID] [--watch]
       shoal upgrade pause|resume|abort|rollback [ID]
       (all: [--coordinator URL] [--admin-token-file FILE] [-o table|wide|json|yaml])`

const options = {
  ...coordinatorOptions,
  to: { type: 'string' },
  'max-unavailable': { type: 'string' },
  'failure-domain': { type: 'string' },
  window: { type: 'string', multiple: true },
  at: { type: 'string' },
  settle: { type: 'string' },
  selector: { type: 'string' },
  canary: { type: 'string' },
  'alert-source': { type: 'string' },
  'alert-matcher': { type: 'string', multiple: true },
  'drain-policy': { type: 'string' },
  'node-timeout': { type: 'string' },
  'stall-timeout': { type: 'string' },
  force: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  watch: { type: 'boolean', short: 'w' },
  'interval-ms': { type: 'string' },
  ...outputOption,
} as const

const docs: Record<string, FlagDoc> = {
  to: { value: 'VERSION', help: 'start: the image version to roll out' },
  'max-unavailable': { value: 'K', help: 'start: at most K nodes down at once', default: 'the coordinator\'s (1)' },
  'failure-domain': { value: 'domain|none', help: 'start: finish one failure domain before the next', default: 'domain' },
  window: { value: "'[DAYS ]HH:MM-HH:MM[ ZONE]'", help: "start: new slots only while a window is open (repeatable; e.g. 'Mon-Fri 22:00-06:00 Europe/Berlin'; no zone: UTC)", default: 'always' },
  at: { value: 'TIME', help: "start: no new slot before TIME (2026-12-07T22:00+01:00, or '[YYYY-MM-DD ]HH:MM[ ZONE]': the next such time)", default: 'now' },
  selector: { value: 'KEY=GLOB,...', help: 'start: only the nodes that match every term (keys: id, domain; e.g. domain=rack-a)', default: 'every enrolled node' },
  canary: { value: 'N', help: 'start: take the N best-ranked nodes first, then pause until: shoal upgrade resume' },
  settle: { value: 'DURATION', help: 'start: after a node comes back, wait this long before the next takes a slot (90s, 5m)', default: '0' },
  'alert-source': { value: 'URL', help: 'start: hold new slots while alerts fire (Alertmanager /api/v2/alerts)' },
  'alert-matcher': { value: 'SELECTOR', help: 'start: which firing alerts hold the wave (Alertmanager syntax, repeatable)', default: 'every alert but Watchdog and InfoInhibitor' },
  'drain-policy': { value: 'halt|force', help: 'start: what a blocked drain does', default: 'halt' },
  'node-timeout': { value: 'DURATION', help: 'start: halt when a node takes longer (90s, 30m, 2h)', default: '30m' },
  'dry-run': { help: 'start: show the order the vote would pick, change nothing' },
  force: { help: 'start: start even a wave the coordinator judges can never finish' },
  'stall-timeout': { value: 'DURATION', help: 'start: halt when nothing moves for this long', default: "the coordinator's" },
  watch: { help: 'status: follow until the wave ends' },
  'interval-ms': { value: 'MS', help: 'status --watch: poll interval', default: '1000' },
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv
  if (!sub || !(subcommands as readonly string[]).includes(sub)) return subcommandHelp(argv, USAGE, [...subcommands], options, { summary, docs })
  const { values, positionals } = parse(rest, options, `shoal upgrade ${sub} ${sub === 'start' ? '--to VERSION [flags]' : '[ID] [flags]'}`, { summary, docs })
  const format = outputFormat(values.output)
  if (positionals.length > (sub === 'start' ? 0 : 1)) throw new ShoalError('usage', `too many arguments: ${positionals.join(' ')} (see: shoal upgrade ${sub} --help)`)
  const id = encodeURIComponent(positionals[0] ?? 'current')

  if (sub === 'start') {
    const body = startBody(values)
    const client = coordinatorClient(values)
    let out: unknown
    try {
      out = await client.call('/v1/waves', body)
    } catch (err) {
      // A refused start is the answer, not an error: every cause, its nodes and its fix
      // (several lines), as the dry run prints them — never cut to the first line.
      if (err instanceof ShoalError && err.code === 'refused' && err.message.startsWith('this wave can never finish')) {
        io.err(`refused: ${err.message}`)
        return 1
      }
      throw err
    }
    if (body.dryRun) {
      const d = answer(DryRun, out, client.url)
      if (format === 'table' || format === 'wide') printDryRun(d, io)
      else io.out(formatted(format, d, () => ''))
      // The dry run refuses what the start would refuse.
      if (d.refused) {
        io.err(`refused: ${d.refusal ?? 'this wave can never finish'}`)
        return 1
      }
      return 0
    }
    const s = answer(WaveStatus, out, client.url)
    if (format !== 'table' && format !== 'wide') io.out(formatted(format, s, () => ''))
    else io.out(`wave ${s.id} started: ${s.nodes.length} node(s) to ${s.target}, at most ${s.maxUnavailable} at a time (failure domain: ${s.failureDomain}); follow it with: shoal upgrade status ${s.id} --watch`)
    return 0
  }

  const client = coordinatorClient(values)
  if (sub === 'status') {
    const intervalMs = values['interval-ms'] === undefined ? 1000 : Number(values['interval-ms'])
    if (!(intervalMs >= 100)) throw new ShoalError('usage', `--interval-ms must be a number >= 100, not "${String(values['interval-ms'])}"`)
    let last = ''
    for (;;) {
      const s = answer(WaveStatus, await client.call(`/v1/waves/${id}`), client.url)
      const text = formatted(format, s, () => renderStatus(s))
      // Live view: print again only when something changed.
      if (text !== last) io.out(text)
      last = text
      if (!values.watch || s.state === 'done' || s.state === 'aborted') return s.state === 'aborted' ? 1 : 0
      await new Promise((r) => setTimeout(r, intervalMs))
    }
  }

  const out = await client.call(`/v1/waves/${id}/${sub}`, {})
  const s = answer(WaveStatus, out, client.url)
  if (format !== 'table' && format !== 'wide') io.out(formatted(format, s, () => ''))
  else if (sub === 'rollback') io.out(`wave ${s.rollbackOf} rolled back: wave ${s.id} takes ${s.nodes.length} node(s) back to ${s.target}`)
  else io.out(`wave ${s.id}: ${s.state}${s.reason ? ` (${s.reason})` : ''}`)
  return 0
}

function answer<S extends import('zod').ZodType>(schema: S, raw: unknown, url: string): import('zod').infer<S> {
  const r = schema.safeParse(raw)
  if (!r.success) throw badAnswer(`the coordinator at ${url}`, r.error.issues[0], `shoal version --coordinator ${url}`)
  return r.data
}

function startBody(values: Record<string, unknown>): { target: string; dryRun: boolean; [k: string]: unknown } {
  const to = values.to as string | undefined
  if (!to) throw new ShoalError('usage', 'start needs --to VERSION (see: shoal upgrade start --help)')
  const body: { target: string; dryRun: boolean; [k: string]: unknown } = { target: to, dryRun: values['dry-run'] === true }
  if (values['max-unavailable'] !== undefined) {
    const k = Number(values['max-unavailable'])
    if (!Number.isInteger(k)) throw new ShoalError('usage', `--max-unavailable must be a whole number, not "${String(values['max-unavailable'])}"`)
    body.maxUnavailable = k
  }
  if (values['failure-domain'] !== undefined) body.failureDomain = values['failure-domain']
  const windows = (values.window as string[] | undefined) ?? []
  for (const w of windows) {
    try {
      parseWindowRule(w) // a bad one is a usage error here, before the coordinator sees it
    } catch (err) {
      throw new ShoalError('usage', (err as Error).message)
    }
  }
  // One plain daily UTC window keeps the form every coordinator and agent knows.
  if (windows.length === 1 && /^\d{2}:\d{2}-\d{2}:\d{2}$/.test(windows[0]!)) body.window = windows[0]
  else if (windows.length) body.windows = windows
  if (values.at !== undefined) body.at = values.at
  if (values.selector !== undefined) body.selector = values.selector
  if (values.canary !== undefined) {
    const n = Number(values.canary)
    if (!Number.isInteger(n) || n < 1) throw new ShoalError('usage', `--canary must be a whole number >= 1, not "${String(values.canary)}"`)
    body.canary = n
  }
  if (values.settle !== undefined) body.settleMs = parseDuration(String(values.settle), '--settle')
  if (values['alert-source'] !== undefined) body.alertSource = values['alert-source']
  const matchers = (values['alert-matcher'] as string[] | undefined) ?? []
  if (matchers.length) {
    for (const m of matchers) parseAlertSelector(m) // a bad one is a usage error here, before the coordinator sees it
    body.alertMatchers = matchers
  }
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
    `  ${p.done}/${p.total} done, ${p.inProgress} in progress, ${p.waiting} waiting, ${p.failed} failed; max unavailable ${s.maxUnavailable}, failure domain ${s.failureDomain}${s.window ? `, window ${s.window}${s.windows ? '' : ' UTC'}` : ''}${s.startAt !== undefined ? `, starts ${new Date(s.startAt).toISOString()}` : ''}${s.settleMs ? `, settle ${Math.round(s.settleMs / 1000)} s` : ''}${s.selector ? `, nodes ${s.selector}` : ''}${s.canary ? `, canary ${s.canary.nodes.join(', ')}${s.canary.passed ? ' (passed)' : ''}` : ''}${s.held && s.state === 'running' ? ' (new slots held back)' : ''}`,
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
  if (d.ranked?.length) {
    io.out('why (docs/vote.md "Ranking"): ok-to-stop, PDB-blocked pods, failure domain, Ceph primaries, PGs, pods, load, id')
    io.out(
      table(
        ['#', 'NODE', 'OK-TO-STOP', 'BLOCKED', 'DOMAIN', 'PRIMARIES', 'PGS', 'PODS', 'LOAD', 'WHY HERE'],
        d.ranked.map((r) => [String(r.position), r.node, r.okToStop ? 'yes' : 'no', String(r.blocked), `${r.domain}${r.domainActive ? ' (under way)' : ''}`, String(r.primaries), String(r.pgs), String(r.pods), r.load.toFixed(2), r.why]),
      ),
    )
  }
  io.out(table(['NODE', 'CANDIDATE', 'GATE', 'IMAGE', 'PHASE', 'DOMAIN', 'WHY'], d.nodes.map((n) => [n.node, n.candidate ? 'yes' : 'no', n.gate, n.image, n.phase, n.domain, n.reasons.filter((r) => !r.startsWith('can never stop: ')).join('; ') || undefined])))
  for (const c of d.never ?? []) io.out(`can never finish: ${c.message} (${c.nodes.length <= 6 ? c.nodes.join(', ') : `${c.nodes.length} nodes`})\n  change: ${c.fix}`)
  if (d.unknown?.length) io.out(`not judged (no Ceph/Kubernetes stop facts published): ${d.unknown.join(', ')}`)
}
