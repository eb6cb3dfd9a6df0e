/**
 * Synthetic machines for the demo, tests and benchmark: a stable fingerprint-style id and
 * a plausible inventory summary per index, the same on every run.
 */
import { createHash } from 'node:crypto'
import type { InventorySummary } from '../../agent/protocol/node-record.js'

const models = [
  { vendor: 'Dell Inc.', product: 'PowerEdge R640', cpuModel: 'Intel Xeon Silver 4214', cpuCores: 24 },
  { vendor: 'Supermicro', product: 'SYS-1029P-WTR', cpuModel: 'Intel Xeon Gold 6230', cpuCores: 40 },
  { vendor: 'HPE', product: 'ProLiant DL360 Gen10', cpuModel: 'Intel Xeon Silver 4210R', cpuCores: 20 },
  { vendor: 'Lenovo', product: 'ThinkSystem SR630', cpuModel: 'AMD EPYC 7302P', cpuCores: 16 },
]

export interface SyntheticMachine {
  id: string
  domain: string
  inventory: InventorySummary
}

/** Machine `index` of a synthetic cluster; ids look like DMI UUIDs, racks of 4. */
export function syntheticMachine(index: number, cluster = 'demo'): SyntheticMachine {
  const h = createHash('sha256').update(`shoal-synthetic/${cluster}/${index}`).digest('hex')
  const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
  const m = models[index % models.length]!
  const disks = 2 + (index % 3) * 2
  return {
    id,
    domain: `rack-${Math.floor(index / 4) + 1}`,
    inventory: {
      ...m,
      memoryBytes: (64 + 64 * (index % 4)) * 2 ** 30,
      disks,
      diskBytes: disks * 1.92e12,
      nics: 2,
      gpus: 0,
    },
  }
}
