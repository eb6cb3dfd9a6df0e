/**
 * The few inventory figures that travel in every NodeRecord (the protocol's
 * InventorySummary): enough for `shoal nodes` and for ranking, small enough to gossip.
 * A section that could not be read is left out, never reported as zero.
 */
import { InventorySummary } from '../protocol/node-record.js'
import type { Inventory } from './inventory.js'

const cap = (s: string | undefined) => (s === undefined || s === '' ? undefined : s.slice(0, 128))

export function summarizeInventory(inv: Inventory): InventorySummary {
  const unknown = new Set(inv.unknown)
  const memFromModules = inv.memory.modules.reduce((n, m) => n + (m.sizeBytes ?? 0), 0)
  const out: InventorySummary = {
    vendor: cap(inv.system.vendor ?? inv.board.vendor),
    product: cap(inv.system.product ?? inv.board.product),
    cpuModel: cap(inv.cpu.model),
    cpuCores: inv.cpu.cores,
    memoryBytes: inv.memory.totalBytes ?? (memFromModules > 0 ? memFromModules : undefined),
    disks: unknown.has('disks') ? undefined : inv.disks.length,
    diskBytes: unknown.has('disks') ? undefined : inv.disks.reduce((n, d) => n + (d.sizeBytes ?? 0), 0),
    nics: unknown.has('nics') ? undefined : inv.nics.length,
    gpus: unknown.has('gpus') ? undefined : inv.gpus.length,
  }
  for (const k of Object.keys(out) as (keyof InventorySummary)[]) if (out[k] === undefined) delete out[k]
  return InventorySummary.parse(out)
}
