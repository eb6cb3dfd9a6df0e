/**
 * Maps systeminformation's answers (untrusted JSON from the child process) onto an
 * Inventory. Lenient by design: a field of the wrong type is ignored, never thrown on.
 * /sys already filled what it knows; systeminformation fills the gaps and adds what /sys
 * does not have (OS, BIOS via dmidecode, memory speed, disk interface, GPUs).
 */
import type { Inventory, Disk } from './inventory.js'

export type SiAnswers = Partial<Record<'osInfo' | 'system' | 'baseboard' | 'chassis' | 'bios' | 'cpu' | 'mem' | 'memLayout' | 'diskLayout' | 'networkInterfaces' | 'graphics', unknown>>

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {})
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : [])
/** systeminformation says "" or "-" for unknown. */
const s = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' && v.trim() !== '-' ? v.trim().slice(0, 256) : undefined)
const n = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined)

/** Sets fields that are still unknown; what /sys said wins. */
function fill<T extends object>(target: T, values: Partial<T>): void {
  for (const [k, v] of Object.entries(values)) {
    if (v !== undefined && (target as Obj)[k] === undefined) (target as Obj)[k] = v
  }
}

export function mergeSystemInformation(inv: Inventory, a: SiAnswers): void {
  if (a.osInfo) {
    const o = obj(a.osInfo)
    inv.hostname ??= s(o.hostname)
    inv.os = { ...(inv.os ?? {}) }
    fill(inv.os, { distro: s(o.distro), release: s(o.release), kernel: s(o.kernel), arch: s(o.arch) })
  }
  if (a.system) {
    const o = obj(a.system)
    fill(inv.system, { vendor: s(o.manufacturer), product: s(o.model), version: s(o.version), serial: s(o.serial), uuid: s(o.uuid), sku: s(o.sku) })
    if (typeof o.virtual === 'boolean') inv.system.virtual = o.virtual
  }
  if (a.baseboard) {
    const o = obj(a.baseboard)
    fill(inv.board, { vendor: s(o.manufacturer), product: s(o.model), version: s(o.version), serial: s(o.serial) })
  }
  if (a.chassis) {
    const o = obj(a.chassis)
    fill(inv.chassis, { vendor: s(o.manufacturer), type: s(o.type), serial: s(o.serial) })
  }
  if (a.bios) {
    const o = obj(a.bios)
    fill(inv.bios, { vendor: s(o.vendor), version: s(o.version), date: s(o.releaseDate) })
  }
  if (a.cpu) {
    const o = obj(a.cpu)
    const model = [s(o.manufacturer), s(o.brand)].filter(Boolean).join(' ') || undefined
    // /proc/cpuinfo's model name is more exact than manufacturer + brand: keep it if present.
    fill(inv.cpu, { vendor: s(o.manufacturer), model, sockets: n(o.processors), cores: n(o.physicalCores), threads: n(o.cores), speedGHz: n(o.speed) })
  }
  if (a.mem) inv.memory.totalBytes ??= n(obj(a.mem).total)
  if (a.memLayout && inv.memory.modules.length === 0) {
    inv.memory.modules = arr(a.memLayout)
      .filter((m) => n(m.size) !== undefined && (s(m.bank) || s(m.serialNum) || s(m.partNum) || s(m.type)))
      .map((m) => drop({ slot: s(m.bank), sizeBytes: n(m.size), type: s(m.type), speedMTs: n(m.clockSpeed), manufacturer: s(m.manufacturer), part: s(m.partNum), serial: s(m.serialNum) }))
      .slice(0, 256)
  }
  if (a.diskLayout) {
    for (const d of arr(a.diskLayout)) {
      const name = s(d.device)?.replace(/^\/dev\//, '')
      if (!name) continue
      let disk = inv.disks.find((x) => x.name === name)
      if (!disk) {
        disk = { name, type: 'unknown' }
        inv.disks.push(disk)
      }
      const t = s(d.type)
      fill(disk, { model: s(d.name), vendor: s(d.vendor), serial: s(d.serialNum), sizeBytes: n(d.size), interface: s(d.interfaceType) })
      if (disk.type === 'unknown') disk.type = (t === 'NVMe' || t === 'HD' || t === 'SSD' ? (t === 'HD' ? 'HDD' : t) : 'unknown') as Disk['type']
    }
  }
  if (a.networkInterfaces) {
    for (const i of arr(a.networkInterfaces)) {
      const name = s(i.iface)
      const nic = name ? inv.nics.find((x) => x.name === name) : undefined
      if (!nic) continue // only physical NICs (from /sys) belong in the inventory
      fill(nic, { speedMbps: n(i.speed), mac: s(i.mac) })
    }
  }
  if (a.graphics) {
    inv.gpus = arr(obj(a.graphics).controllers)
      .map((g) => drop({ vendor: s(g.vendor), model: s(g.model), vramMB: n(g.vram), bus: s(g.bus) }))
      .filter((g) => g.vendor || g.model)
      .slice(0, 64)
  }
}

function drop<T extends object>(o: T): T {
  for (const k of Object.keys(o)) if ((o as Obj)[k] === undefined) delete (o as Obj)[k]
  return o
}
