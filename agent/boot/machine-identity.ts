/**
 * The boot agent's fingerprint: agent/fingerprint's collectors read /sys, resolveIdentity
 * turns the components into an id (with no known fleet at boot: the coordinator resolves
 * against every machine it enrolled and answers with the authoritative id), and a small
 * inventory summary from the same read.
 */
import { readFile } from 'node:fs/promises'
import type { EnrollFingerprint } from '../protocol/enroll/index.js'
import { componentsFromHardware } from '../fingerprint/hardware-components.js'
import { readSysfsHardware } from '../fingerprint/read-sysfs.js'
import { resolveIdentity } from '../fingerprint/resolve-identity.js'
import type { InventorySummary } from '../protocol/node-record.js'

export interface MachineIdentity {
  fingerprint: EnrollFingerprint
  inventory: InventorySummary
  /** One entry per component, for the console: what the id was derived from. */
  evidence: string[]
  /** Sources that could not be read (named by agent/fingerprint). */
  unreadable: string[]
}

export async function readMachineIdentity(sysfsRoot = '/sys', procRoot = '/proc'): Promise<MachineIdentity> {
  // A generous deadline: at boot nothing else waits, and a source cut short (seen at 3 s in
  // an emulated machine on a loaded host) would give the machine a different id.
  const hw = await readSysfsHardware({ sysfsRoot, procfsRoot: procRoot, sourceTimeoutMs: 60_000 })
  const { components } = componentsFromHardware(hw)
  const r = resolveIdentity(components)
  const memKb = /MemTotal:\s+(\d+)/.exec(await readFile(`${procRoot}/meminfo`, 'utf8').catch(() => ''))?.[1]
  const inventory: InventorySummary = {
    vendor: hw.dmi.sysVendor?.slice(0, 128),
    product: hw.dmi.productName?.slice(0, 128),
    cpuModel: hw.cpu.model?.slice(0, 128),
    cpuCores: hw.cpu.threads,
    memoryBytes: memKb ? Number(memKb) * 1024 : undefined,
    disks: hw.disks.length,
    diskBytes: hw.disks.reduce((s, d) => s + (d.sizeBytes ?? 0), 0),
    nics: hw.nics.length,
  }
  for (const k of Object.keys(inventory) as (keyof InventorySummary)[]) if (inventory[k] === undefined) delete inventory[k]
  return {
    fingerprint: { id: r.id, comps: r.comps },
    inventory,
    evidence: r.components.filter((c) => c.kept).map((c) => `${c.kind}${c.label ? `(${c.label})` : ''}=${c.value}`),
    unreadable: hw.unknown,
  }
}
