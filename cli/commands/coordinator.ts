/**
 * `shoal coordinator` — run the coordinator (default), or talk to a running one:
 *   shoal coordinator [serve] [--config FILE] [--data-dir DIR] [--images-dir DIR] [--http-port N] [--log-level L] ...
 *   shoal coordinator nodes|pending|audit [-o table|wide|json|yaml]
 *   shoal coordinator approve|reject REQUEST_ID
 *   shoal coordinator assign NODE VERSION | assign --mac MAC VERSION
 *   shoal coordinator remove NODE
 *   shoal coordinator retired | forget-retired NODE   (decommissioned ids; lift a refusal)
 *   shoal coordinator label NODE domain=NAME | domain-   (its failure domain, written into its boot script)
 *   shoal coordinator check|backup|restore (./coordinator-state.ts)
 * Client commands find the coordinator and its admin token like every other command
 * (cli/clients.ts: --coordinator, --admin-token-file, the config context); NODE
 * may be a unique prefix of a node id.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ShoalError } from '../../agent/protocol/errors.js'
import { adminRoutes, AdminNode, AdminPending, AdminRetired } from '../../coordinator/admin-api.js'
import { NodeId } from '../../agent/protocol/node-record.js'
import { AuditEntry } from '../../coordinator/state-store.js'
import {
  CoordinatorConfig,
  coerce,
  configFromEnv,
  defaultCoordinatorConfig,
  mergeConfig,
  parseConfigFile,
  type PartialConfig,
} from '../../coordinator/coordinator-config.js'
import { formatted, outputFormat, outputOption, parse, resolveId, subcommandHelp, table, type FlagDoc, type Options } from '../args.js'
import { badAnswer, coordinatorClient, coordinatorOptions, type CoordinatorClient } from '../clients.js'
import { runState } from './coordinator-state.js'
import type { CliIo } from '../main.js'
import { z } from 'zod'

export const summary = 'run the coordinator (boot, images, enrollment, bootstrap node) or administer it'
export const subcommands = ['serve', 'nodes', 'pending', 'audit', 'approve', 'reject', 'assign', 'remove', 'retired', 'forget-retired', 'label', 'check', 'backup', 'restore', 'operator'] as const

const USAGE = `shoal coordinator [serve] [--config FILE] [--<field> VALUE ...]
       shoal coordinator nodes|pending|audit [--coordinator URL] [--admin-token-file FILE] [-o table|wide|json|yaml]
       shoal coordinator approve|reject REQUEST_ID
       shoal coordinator assign NODE VERSION | assign --mac MAC VERSION
       shoal coordinator remove NODE
       shoal coordinator retired | forget-retired NODE
       shoal coordinator label NODE domain=NAME | domain-
       shoal coordinator check [--data-dir DIR] | backup FILE | restore FILE [--data-dir DIR]
       shoal coordinator operator add NAME --key FILE.pub | remove NAME | list | keygen FILE`

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
const configKeys = Object.keys(CoordinatorConfig.shape) as (keyof CoordinatorConfig)[]
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const

export async function run(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === undefined || sub.startsWith('-') || sub === 'serve') return serve(sub === 'serve' ? rest : argv, io)
  switch (sub) {
    case 'nodes':
    case 'pending':
    case 'audit':
    case 'approve':
    case 'reject':
    case 'assign':
    case 'remove':
    case 'retired':
    case 'forget-retired':
    case 'label':
      return client(sub, rest, io)
    case 'check':
    case 'backup':
    case 'restore':
      return runState(sub, rest, io)
    case 'operator':
      return (await import('../operator-command.js')).operatorCommand(rest, io)
    default:
      return subcommandHelp(argv, USAGE, [...subcommands], {}, { summary })
  }
}

// --- serve -----------------------------------------------------------------------------

const SERVE_USAGE = 'shoal coordinator [serve] [--config FILE] [--log-level LEVEL] [--<field> VALUE ...]'

/** One flag per config field, each with its env var and default (shown by --help). */
function serveOptions(): { options: Options; docs: Record<string, FlagDoc> } {
  const options: Options = { config: { type: 'string' }, 'log-level': { type: 'string' } }
  const docs: Record<string, FlagDoc> = {
    config: { value: 'FILE', help: 'JSON config file (fields as below, camelCase)' },
    'log-level': { value: 'LEVEL', help: LOG_LEVELS.join('|'), env: 'SHOAL_LOG_LEVEL', default: 'info' },
  }
  for (const k of configKeys) {
    const d = (defaultCoordinatorConfig as Record<string, unknown>)[k]
    options[kebab(k)] = { type: typeof d === 'boolean' ? 'boolean' : 'string' }
    docs[kebab(k)] = {
      value: typeof d === 'number' ? 'N' : 'VALUE',
      env: `SHOAL_COORDINATOR_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`,
      default: d === undefined ? 'unset' : Array.isArray(d) ? d.join(',') : String(d),
      help: `config field ${k}`,
    }
  }
  return { options, docs }
}

