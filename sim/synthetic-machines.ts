/**
 * Realistic synthetic machines for identity tests, the simulator and the demo: what /sys
 * would show on a Dell, an HPE, a batch of Supermicro boards, an OEM whitebox, a VM, an
 * OCP sled — including the ugly parts: placeholder serials ("To Be Filled By O.E.M.",
 * "0123456789"), one board serial shared by a whole batch, boards without serials, AMI's
 * default uuid, cheap SSDs with junk serials, VMs whose disks have no serial.
 *
 * `syntheticMachine(index, seed)` is deterministic: the same (index, seed) gives the same
 * machine on every run, and machines of one batch (consecutive indexes of one profile)
 * share what a real batch shares. `mutateMachine` applies the part swaps operators do.
 */
import { createHash } from 'node:crypto'
import type { Component } from '../agent/fingerprint/component.js'
import { componentsFromHardware } from '../agent/fingerprint/hardware-components.js'
import type { SysfsDisk, SysfsHardware, SysfsNic } from '../agent/fingerprint/read-sysfs.js'
import type { MemoryDevice } from '../agent/fingerprint/smbios.js'
import { resolveIdentity } from '../agent/fingerprint/resolve-identity.js'
import { inventoryFromSysfs } from '../agent/inventory/inventory-from-sysfs.js'
import type { Inventory } from '../agent/inventory/inventory.js'
import { summarizeInventory } from '../agent/inventory/summarize-inventory.js'
import type { InventorySummary } from '../agent/protocol/node-record.js'
import { SimRng } from './engine/rng.js'

export type MachineProfile = 'dell' | 'hpe' | 'supermicro' | 'whitebox' | 'vm' | 'ocp'

export interface SyntheticMachine {
  index: number
  seed: number
  profile: MachineProfile
  /** Which batch of its profile it came in (machines of one batch share vendor quirks). */
  batch: number
  /** What /sys shows (read-sysfs's shape): the source of components and inventory. */
  hardware: SysfsHardware
  /** NIC names that sit on the mainboard (they go when the board is replaced). */
  onboardNics: string[]
  components: Component[]
  inventory: Inventory
}

/** Profile mix of a fleet, in percent. */
const MIX: [MachineProfile, number][] = [
  ['dell', 20],
  ['hpe', 15],
  ['supermicro', 20],
  ['whitebox', 15],
  ['vm', 20],
  ['ocp', 10],
]
/** Consecutive machines of one profile form a batch of this size. */
const BATCH_SIZE = 40

/** An epoch for `collectedAt`: synthetic inventories are timeless. */
const COLLECTED_AT = Date.UTC(2026, 0, 1)

/** Machine `index` of the synthetic fleet `seed`. */
export function syntheticMachine(index: number, seed = 1): SyntheticMachine {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`index must be a non-negative integer, got ${index}`)
  // Profiles come in runs of BATCH_SIZE (a purchase order), in a seeded order of batches.
  const batchNo = Math.floor(index / BATCH_SIZE)
  const batchRng = rngFor(seed, `batch/${batchNo}`)
  const profile = pickWeighted(batchRng, MIX)
  const quirks = batchQuirks(profile, batchRng)
  const rng = rngFor(seed, `machine/${index}`)
  const hw = BUILDERS[profile](rng, quirks)
  // eno* sit on the mainboard; a desktop board's only NICs (enp*) do too.
  const onboardNics = hw.nics.filter((n) => n.name.startsWith('eno') || (profile === 'whitebox' && n.name.startsWith('enp'))).map((n) => n.name)
  return finish({ index, seed, profile, batch: batchNo, hardware: hw, onboardNics })
}

/**
 * What a simulated or demo node publishes about machine `index`: the id its hardware
 * derives (no fleet known: a first boot), its component digest (NodeRecord.comps) and its
 * inventory summary (NodeRecord.inv).
 */
export function syntheticIdentity(index: number, seed = 1): { id: string; comps: string[]; inv: InventorySummary; machine: SyntheticMachine } {
  const machine = syntheticMachine(index, seed)
  const r = resolveIdentity(machine.components, [], { fallbackId: `synthetic-${seed}-${index}` })
  return { id: r.id, comps: r.comps, inv: summarizeInventory(machine.inventory), machine }
}

