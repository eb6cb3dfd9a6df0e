/**
 * Identity components from an Inventory, i.e. systeminformation's view of the machine
 * (dmidecode, lsblk). The identity collectors read /sys directly because that is all the
 * initramfs has; this is the second source, used only when /sys offers no usable component
 * at all (fingerprintMachine's `inventory` option), so a machine's id never flips between
 * the two sources.
 */
import type { Component } from '../fingerprint/component.js'
import { isRegisteredWwn } from '../fingerprint/hardware-components.js'
import type { Inventory } from './inventory.js'

export function componentsFromInventory(inv: Inventory): Component[] {
  const out: Component[] = []
  const src = 'systeminformation'
  if (inv.system.uuid) out.push({ kind: 'uuid', value: inv.system.uuid, source: `${src}:system.uuid` })
  if (inv.system.serial) out.push({ kind: 'sys', value: inv.system.serial, source: `${src}:system.serial` })
  if (inv.board.serial) out.push({ kind: 'board', value: inv.board.serial, source: `${src}:baseboard.serial` })
  if (inv.chassis.serial) out.push({ kind: 'chassis', value: inv.chassis.serial, source: `${src}:chassis.serial` })
  for (const d of inv.disks) {
    if (d.wwn && isRegisteredWwn(d.wwn)) out.push({ kind: 'wwn', value: d.wwn, source: `${src}:disk.wwn`, label: d.name })
    else if (d.serial) out.push({ kind: 'disk', value: d.serial, source: `${src}:disk.serial`, label: d.name })
  }
  for (const n of inv.nics) if (n.permanentMac) out.push({ kind: 'nic', value: n.permanentMac, source: `${src}:nic.permanentMac`, label: n.name })
  for (const m of inv.memory.modules) if (m.serial) out.push({ kind: 'dimm', value: `${m.manufacturer ?? ''}/${m.serial}`, source: `${src}:memLayout`, label: m.slot })
  if (inv.cpu.model) out.push({ kind: 'cpu', value: inv.cpu.model, source: `${src}:cpu` })
  return out
}
