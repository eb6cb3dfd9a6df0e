/**
 * `shoal coordinator` — run the coordinator (default), or talk to a running one:
 *   shoal coordinator [serve] [--config FILE] [--data-dir DIR] [--images-dir DIR] [--http-port N] ...
 *   shoal coordinator nodes|pending|audit [-o table|json]
 *   shoal coordinator approve|reject REQUEST_ID
 *   shoal coordinator assign NODE VERSION | assign --mac MAC VERSION
 *   shoal coordinator remove NODE
 *   shoal coordinator check|backup|restore (./coordinator-state.ts)
 * Client commands find the coordinator with --url (or SHOAL_COORDINATOR_URL, default
 * http://127.0.0.1:8080) and the admin token with --admin-token (or SHOAL_ADMIN_TOKEN, or
 * the file <data-dir>/admin-token the coordinator wrote on first start).
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ShoalError } from '../../../agent/protocol/errors.js'
import { adminRoutes, AdminNode, AdminPending } from '../../admin-api.js'
import { AuditEntry } from '../../state-store.js'
import { adminCall, adminToken } from '../../waves/wave-client.js'
import {
  CoordinatorConfig,
  coerce,
  configFromEnv,
  defaultCoordinatorConfig,
  mergeConfig,
  parseConfigFile,
  type PartialConfig,
} from '../../coordinator-config.js'
import { outputFormat, parse, table, type Options } from '../args.js'
import { runState } from './coordinator-state.js'
import type { CliIo } from '../main.js'
import { z } from 'zod'

export const summary = 'run the coordinator (boot, images, enrollment, bootstrap node) or administer it'

const USAGE = `shoal coordinator [serve] [--config FILE] [--<field> VALUE ...]
       shoal coordinator nodes|pending|audit [--url URL] [--admin-token T] [-o table|json]
       shoal coordinator approve|reject REQUEST_ID
       shoal coordinator assign NODE VERSION | assign --mac MAC VERSION
       shoal coordinator remove NODE
       shoal coordinator check [--data-dir DIR] | backup FILE | restore FILE [--data-dir DIR]
       shoal coordinator operator add NAME --key FILE.pub | remove NAME | list | keygen FILE`

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
const configKeys = Object.keys(CoordinatorConfig.shape) as (keyof CoordinatorConfig)[]

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
      return client(sub, rest, io)
    case 'check':
    case 'backup':
    case 'restore':
      return runState(sub, rest, io)
    case 'operator':
      return (await import('../operator-command.js')).operatorCommand(rest, io)
    case 'help':
      io.out(USAGE)
      return 0
    default:
      throw new ShoalError('usage', `unknown subcommand "${sub}"\nusage: ${USAGE}`)
  }
}

// --- serve -----------------------------------------------------------------------------

export async function loadConfig(argv: string[], env: Record<string, string | undefined> = process.env): Promise<CoordinatorConfig> {
  const options: Options = { config: { type: 'string' } }
  for (const k of configKeys) options[kebab(k)] = { type: typeof defaultCoordinatorConfig[k] === 'boolean' ? 'boolean' : 'string' }
  const { values, positionals } = parse(argv, options, USAGE)
  if (positionals.length) throw new ShoalError('usage', `unexpected argument "${positionals[0]}"\nusage: ${USAGE}`)
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
    return mergeConfig(file, configFromEnv(env), flags as PartialConfig)
  } catch (err) {
    // A bad value given on the command line, in the environment or the file is a usage error (exit 2).
    if (err instanceof ShoalError && err.code === 'config') throw new ShoalError('usage', err.message)
    throw err
  }
}

async function serve(argv: string[], io: CliIo): Promise<number> {
  const config = await loadConfig(argv)
  const { pino } = await import('pino')
  const { Coordinator } = await import('../../coordinator.js')
  const log = pino({ level: process.env.SHOAL_LOG_LEVEL ?? 'info' })
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

async function client(sub: string, argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      url: { type: 'string' },
      'admin-token': { type: 'string' },
      'data-dir': { type: 'string' },
      mac: { type: 'string' },
      limit: { type: 'string' },
      kind: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'table' },
    },
    USAGE,
  )
  const format = outputFormat(values.output)
  const url = ((values.url as string | undefined) ?? process.env.SHOAL_COORDINATOR_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '')
  const token = await adminToken(values['admin-token'] as string | undefined, (values['data-dir'] as string | undefined) ?? process.env.SHOAL_COORDINATOR_DATA_DIR ?? defaultCoordinatorConfig.dataDir)
  const call = (path: string, body?: unknown) => adminCall(url, token, path, body, { badRequest: 'usage', urlFlag: '--url', refusedCode: 'failed' })
  const need = (n: number, what: string) => {
    if (positionals.length !== n) throw new ShoalError('usage', `${sub} needs ${what}\nusage: ${USAGE}`)
  }

  switch (sub) {
    case 'nodes': {
      need(0, 'no arguments')
      const { nodes } = z.object({ nodes: z.array(AdminNode) }).parse(await call(adminRoutes.nodes))
      if (format === 'json') io.out(JSON.stringify(nodes, null, 2))
      else io.out(table(['ID', 'MACS', 'IMAGE', 'SERIAL', 'ENROLLED', 'CLONES REFUSED', 'KEY'], nodes.map((n) => [n.id, n.macs.join(','), n.assignedImage ?? '(default)', n.serial, new Date(n.lastEnrolledAt).toISOString(), n.cloneRefusals ? `${n.cloneRefusals.count} (last from ${n.cloneRefusals.lastMac})` : 0, `${n.key.slice(0, 16)}…`])))
      return 0
    }
    case 'pending': {
      need(0, 'no arguments')
      const { pending } = z.object({ pending: z.array(AdminPending) }).parse(await call(adminRoutes.pending))
      if (format === 'json') io.out(JSON.stringify(pending, null, 2))
      else io.out(table(['REQUEST', 'STATE', 'MAC', 'PROPOSED ID', 'REQUESTED', 'CLAIMS', 'MACHINE'], pending.map((p) => [p.requestId, p.state, p.mac, p.proposedId, new Date(p.requestedAt).toISOString(), claims(p), [p.inventory.vendor, p.inventory.product].filter(Boolean).join(' ') || undefined])))
      return 0
    }
    case 'audit': {
      need(0, 'no arguments')
      const q = new URLSearchParams()
      if (values.limit) q.set('limit', values.limit as string)
      if (values.kind) q.set('kind', values.kind as string)
      const { entries } = z.object({ entries: z.array(AuditEntry) }).parse(await call(`${adminRoutes.audit}?${q}`))
      if (format === 'json') io.out(JSON.stringify(entries, null, 2))
      else io.out(table(['TIME', 'KIND', 'NODE', 'MAC', 'IMAGE', 'REMOTE', 'DETAIL'], entries.map((e) => [new Date(e.at).toISOString(), e.kind, e.node, e.mac, e.image, e.remote, e.detail ? JSON.stringify(e.detail).slice(0, 80) : undefined])))
      return 0
    }
    case 'approve':
    case 'reject': {
      need(1, 'a REQUEST_ID (see: shoal coordinator pending)')
      const p = AdminPending.parse(await call(sub === 'approve' ? adminRoutes.approve : adminRoutes.reject, { requestId: positionals[0] }))
      io.out(format === 'json' ? JSON.stringify(p) : `${p.requestId}: ${p.state} (MAC ${p.mac}); the node gets its certificate on its next retry`)
      return 0
    }
    case 'assign': {
      const mac = values.mac as string | undefined
      if (mac) need(1, 'VERSION with --mac')
      else need(2, 'NODE and VERSION')
      const body = mac ? { mac, image: positionals[0] } : { node: positionals[0], image: positionals[1] }
      const a = await call(adminRoutes.assign, body)
      io.out(format === 'json' ? JSON.stringify(a) : `${mac ?? positionals[0]} boots image ${body.image} from its next boot`)
      return 0
    }
    case 'remove': {
      need(1, 'a NODE id')
      await call(adminRoutes.remove, { node: positionals[0] })
      io.out(`${positionals[0]} removed from the roster`)
      return 0
    }
  }
  return 2
}