function finish(m: Omit<SyntheticMachine, 'components' | 'inventory'>): SyntheticMachine {
  return { ...m, components: componentsFromHardware(m.hardware).components, inventory: inventoryFromSysfs(m.hardware, COLLECTED_AT) }
}

/** What a batch shares: placeholders or identical serials a vendor burned into every unit. */
interface Quirks {
  sharedBoardSerial?: string
  placeholderUuid?: string
  placeholderSys?: string
  cheapSsdSerial?: string
  noBoardSerial: boolean
  cpuModel: string
  ppin: boolean
}

function batchQuirks(profile: MachineProfile, r: SimRng): Quirks {
  const cpuModel = r.pick(CPU_MODELS[profile])
  const q: Quirks = { noBoardSerial: false, cpuModel, ppin: cpuModel.includes('Xeon') && r.chance(0.5) }
  if (profile === 'supermicro') {
    if (r.chance(0.3)) q.sharedBoardSerial = `WM${r.int(30)}AS${digits(r, 6)}`
    q.placeholderSys = r.pick(['0123456789', 'To be filled by O.E.M.', 'Default string'])
  }
  if (profile === 'whitebox') {
    q.placeholderSys = r.pick(['To Be Filled By O.E.M.', 'Default string', 'System Serial Number'])
    if (r.chance(0.4)) q.placeholderUuid = r.pick(['03000200-0400-0500-0006-000700080009', '00000000-0000-0000-0000-000000000000', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'])
    q.noBoardSerial = r.chance(0.3)
    if (r.chance(0.3)) q.cheapSsdSerial = r.pick(['AA000000000000000000', '0000000000000000', '123456789012']) // shipped on every unit
  }
  if (profile === 'ocp') q.noBoardSerial = r.chance(0.5)
  return q
}

const CPU_MODELS: Record<MachineProfile, string[]> = {
  dell: ['Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz', 'Intel(R) Xeon(R) Silver 4214 CPU @ 2.20GHz', 'AMD EPYC 7302P 16-Core Processor'],
  hpe: ['Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz', 'AMD EPYC 7443 24-Core Processor'],
  supermicro: ['Intel(R) Xeon(R) Gold 5218 CPU @ 2.30GHz', 'AMD EPYC 7402P 24-Core Processor'],
  whitebox: ['AMD Ryzen 9 5950X 16-Core Processor', 'Intel(R) Core(TM) i7-10700 CPU @ 2.90GHz', 'Intel(R) Xeon(R) E-2288G CPU @ 3.70GHz'],
  vm: ['QEMU Virtual CPU version 2.5+', 'Intel Xeon Processor (Cascadelake)', 'AMD EPYC-Rome Processor'],
  ocp: ['Intel(R) Xeon(R) Platinum 8280 CPU @ 2.70GHz', 'AMD EPYC 7763 64-Core Processor'],
}

type Builder = (r: SimRng, q: Quirks) => SysfsHardware

const BUILDERS: Record<MachineProfile, Builder> = {
  dell(r, q) {
    const tag = alnum(r, 7, UPPER)
    const hex = Buffer.from(tag.padEnd(12, '0')).toString('hex')
    return hardware({
      dmi: {
        sysVendor: 'Dell Inc.', productName: r.pick(['PowerEdge R640', 'PowerEdge R740xd', 'PowerEdge R650']),
        productSerial: tag, chassisSerial: tag, productUuid: `4c4c4544-00${hex.slice(0, 2)}-${hex.slice(2, 6)}-80${hex.slice(6, 8)}-${hex.slice(8, 20)}`,
        boardVendor: 'Dell Inc.', boardName: '0H28RR', boardSerial: `.${tag}.CN${digits(r, 12)}.`, biosVendor: 'Dell Inc.', biosVersion: '2.17.1',
      },
      disks: sasDisks(r, 2 + r.int(11)),
      nics: [...nics(r, 'eno', 2, r.pick(['b0:26:28', 'f4:02:70', '00:0a:f7'])), ...nics(r, 'ens3f', r.int(3), '3c:fd:fe')],
      dimms: dimms(r, 8 + 4 * r.int(5)),
      q,
      r,
    })
  },
  hpe(r, q) {
    const serial = `MXQ${digits(r, 4)}${alnum(r, 3, UPPER)}`
    return hardware({
      dmi: {
        sysVendor: 'HPE', productName: 'ProLiant DL360 Gen10', productSerial: serial, chassisSerial: serial,
        productUuid: `${Buffer.from(serial.slice(0, 4)).toString('hex')}-${hexs(r, 4)}-${hexs(r, 4)}-${hexs(r, 4)}-${hexs(r, 12)}`,
        boardVendor: 'HPE', boardName: 'ProLiant DL360 Gen10', boardSerial: `PWC${alnum(r, 11, UPPER)}`, biosVendor: 'HPE', biosVersion: 'U32',
      },
      disks: nvmeDisks(r, 1 + r.int(8), 'eui.0025388'),
      nics: [...nics(r, 'eno', 2, r.pick(['94:40:c9', '48:df:37'])), ...nics(r, 'ens1f', 2 * r.int(2), 'b8:83:03')],
      dimms: dimms(r, 8 + 4 * r.int(3)),
      q,
      r,
    })
  },
  supermicro(r, q) {
    const boardMac = '0c:c4:7a'
    return hardware({
      dmi: {
        sysVendor: 'Supermicro', productName: r.pick(['SYS-1029P-WTR', 'AS -1114S-WTRT']), productSerial: q.placeholderSys,
        productUuid: `00000000-0000-0000-0000-0cc47a${hexs(r, 6)}`,
        boardVendor: 'Supermicro', boardName: 'X11DPU', boardSerial: q.sharedBoardSerial ?? `WM${r.int(30)}AS${digits(r, 6)}`,
        chassisSerial: r.chance(0.5) ? '0123456789' : `C8150LK48AB${digits(r, 4)}`,
      },
      disks: sataDisks(r, 2 + r.int(7)),
      nics: [...nics(r, 'eno', 2, boardMac), ...nics(r, 'enp94s0f', 2 * r.int(2), 'a0:36:9f')],
      dimms: dimms(r, 4 + 4 * r.int(4)),
      q,
      r,
    })
  },
  whitebox(r, q) {
    const disks = nvmeDisks(r, 1 + r.int(2), 'nvme.144d-')
    if (q.cheapSsdSerial) disks.push({ name: 'sda', serial: q.cheapSsdSerial, serialSource: 'block/sda/device/vpd_pg80', model: 'SSD 512GB', sizeBytes: 512e9, rotational: false })
    else if (r.chance(0.5)) disks.push(...sataDisks(r, 1))
    return hardware({
      dmi: {
        sysVendor: 'To Be Filled By O.E.M.', productName: 'To Be Filled By O.E.M.', productSerial: q.placeholderSys,
        productUuid: q.placeholderUuid ?? uuid4(r),
        boardVendor: r.pick(['ASRockRack', 'Gigabyte Technology Co., Ltd.', 'ASUSTeK COMPUTER INC.']), boardName: 'X570D4U',
        boardSerial: q.noBoardSerial ? r.pick([undefined, 'Default string', 'To be filled by O.E.M.']) : `M80-${alnum(r, 3, UPPER)}${digits(r, 8)}`,
        chassisSerial: 'Default string',
      },
      disks,
      nics: nics(r, 'enp', 1 + r.int(2), r.pick(['70:85:c2', 'a8:a1:59', 'd0:50:99'])),
      dimms: r.chance(0.5) ? dimms(r, 2 + 2 * r.int(2)) : [],
      q,
      r,
    })
  },
  vm(r, q) {
    const id = uuid4(r)
    const disks: SysfsDisk[] = []
    const n = 1 + r.int(3)
    const withSerial = r.chance(0.5)
    for (let i = 0; i < n; i++) {
      const name = `vd${String.fromCharCode(97 + i)}`
      disks.push(withSerial ? { name, serial: r.chance(0.5) ? `DISK${digits(r, 8)}` : id.slice(0, 20), serialSource: `block/${name}/serial`, sizeBytes: (20 + r.int(500)) * 2 ** 30, rotational: true } : { name, sizeBytes: 40 * 2 ** 30, rotational: true })
    }
    // An OpenStack VM's disk serial is its volume id; keep the first disk's distinct from the uuid.
    if (withSerial && disks[0]!.serial === id.slice(0, 20)) disks[0]!.serial = `vol-${hexs(r, 16)}`
    return hardware({
      dmi: {
        sysVendor: 'QEMU', productName: r.pick(['Standard PC (Q35 + ICH9, 2009)', 'OpenStack Nova', 'KVM']), productUuid: id,
        productSerial: r.pick([undefined, 'Not Specified', id]), boardSerial: r.pick([undefined, 'Not Specified']), chassisSerial: r.pick([undefined, 'Not Specified']),
      },
      disks,
      nics: nics(r, 'ens', 1 + r.int(2), '52:54:00'),
      dimms: [],
      q,
      r,
    })
  },
  ocp(r, q) {
    return hardware({
      dmi: {
        sysVendor: r.pick(['Wiwynn', 'Quanta', 'Inventec']), productName: 'Tioga Pass', productSerial: `${alnum(r, 2, UPPER)}${digits(r, 10)}`,
        productUuid: uuid4(r), boardSerial: q.noBoardSerial ? undefined : `${alnum(r, 4, UPPER)}${digits(r, 9)}`,
      },
      disks: nvmeDisks(r, 2 + r.int(10), 'eui.000000000000000100a075'),
      nics: nics(r, 'eno', 1, r.pick(['b8:ce:f6', '0c:42:a1'])),
      dimms: dimms(r, 12),
      q,
      r,
    })
  },
}

function hardware(p: { dmi: SysfsHardware['dmi']; disks: SysfsDisk[]; nics: SysfsNic[]; dimms: MemoryDevice[]; q: Quirks; r: SimRng }): SysfsHardware {
  const dmi = Object.fromEntries(Object.entries(p.dmi).filter(([, v]) => v !== undefined)) as SysfsHardware['dmi']
  const packages = p.q.cpuModel.includes('Ryzen') || p.q.cpuModel.includes('Core') || p.q.cpuModel.includes('QEMU') ? 1 : 1 + p.r.int(2)
  return {
    dmi,
    disks: p.disks,
    nics: p.nics,
    dimms: p.dimms,
    cpu: { model: p.q.cpuModel, modelSource: 'cpuinfo', ppins: p.q.ppin ? Array.from({ length: packages }, () => `0x${hexs(p.r, 16)}`).sort() : [], packages },
    skipped: [],
    unknown: [],
    warnings: [],
  }
}

// --- part generators -----------------------------------------------------------------

const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789'
const HEX = '0123456789abcdef'

function alnum(r: SimRng, n: number, alphabet: string): string {
  let s = ''
  for (let i = 0; i < n; i++) s += alphabet[r.int(alphabet.length)]
  return s
}
const digits = (r: SimRng, n: number) => alnum(r, n, '0123456789')
const hexs = (r: SimRng, n: number) => alnum(r, n, HEX)
function uuid4(r: SimRng): string {
  const h = hexs(r, 32)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[r.int(4)]}${h.slice(17, 20)}-${h.slice(20)}`
}

function nics(r: SimRng, prefix: string, n: number, oui: string): SysfsNic[] {
  return Array.from({ length: n }, (_, i) => {
    const name = `${prefix}${prefix === 'ens' || prefix === 'enp' ? 3 + i : i + 1}`
    const mac = `${oui}:${hexs(r, 2)}:${hexs(r, 2)}:${hexs(r, 2)}`
    return { name, mac, permanentMac: mac, macSource: `class/net/${name}/address`, addrAssignType: 0, speedMbps: r.pick([1000, 10000, 25000]), link: i === 0 ? 'up' : r.pick(['up', 'down']) } as SysfsNic
  })
}

function sasDisks(r: SimRng, n: number): SysfsDisk[] {
  return Array.from({ length: n }, (_, i) => {
    const name = `sd${String.fromCharCode(97 + i)}`
    const hdd = r.chance(0.6)
    return {
      name, wwid: hdd ? `naa.5000c500${hexs(r, 8)}` : `naa.55cd2e41${hexs(r, 8)}`, wwidSource: `block/${name}/device/wwid`,
      serial: hdd ? `ZA1${alnum(r, 5, UPPER)}` : `BTYF${digits(r, 8)}480BGN`, serialSource: `block/${name}/device/vpd_pg80`,
      model: hdd ? 'ST4000NM0035-1V4' : 'SSDSC2KB480G8R', vendor: 'ATA', sizeBytes: hdd ? 4e12 : 480e9, rotational: hdd,
    }
  })
}

function sataDisks(r: SimRng, n: number): SysfsDisk[] {
  return Array.from({ length: n }, (_, i) => {
    const name = `sd${String.fromCharCode(97 + i)}`
    const samsung = r.chance(0.5)
    const serial = samsung ? `S3Z9NB0K${alnum(r, 6, UPPER)}A` : `WD-WCC7K${alnum(r, 7, UPPER)}`
    const model = samsung ? 'Samsung SSD 860 EVO 1TB' : 'WDC WD40EFRX-68N32N0'
    // libata: no NAA WWN on these, the kernel's wwid is "t10.ATA <model> <serial>".
    return {
      name, wwid: `t10.ATA     ${model.padEnd(40)}${serial}`, wwidSource: `block/${name}/device/wwid`, serial, serialSource: `block/${name}/device/vpd_pg80`,
      model, vendor: 'ATA', sizeBytes: samsung ? 1e12 : 4e12, rotational: !samsung,
    }
  })
}

function nvmeDisks(r: SimRng, n: number, wwidPrefix: string): SysfsDisk[] {
  return Array.from({ length: n }, (_, i) => {
    const name = `nvme${i}n1`
    const serial = `S4${alnum(r, 4, UPPER)}${digits(r, 7)}`
    const wwid = wwidPrefix.startsWith('nvme.') ? `nvme.144d-${Buffer.from(serial).toString('hex')}-${Buffer.from('Samsung SSD 980').toString('hex')}-00000001` : `${wwidPrefix}${hexs(r, 32 - (wwidPrefix.length - 4))}`
    return { name, wwid, wwidSource: `block/${name}/wwid`, serial, serialSource: `block/${name}/device/serial`, model: 'SAMSUNG MZQLB1T9HAJR-00007', sizeBytes: 1.92e12, rotational: false }
  })
}

function dimms(r: SimRng, n: number): MemoryDevice[] {
  const maker = r.pick(['Samsung', 'SK Hynix', 'Micron Technology'])
  const part = maker === 'Samsung' ? 'M393A4K40CB2-CTD' : maker === 'SK Hynix' ? 'HMA84GR7CJR4N-XN' : '36ASF4G72PZ-2G9E2'
  const size = r.pick([16, 32, 64]) * 2 ** 30
  return Array.from({ length: n }, (_, i) => ({
    locator: `DIMM_${'ABCDEFGH'[i % 8]}${Math.floor(i / 8) + 1}`,
    sizeBytes: size, populated: true, speedMTs: 2933, manufacturer: maker, part, serial: hexs(r, 8).toUpperCase(),
  }))
}

// --- part swaps ----------------------------------------------------------------------

export type Mutation = 'nic-replaced' | 'disk-added' | 'disk-removed' | 'dimm-replaced' | 'cpu-replaced' | 'board-replaced-disks-kept' | 'most-parts-replaced'
export const SINGLE_PART_MUTATIONS: readonly Mutation[] = ['nic-replaced', 'disk-added', 'disk-removed', 'dimm-replaced', 'cpu-replaced', 'board-replaced-disks-kept']

/**
 * The machine after a part swap, or undefined when the swap does not apply (no DIMM to
 * replace, the only disk cannot be removed...). Deterministic in (machine, mutation, seed).
 */
export function mutateMachine(m: SyntheticMachine, mutation: Mutation, seed = 1): SyntheticMachine | undefined {
  const r = rngFor(seed, `mutate/${m.seed}/${m.index}/${mutation}`)
  const hw: SysfsHardware = structuredClone(m.hardware)
  const fresh = BUILDERS[m.profile](r, { ...batchQuirksLike(m), ppin: hw.cpu.ppins.length > 0 })
  switch (mutation) {
    case 'nic-replaced': {
      if (hw.nics.length === 0) return undefined
      const i = r.int(hw.nics.length)
      const mac = `${hw.nics[i]!.permanentMac!.slice(0, 8)}:${hexs(r, 2)}:${hexs(r, 2)}:${hexs(r, 2)}`
      hw.nics[i] = { ...hw.nics[i]!, mac, permanentMac: mac }
      break
    }
    case 'disk-added': {
      const extra = m.profile === 'vm' ? [{ ...fresh.disks[0]!, name: 'vdz' }] : fresh.disks.slice(0, 1).map((d) => ({ ...d, name: `${d.name}x` }))
      if (m.profile === 'vm' && !extra[0]!.serial && !hw.disks.some((d) => d.serial)) return undefined
      hw.disks.push(...extra)
      break
    }
    case 'disk-removed':
      if (hw.disks.length < 1) return undefined
      hw.disks.splice(r.int(hw.disks.length), 1)
      break
    case 'dimm-replaced': {
      if (hw.dimms.length === 0) return undefined
      const i = r.int(hw.dimms.length)
      hw.dimms[i] = { ...hw.dimms[i]!, serial: hexs(r, 8).toUpperCase() }
      break
    }
    case 'cpu-replaced':
      hw.cpu = { ...hw.cpu, model: r.pick(CPU_MODELS[m.profile].filter((c) => c !== hw.cpu.model).concat(hw.cpu.model ?? 'x')), ppins: hw.cpu.ppins.map(() => `0x${hexs(r, 16)}`).sort() }
      break
    case 'board-replaced-disks-kept':
      // A new mainboard: new DMI ids and new onboard NICs; DIMMs, CPUs, add-in NICs and disks move over.
      hw.dmi = fresh.dmi
      hw.nics = hw.nics.map((n) => {
        if (!m.onboardNics.includes(n.name)) return n
        const mac = `${n.permanentMac!.slice(0, 8)}:${hexs(r, 2)}:${hexs(r, 2)}:${hexs(r, 2)}`
        return { ...n, mac, permanentMac: mac }
      })
      break
    case 'most-parts-replaced': {
      // New board, NICs, DIMMs and CPU; of the disks, at most one survives.
      const keep = hw.disks.slice(0, Math.min(1, Math.floor(hw.disks.length / 3)))
      Object.assign(hw, { dmi: fresh.dmi, nics: fresh.nics, dimms: fresh.dimms, cpu: fresh.cpu, disks: [...keep, ...fresh.disks.filter((d) => !keep.some((k) => k.name === d.name))] })
      break
    }
  }
  return finish({ index: m.index, seed: m.seed, profile: m.profile, batch: m.batch, hardware: hw, onboardNics: m.onboardNics })
}

/** The batch's quirks, re-derived (mutations keep the batch's placeholders). */
function batchQuirksLike(m: SyntheticMachine): Quirks {
  const batchRng = rngFor(m.seed, `batch/${m.batch}`)
  pickWeighted(batchRng, MIX)
  return batchQuirks(m.profile, batchRng)
}

// --- seeding -------------------------------------------------------------------------

function rngFor(seed: number, what: string): SimRng {
  const h = createHash('sha256').update(`shoal-synthetic-machines/${seed}/${what}`).digest()
  return new SimRng(h.readUIntBE(0, 6) % 2 ** 52)
}

function pickWeighted<T>(r: SimRng, items: [T, number][]): T {
  const total = items.reduce((n, [, w]) => n + w, 0)
  let x = r.int(total)
  for (const [item, w] of items) {
    if (x < w) return item
    x -= w
  }
  return items[items.length - 1]![0]
}