/** The log level: --log-level > SHOAL_LOG_LEVEL > info. */
export function logLevelFrom(flag: unknown, env: Record<string, string | undefined> = process.env): (typeof LOG_LEVELS)[number] {
  const level = (flag as string | undefined) ?? env.SHOAL_LOG_LEVEL ?? 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new ShoalError('usage', `--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${level}"`)
  return level as (typeof LOG_LEVELS)[number]
}

export async function loadConfig(argv: string[], env: Record<string, string | undefined> = process.env): Promise<CoordinatorConfig> {
  return (await loadServeArgs(argv, env)).config
}

async function loadServeArgs(argv: string[], env: Record<string, string | undefined>): Promise<{ config: CoordinatorConfig; logLevel: string }> {
  const { options, docs } = serveOptions()
  const { values, positionals } = parse(argv, options, SERVE_USAGE, { summary: 'run the coordinator; every field is a flag, an env var or a config file field (flags > env > file > default)', docs, subcommands: [...subcommands] })
  if (positionals.length) throw new ShoalError('usage', `unexpected argument "${positionals[0]}" (see: shoal coordinator --help)`)
  const logLevel = logLevelFrom(values['log-level'], env)
  let file: PartialConfig = {}
  const path = values.config as string | undefined
  if (path) {
    const text = await readFile(path, 'utf8').catch((err) => {
      throw new ShoalError('usage', `cannot read --config ${path}: ${(err as Error).message}`)
    })
    file = parseConfigFile(text, path)
  }
  const flags: Record<string, unknown> = {}
  for (const k of configKeys) {
    const v = values[kebab(k)]
    if (v === undefined) continue
    flags[k] = typeof v === 'boolean' ? v : coerce(k, v as string, `--${kebab(k)}`)
  }
  try {
    return { config: mergeConfig(file, configFromEnv(env), flags as PartialConfig), logLevel }
  } catch (err) {
    // A bad value given on the command line, in the environment or the file is a usage error (exit 2).
    if (err instanceof ShoalError && err.code === 'config') throw new ShoalError('usage', err.message)
    throw err
  }
}

