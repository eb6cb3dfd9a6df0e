/**
 * What /sys alone says about a machine, as Inventory fields (pure). The initramfs has only
 * this; collectInventory adds systeminformation on top; the simulator's synthetic machines
 * use it so their inventories look exactly like a collected one.
 */
import type { SysfsHardware } from '../fingerprint/read-sysfs.js'
import { emptyInventory, type Disk, type Inventory } from './inventory.js'

/** An Inventory from /sys alone (no OS, no GPUs: those need systeminformation). */
export function inventoryFromSysfs(hw: SysfsHardware, collectedAt: number): Inventory {
  const inv = emptyInventory(collectedAt)
  fromSysfs(inv, hw)
  return inv
}

/** Fills an inventory's fields from /sys. */
export function fromSysfs(inv: Inventory, hw: SysfsHardware): void {
  const d = hw.dmi
  Object.assign(inv.system, clean({ vendor: d.sysVendor, product: d.productName, version: d.productVersion, serial: d.productSerial, uuid: d.productUuid }))
  Object.assign(inv.board, clean({ vendor: d.boardVendor, product: d.boardName, serial: d.boardSerial }))
  Object.assign(inv.chassis, clean({ vendor: d.chassisVendor, type: d.chassisType, serial: d.chassisSerial }))
  Object.assign(inv.bios, clean({ vendor: d.biosVendor, version: d.biosVersion, date: d.biosDate }))
  Object.assign(inv.cpu, clean({ model: hw.cpu.model, sockets: hw.cpu.packages, threads: hw.cpu.threads }))
  inv.memory.modules = hw.dimms.slice(0, 256).map((m) => clean({ slot: m.locator, sizeBytes: m.sizeBytes, speedMTs: m.speedMTs, manufacturer: m.manufacturer, part: m.part, serial: m.serial }))
  inv.disks = hw.disks.slice(0, 512).map((s): Disk =>
    clean({
      name: s.name,
      model: s.model,
      vendor: s.vendor?.startsWith('0x') ? undefined : s.vendor, // virtio gives a PCI vendor id
      serial: s.serial,
      wwn: s.wwid,
      sizeBytes: s.sizeBytes,
      rotational: s.rotational,
      type: s.name.startsWith('nvme') ? 'NVMe' : s.rotational === true ? 'HDD' : s.rotational === false ? 'SSD' : 'unknown',
    }),
  )
  inv.nics = hw.nics.slice(0, 256).map((n) => clean({ name: n.name, mac: n.mac, permanentMac: n.permanentMac, speedMbps: n.speedMbps, link: n.link ?? 'unknown' }))
}

/** Drops undefined and empty-string fields, so absent means unknown. */
export function clean<T extends object>(o: T): T {
  const out = {} as T
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === '' || (typeof v === 'number' && !Number.isFinite(v))) continue
    ;(out as Record<string, unknown>)[k] = typeof v === 'string' ? v.slice(0, 256) : v
  }
  return out
}

