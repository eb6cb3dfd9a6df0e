/**
 * `shoal inventory [NODE]`: the full hardware inventory of this machine (no NODE:
 * collected here, systeminformation in a child process) or of NODE, asked of an agent's
 * API (`GET /v1/nodes/{id}/inventory`, answered by that node or from a cache with its age).
 */
import { collectInventory, InventoryResponse, type Inventory } from '../../agent/inventory/index.js'
import { ShoalError } from '../../agent/protocol/errors.js'
import { formatted, outputFormat, parse, positionals, table } from '../args.js'
import { agentClient, agentOptions } from '../clients.js'
import type { CliIo } from '../main.js'
import { withNodeId } from './node.js'

export const summary = 'hardware inventory of this machine, or of NODE (id or unique prefix) via an agent'
const usage = 'shoal inventory [NODE] [--agent HOST:PORT] [--timeout-ms MS] [-o table|wide|json|yaml]'

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals: args } = parse(argv, { ...agentOptions, 'timeout-ms': { type: 'string', default: '10000' } }, usage, { summary })
  positionals(args, 0, 1, usage)
  const format = outputFormat(values.output)
  const timeoutMs = Number(values['timeout-ms'])
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new ShoalError('usage', `--timeout-ms must be a positive integer, not "${values['timeout-ms']}"`)
  const given = args[0]
  const { client } = agentClient(values, timeoutMs)
  try {
    if (given === undefined) {
      const inv = await collectInventory({ timeoutMs })
      io.out(formatted(format, { inventory: inv, ageMs: 0, source: 'local' }, () => render(inv, 'collected on this machine')))
      return 0
    }
    const raw = await withNodeId(client, given, (id) => client.inventory(id))
    const parsed = InventoryResponse.safeParse(raw)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      throw new ShoalError('agent-error', `the agent at ${client.address} answered with an inventory this CLI does not understand (field ${issue.path.join('.') || '(top)'}: ${issue.message}); compare versions with: shoal version --agent ${client.address}`)
    }
    const r = parsed.data
    const stale = (raw as { stale?: boolean; staleReason?: string }).stale ? ` (stale: ${(raw as { staleReason?: string }).staleReason ?? 'refresh failed'})` : ''
    io.out(formatted(format, raw, () => render(r.inventory, `from ${r.source}, ${Math.round(r.ageMs / 1000)} s old${stale}`)))
    return 0
  } finally {
    await client.close()
  }
}

const GiB = 2 ** 30
function bytes(n: number | undefined): string | undefined {
  if (n === undefined) return undefined
  if (n >= 1e12) return `${(n / 1e12).toFixed(n >= 1e13 ? 0 : 1)} TB`
  if (n >= 1e9) return `${Math.round(n / 1e9)} GB`
  return `${Math.round(n / 1e6)} MB`
}
const join = (...parts: (string | number | undefined)[]) => parts.filter((p) => p !== undefined && p !== '').join(' ') || 'unknown'

export function render(inv: Inventory, origin: string): string {
  const L: string[] = []
  const serial = (s: string | undefined) => (s ? `(serial ${s})` : undefined)
  L.push(`host      ${inv.hostname ?? 'unknown'}  — ${origin}, collected in ${Math.round(inv.durationMs)} ms`)
  L.push(`system    ${join(inv.system.vendor, inv.system.product, serial(inv.system.serial), inv.system.virtual ? '[virtual]' : undefined)}`)
  L.push(`board     ${join(inv.board.vendor, inv.board.product, serial(inv.board.serial))}`)
  L.push(`bios      ${join(inv.bios.vendor, inv.bios.version, inv.bios.date ? `(${inv.bios.date})` : undefined)}`)
  const cpu = inv.cpu
  L.push(`cpu       ${join(cpu.model, cpu.sockets ? `— ${cpu.sockets} socket(s)` : undefined, cpu.cores ? `${cpu.cores} cores` : undefined, cpu.threads ? `${cpu.threads} threads` : undefined)}`)
  const modules = inv.memory.modules.length
  L.push(`memory    ${join(inv.memory.totalBytes ? `${Math.round(inv.memory.totalBytes / GiB)} GiB` : undefined, modules ? `in ${modules} module(s)` : undefined)}`)
  if (inv.os) L.push(`os        ${join(inv.os.distro, inv.os.release, inv.os.kernel ? `kernel ${inv.os.kernel}` : undefined, inv.os.arch)}`)
  L.push('', `DISKS (${inv.disks.length})`)
  if (inv.disks.length) L.push(table(['NAME', 'TYPE', 'SIZE', 'MODEL', 'SERIAL', 'WWN'], inv.disks.map((d) => [d.name, d.type, bytes(d.sizeBytes), d.model, d.serial, d.wwn])))
  L.push('', `NICS (${inv.nics.length})`)
  if (inv.nics.length) L.push(table(['NAME', 'MAC', 'PERMANENT MAC', 'SPEED', 'LINK'], inv.nics.map((n) => [n.name, n.mac, n.permanentMac, n.speedMbps ? `${n.speedMbps} Mb/s` : undefined, n.link])))
  if (modules) {
    L.push('', `MEMORY MODULES (${modules})`)
    L.push(table(['SLOT', 'SIZE', 'SPEED', 'MANUFACTURER', 'PART', 'SERIAL'], inv.memory.modules.map((m) => [m.slot, m.sizeBytes ? `${Math.round(m.sizeBytes / GiB)} GiB` : undefined, m.speedMTs ? `${m.speedMTs} MT/s` : undefined, m.manufacturer, m.part, m.serial])))
  }
  if (inv.gpus.length) {
    L.push('', `GPUS (${inv.gpus.length})`)
    L.push(table(['VENDOR', 'MODEL', 'VRAM', 'BUS'], inv.gpus.map((g) => [g.vendor, g.model, g.vramMB ? `${g.vramMB} MB` : undefined, g.bus])))
  }
  if (inv.unknown.length) L.push('', `unknown: ${inv.unknown.join(', ')}`)
  for (const w of inv.warnings) L.push(`warning: ${w}`)
  return L.join('\n')
}