async function serve(argv: string[], io: CliIo): Promise<number> {
  const { config, logLevel } = await loadServeArgs(argv, process.env)
  const { pino } = await import('pino')
  const { Coordinator } = await import('../../coordinator/coordinator.js')
  const log = pino({ level: logLevel })
  await mkdir(config.dataDir, { recursive: true })
  const coordinator = new Coordinator(config, { log })
  await coordinator.start()
  if (coordinator.createdAdminToken) {
    const file = join(config.dataDir, 'admin-token')
    await writeFile(file, coordinator.createdAdminToken + '\n', { mode: 0o600 })
    io.err(`admin token written to ${file} (the CLI reads it from there)`)
  }
  io.err(`coordinator of cluster ${coordinator.state.clusterId} on ${coordinator.url}; DHT bootstrap ${coordinator.bootstrapAddress ?? 'disabled'}; images from ${config.imagesDir}`)
  io.err(`${config.approval === 'off' ? 'warning: ' : ''}${coordinator.enrollmentTrust}`)
  io.err(`cluster key ${coordinator.state.publicKey}; iPXE: chain ${config.publicUrl ?? coordinator.url}/boot/ipxe?mac=\${net0/mac}`)
  const dhcp = coordinator.dhcpPlan
  if (dhcp) {
    const what = dhcp.mode === 'range' ? `leases ${dhcp.range!.start}-${dhcp.range!.end}` : `proxyDHCP on ${dhcp.network} beside the site's DHCP server`
    if (coordinator.dhtUnreachable) io.err(`warning: ${coordinator.dhtUnreachable}`)
    io.err(`DHCP (dnsmasq) on ${dhcp.interface}: ${what}; iPXE boots ${dhcp.bootUrl}; plain PXE ROMs get ${dhcp.ipxe ? [dhcp.ipxe.bios, dhcp.ipxe.efi].filter(Boolean).join(' / ') + ' by TFTP' : `nothing (no iPXE binaries in ${config.dhcpIpxeDir}: apt-get install ipxe)`}`)
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await coordinator.close()
  return 0
}

// --- client ----------------------------------------------------------------------------

/** "node-0001: MAC a→b, +1/-1 parts" for a pending known id with changed hardware; "new" otherwise. */
function claims(p: AdminPending): string {
  if (!p.knownId) return 'new machine'
  const c = p.changes
  const parts = [c?.mac ? `MAC ${c.mac.was.join(',') || '-'}→${c.mac.now}` : '', c && (c.added.length || c.removed.length) ? `parts +${c.added.length}/-${c.removed.length}` : ''].filter(Boolean)
  return `${p.knownId}: ${parts.join(', ')}`
}

const CLIENT_USAGE: Record<string, string> = {
  nodes: 'shoal coordinator nodes [-o table|wide|json|yaml]',
  pending: 'shoal coordinator pending [-o table|wide|json|yaml]',
  audit: 'shoal coordinator audit [--kind KIND] [--limit N] [-o table|wide|json|yaml]',
  approve: 'shoal coordinator approve REQUEST_ID',
  reject: 'shoal coordinator reject REQUEST_ID',
  assign: 'shoal coordinator assign NODE VERSION | assign --mac MAC VERSION',
  remove: 'shoal coordinator remove NODE',
  retired: 'shoal coordinator retired [-o table|wide|json|yaml]',
  'forget-retired': 'shoal coordinator forget-retired NODE',
  label: 'shoal coordinator label NODE domain=NAME | domain-',
}

async function client(sub: string, argv: string[], io: CliIo): Promise<number> {
  const usage = CLIENT_USAGE[sub]!
  const { values, positionals } = parse(
    argv,
    { ...coordinatorOptions, mac: { type: 'string' }, limit: { type: 'string' }, kind: { type: 'string' }, ...outputOption },
    usage,
    {
      docs: {
        mac: { value: 'MAC', help: 'assign by MAC (a machine not enrolled yet)' },
        limit: { value: 'N', help: 'newest N audit entries', default: 'the server\'s' },
        kind: { value: 'KIND', help: 'only audit entries of this kind (enroll, boot, assign, ...)' },
      },
    },
  )
  const format = outputFormat(values.output)
  const c = coordinatorClient(values, { badRequest: 'usage' })
  const call = c.call
  const need = (n: number, what: string) => {
    if (positionals.length !== n) throw new ShoalError('usage', `${sub} needs ${what} (see: shoal coordinator ${sub} --help)`)
  }
  const answer = <S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> => {
    const r = schema.safeParse(raw)
    if (!r.success) throw badAnswer(`the coordinator at ${c.url}`, r.error.issues[0], `shoal version --coordinator ${c.url}`)
    return r.data
  }

  switch (sub) {
    case 'nodes': {
      need(0, 'no arguments')
      const { nodes } = answer(z.object({ nodes: z.array(AdminNode) }), await call(adminRoutes.nodes))
      io.out(formatted(format, nodes, (wide) => table(['ID', 'MACS', 'IMAGE', 'SERIAL', 'ENROLLED', 'CLONES REFUSED', 'KEY'], nodes.map((n) => [n.id, n.macs.join(','), n.assignedImage ?? '(default)', n.serial, new Date(n.lastEnrolledAt).toISOString(), n.cloneRefusals ? `${n.cloneRefusals.count} (last from ${n.cloneRefusals.lastMac})` : 0, wide ? n.key : `${n.key.slice(0, 16)}…`]))))
      return 0
    }
    case 'pending': {
      need(0, 'no arguments')
      const { pending } = answer(z.object({ pending: z.array(AdminPending) }), await call(adminRoutes.pending))
      io.out(formatted(format, pending, () => table(['REQUEST', 'STATE', 'MAC', 'PROPOSED ID', 'REQUESTED', 'CLAIMS', 'MACHINE'], pending.map((p) => [p.requestId, p.state, p.mac, p.proposedId, new Date(p.requestedAt).toISOString(), claims(p), [p.inventory.vendor, p.inventory.product].filter(Boolean).join(' ') || undefined]))))
      return 0
    }
    case 'audit': {
      need(0, 'no arguments')
      const q = new URLSearchParams()
      if (values.limit) q.set('limit', values.limit as string)
      if (values.kind) q.set('kind', values.kind as string)
      const { entries } = answer(z.object({ entries: z.array(AuditEntry) }), await call(`${adminRoutes.audit}?${q}`))
      io.out(formatted(format, entries, (wide) => table(['TIME', 'KIND', 'NODE', 'MAC', 'IMAGE', 'REMOTE', 'DETAIL'], entries.map((e) => [new Date(e.at).toISOString(), e.kind, e.node, e.mac, e.image, e.remote, e.detail ? (wide ? JSON.stringify(e.detail) : JSON.stringify(e.detail).slice(0, 80)) : undefined]))))
      return 0
    }
    case 'approve':
    case 'reject': {
      need(1, 'a REQUEST_ID (see: shoal coordinator pending)')
      const p = answer(AdminPending, await call(sub === 'approve' ? adminRoutes.approve : adminRoutes.reject, { requestId: positionals[0] }))
      io.out(formatted(format, p, () => `${p.requestId}: ${p.state} (MAC ${p.mac}); the node gets its certificate on its next retry`))
      return 0
    }
    case 'assign': {
      const mac = values.mac as string | undefined
      if (mac) need(1, 'VERSION with --mac')
      else need(2, 'NODE and VERSION')
      const body = mac ? { mac, image: positionals[0] } : { node: await enrolledId(c, positionals[0]!), image: positionals[1] }
      const a = await call(adminRoutes.assign, body)
      io.out(formatted(format, a, () => `${mac ?? body.node} boots image ${body.image} from its next boot`))
      return 0
    }
    case 'label': {
      need(2, 'NODE and domain=NAME (or domain- to clear it)')
      const node = await enrolledId(c, positionals[0]!)
      const m = /^domain(?:=(.+)|-)$/.exec(positionals[1]!)
      if (!m) throw new ShoalError('usage', `label: "${positionals[1]}" is not domain=NAME or domain- (e.g. shoal coordinator label ${node} domain=rack-3)`)
      const r = (await call(adminRoutes.label, { node, domain: m[1] ?? null })) as { domain: string | null }
      io.out(formatted(format, r, () => (r.domain ? `${node}: failure domain ${r.domain} from its next boot (shoal.domain=${r.domain} in its boot script)` : `${node}: domain label cleared (from its next boot: kernel parameter, LLDP, or default)`)))
      return 0
    }
    case 'retired': {
      need(0, 'no arguments')
      const { retired } = answer(z.object({ retired: z.array(AdminRetired) }), await call(adminRoutes.retired))
      io.out(
        formatted(format, retired, () =>
          retired.length
            ? table(['ID', 'IF IT RETURNS', 'RETIRED', 'BY', 'WAVE', 'MACS', 'REFUSED'], retired.map((r) => [r.id, r.returning === 'refuse' ? 'refused' : 'new machine', new Date(r.at).toISOString(), r.by, r.wave, r.macs.join(','), r.refused ? `${r.refused.count} (last from ${r.refused.lastMac})` : 0]))
            : 'no retired ids (shoal node decommission retires one)',
        ),
      )
      return 0
    }
    case 'forget-retired': {
      need(1, 'a NODE id (see: shoal coordinator retired)')
      const node = positionals[0]!
      if (!NodeId.safeParse(node).success) throw new ShoalError('usage', `"${node}" is not a node id (letters, digits, . _ - only; see: shoal coordinator retired)`)
      answer(z.object({ forgotten: z.string() }), await call(adminRoutes.forgetRetired, { node }))
      io.out(`${node} is no longer retired: its machine enrolls at its next try`)
      return 0
    }
    case 'remove': {
      need(1, 'a NODE id')
      const node = await enrolledId(c, positionals[0]!)
      await call(adminRoutes.remove, { node })
      io.out(`${node} removed from the roster`)
      return 0
    }
  }
  return 2
}

/** An enrolled node's id from an id or a unique prefix (ambiguous: exit 2 with the candidates); unknown ids go to the coordinator as typed, which says so. */
async function enrolledId(c: CoordinatorClient, given: string): Promise<string> {
  const r = z.object({ nodes: z.array(z.object({ id: z.string() })) }).safeParse(await c.call(adminRoutes.nodes))
  if (!r.success) return given
  return resolveId(given, r.data.nodes.map((n) => n.id)) ?? given
}
