/**
 * Turns what read-sysfs found into identity components (pure). Every value found is
 * returned, junk included, so `shoal fingerprint` can say why each was kept or dropped;
 * screening happens in resolve-identity.ts.
 */
import type { Component } from './component.js'
import { isJunkValue } from './junk-values.js'
import type { SysfsHardware } from './read-sysfs.js'

export interface HardwareComponents {
  components: Component[]
  /** Devices that offered no identity value at all ("sdb: no serial or WWN"). */
  skipped: { label: string; reason: string }[]
}

export function componentsFromHardware(hw: SysfsHardware): HardwareComponents {
  const components: Component[] = []
  const skipped: { label: string; reason: string }[] = [...hw.skipped]
  const dmi = 'sysfs:class/dmi/id/'
  if (hw.dmi.productUuid) components.push({ kind: 'uuid', value: hw.dmi.productUuid, source: dmi + 'product_uuid' })
  if (hw.dmi.productSerial) components.push({ kind: 'sys', value: hw.dmi.productSerial, source: dmi + 'product_serial' })
  if (hw.dmi.boardSerial) components.push({ kind: 'board', value: hw.dmi.boardSerial, source: dmi + 'board_serial' })
  if (hw.dmi.chassisSerial) components.push({ kind: 'chassis', value: hw.dmi.chassisSerial, source: dmi + 'chassis_serial' })

  for (const d of hw.disks) {
    // WWN first (IEEE-registered, unique by construction), else the serial; a junk WWN
    // (all-zero EUI on cheap NVMe) falls back to the serial.
    const options = [
      d.wwid !== undefined ? { value: d.wwid, source: d.wwidSource! } : undefined,
      d.serial !== undefined ? { value: d.serial, source: d.serialSource! } : undefined,
    ].filter((o): o is { value: string; source: string } => o !== undefined)
    const pick = options.find((o) => !isJunkValue('disk', o.value)) ?? options[0]
    if (pick) components.push({ kind: isRegisteredWwn(pick.value) ? 'wwn' : 'disk', value: pick.value, source: 'sysfs:' + pick.source, label: d.name })
    else skipped.push({ label: d.name, reason: 'disk exposes no serial or WWN' })
  }
  for (const n of hw.nics) {
    if (n.permanentMac) components.push({ kind: 'nic', value: n.permanentMac, source: 'sysfs:' + n.macSource, label: n.name })
  }
  hw.dimms.forEach((m, i) => {
    const label = m.locator ?? `module ${i}`
    if (m.serial) components.push({ kind: 'dimm', value: `${m.manufacturer ?? ''}/${m.serial}`, source: 'sysfs:firmware/dmi/entries (type 17)', label })
    else skipped.push({ label, reason: 'memory module has no serial' })
  })
  hw.cpu.ppins.forEach((p, i) => components.push({ kind: 'ppin', value: p, source: 'sysfs:devices/system/cpu/*/topology/ppin', label: `package ${i}` }))
  if (hw.cpu.model) components.push({ kind: 'cpu', value: hw.cpu.model, source: hw.cpu.modelSource === 'cpuinfo' ? 'procfs:cpuinfo' : 'sysfs:' + hw.cpu.modelSource })
  return { components, skipped }
}

/** naa./eui. (IEEE-registered) and nvme. (PCI vendor id + serial + model) names; t10. is only vendor + model + serial. */
export function isRegisteredWwn(v: string): boolean {
  return /^(naa|eui|nvme)\./i.test(v.trim())
}
