/**
 * Reads the hardware that identifies a machine straight from a /sys tree (and cpuinfo):
 * DMI ids, disks, physical NICs, memory modules, CPU. The initramfs has no udev and no
 * dmidecode, so nothing here shells out or reads /dev. `sysfsRoot` can point at any
 * directory laid out like /sys (tests, `shoal fingerprint --sysfs DIR`).
 *
 * Never throws for missing or unreadable entries: a missing file is normal (not every
 * machine has every attribute), an unreadable one becomes a warning, a whole missing
 * source is listed in `unknown`. Each source has a deadline; what is late is unknown.
 */
import { open, readFile, readdir, lstat } from 'node:fs/promises'
import { join } from 'node:path'
import { parseMemoryDevice, parseProcessor, type MemoryDevice } from './smbios.js'

export interface SysfsDmi {
  sysVendor?: string
  productName?: string
  productVersion?: string
  productSerial?: string
  productUuid?: string
  boardVendor?: string
  boardName?: string
  boardSerial?: string
  chassisVendor?: string
  chassisType?: string
  chassisSerial?: string
  biosVendor?: string
  biosVersion?: string
  biosDate?: string
}

export interface SysfsDisk {
  name: string
  wwid?: string
  serial?: string
  /** Which file each of wwid/serial came from (relative to the sysfs root). */
  wwidSource?: string
  serialSource?: string
  model?: string
  vendor?: string
  sizeBytes?: number
  rotational?: boolean
}

export interface SysfsNic {
  name: string
  /** The permanent (burned-in) address: bond slaves' perm_hwaddr, else `address` when the kernel says it is permanent. */
  permanentMac?: string
  mac?: string
  macSource?: string
  /** /sys/class/net/X/addr_assign_type: 0 permanent, 1 random, 2 stolen, 3 set by software. */
  addrAssignType?: number
  speedMbps?: number
  link?: 'up' | 'down' | 'unknown'
  driver?: string
}

export interface SysfsHardware {
  dmi: SysfsDmi
  disks: SysfsDisk[]
  nics: SysfsNic[]
  dimms: MemoryDevice[]
  cpu: { model?: string; modelSource?: string; ppins: string[]; packages?: number; threads?: number }
  /** Devices looked at and left out of identity, with why ("ifb0: virtual device"). */
  skipped: { label: string; reason: string }[]
  /** Sources that could not be read at all ("dmi", "memory modules", ...). */
  unknown: string[]
  warnings: string[]
}

export interface ReadSysfsOptions {
  /** A directory laid out like /sys. Default /sys. */
  sysfsRoot?: string
  /** Where cpuinfo lives; default /proc when sysfsRoot is /sys, else `<sysfsRoot>/../proc` if present. */
  procfsRoot?: string
  /** Deadline for each source (DMI, disks, NICs, DIMMs, CPU); a hung read is reported, not awaited. Default 3000. */
  sourceTimeoutMs?: number
}

/** SysfsDmi field -> file under class/dmi/id (shared with the fake-/sys writer). */
export const DMI_FILES: Record<keyof SysfsDmi, string> = {
  sysVendor: 'sys_vendor',
  productName: 'product_name',
  productVersion: 'product_version',
  productSerial: 'product_serial',
  productUuid: 'product_uuid',
  boardVendor: 'board_vendor',
  boardName: 'board_name',
  boardSerial: 'board_serial',
  chassisVendor: 'chassis_vendor',
  chassisType: 'chassis_type',
  chassisSerial: 'chassis_serial',
  biosVendor: 'bios_vendor',
  biosVersion: 'bios_version',
  biosDate: 'bios_date',
}

const MAX_FILE_BYTES = 64 * 1024

/** Block devices that are never a machine's own disk. */
const VIRTUAL_DISK = /^(loop|ram|zram|dm-|md|nbd|sr|fd|rbd|drbd|zd|nvme\d+c\d+n)/
/** Names of virtual NICs, a second guard behind "has no device link". */
const VIRTUAL_NIC = /^(lo$|veth|cali|docker|br-|virbr|vnet|tun|tap|flannel|cni|vxlan|kube-|cilium|weave|genev|ifb|dummy|bond|team|wg|ip6?tnl|sit|gre|erspan|macvlan|macvtap|ovs-|ipvl)/

class Reader {
  readonly warnings: string[] = []
  readonly unknown: string[] = []
  readonly skipped: { label: string; reason: string }[] = []
  constructor(readonly root: string) {}

  /** Text of a file, trimmed; undefined when absent. Unreadable -> warning + undefined. */
  async text(rel: string): Promise<string | undefined> {
    const buf = await this.bytes(rel)
    if (buf === undefined) return undefined
    const s = Buffer.from(buf).toString('utf8').replace(/\0+$/g, '').trim()
    return s === '' ? undefined : s
  }

  /** At most MAX_FILE_BYTES: sysfs attributes are one page; a huge file in a fake tree is not ours to slurp. */
  async bytes(rel: string): Promise<Uint8Array | undefined> {
    let fh
    try {
      fh = await open(join(this.root, rel), 'r')
      const buf = Buffer.alloc(MAX_FILE_BYTES)
      let n = 0
      for (;;) {
        const { bytesRead } = await fh.read(buf, n, buf.length - n, null)
        if (bytesRead === 0 || (n += bytesRead) >= buf.length) break
      }
      return buf.subarray(0, n)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENODEV' || code === 'ENXIO') return undefined
      if (code === 'EACCES' || code === 'EPERM') this.warnings.push(`cannot read ${rel}: permission denied (run as root to read serial numbers)`)
      else this.warnings.push(`cannot read ${rel}: ${code ?? (err as Error).message}`)
      return undefined
    } finally {
      await fh?.close().catch(() => {})
    }
  }

  async list(rel: string): Promise<string[] | undefined> {
    try {
      return (await readdir(join(this.root, rel))).sort()
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOENT' && code !== 'ENOTDIR') this.warnings.push(`cannot list ${rel}: ${code ?? (err as Error).message}`)
      return undefined
    }
  }

  async exists(rel: string): Promise<boolean> {
    try {
      await lstat(join(this.root, rel))
      return true
    } catch {
      return false
    }
  }
}

export async function readSysfsHardware(opts: ReadSysfsOptions = {}): Promise<SysfsHardware> {
  const root = opts.sysfsRoot ?? '/sys'
  const r = new Reader(root)
  const timeoutMs = opts.sourceTimeoutMs ?? 3000
  const procRoot = opts.procfsRoot ?? (root === '/sys' ? '/proc' : join(root, '..', 'proc'))

  const [dmi, disks, nics, dimms, cpu] = await Promise.all([
    deadline(r, 'dmi', timeoutMs, readDmi(r), {} as SysfsDmi),
    deadline(r, 'disks', timeoutMs, readDisks(r), []),
    deadline(r, 'nics', timeoutMs, readNics(r), []),
    deadline(r, 'memory modules', timeoutMs, readDimms(r), []),
    deadline(r, 'cpu', timeoutMs, readCpu(r, procRoot), { ppins: [] }),
  ])
  const skipped = [...r.skipped].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0))
  return { dmi, disks, nics, dimms, cpu, skipped, unknown: r.unknown, warnings: r.warnings }
}

async function deadline<T>(r: Reader, source: string, ms: number, work: Promise<T>, empty: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => {
      r.unknown.push(source)
      r.warnings.push(`reading ${source} took longer than ${ms} ms; reported as unknown`)
      resolve(empty)
    }, ms)
  })
  try {
    return await Promise.race([work, late])
  } catch (err) {
    // The readers catch their own IO errors; this is a bug guard, not a path we expect.
    r.unknown.push(source)
    r.warnings.push(`reading ${source} failed: ${(err as Error).message}`)
    return empty
  } finally {
    clearTimeout(timer)
  }
}

async function readDmi(r: Reader): Promise<SysfsDmi> {
  const dir = 'class/dmi/id'
  if (!(await r.exists(dir))) {
    r.unknown.push('dmi')
    r.warnings.push(`no DMI tables (${dir} is missing): a container, a VM without SMBIOS, or a board without DMI`)
    return {}
  }
  const out: SysfsDmi = {}
  await Promise.all(
    (Object.keys(DMI_FILES) as (keyof SysfsDmi)[]).map(async (k) => {
      const v = await r.text(`${dir}/${DMI_FILES[k]}`)
      if (v !== undefined) out[k] = v
    }),
  )
  return out
}

async function readDisks(r: Reader): Promise<SysfsDisk[]> {
  const names = await r.list('block')
  if (names === undefined) {
    r.unknown.push('disks')
    r.warnings.push('no block devices listed (block/ is missing)')
    return []
  }
  const one = async (name: string): Promise<SysfsDisk | undefined> => {
    if (VIRTUAL_DISK.test(name)) {
      r.skipped.push({ label: name, reason: 'virtual block device' })
      return undefined
    }
    const base = `block/${name}`
    if ((await r.text(`${base}/removable`)) === '1') {
      r.skipped.push({ label: name, reason: 'removable media' })
      return undefined
    }
    if ((await r.text(`${base}/hidden`)) === '1') {
      r.skipped.push({ label: name, reason: 'hidden (multipath path)' })
      return undefined
    }
    const disk: SysfsDisk = { name }
    for (const rel of [`${base}/wwid`, `${base}/device/wwid`]) {
      const v = await r.text(rel)
      if (v !== undefined) {
        disk.wwid = v
        disk.wwidSource = rel
        break
      }
    }
    for (const rel of [`${base}/serial`, `${base}/device/serial`]) {
      const v = await r.text(rel)
      if (v !== undefined) {
        disk.serial = v
        disk.serialSource = rel
        break
      }
    }
    if (disk.serial === undefined) {
      const pg80 = await r.bytes(`${base}/device/vpd_pg80`)
      // VPD page 0x80: 4-byte header (page code 0x80, length at byte 3), then ASCII serial.
      if (pg80 && pg80.length > 4 && pg80[1] === 0x80) {
        const s = Buffer.from(pg80.subarray(4, 4 + pg80[3]!)).toString('latin1').replace(/\0/g, '').trim()
        if (s) {
          disk.serial = s
          disk.serialSource = `${base}/device/vpd_pg80`
        }
      }
    }
    disk.model = await r.text(`${base}/device/model`)
    disk.vendor = await r.text(`${base}/device/vendor`)
    const sectors = Number(await r.text(`${base}/size`))
    if (Number.isFinite(sectors) && sectors > 0) disk.sizeBytes = sectors * 512
    const rot = await r.text(`${base}/queue/rotational`)
    if (rot === '0' || rot === '1') disk.rotational = rot === '1'
    return disk
  }
  // Devices in parallel (a JBOD has 90 of them); the order stays the sorted listing's.
  const disks = (await Promise.all(names.map(one))).filter((d): d is SysfsDisk => d !== undefined)
  return disks
}

async function readNics(r: Reader): Promise<SysfsNic[]> {
  const names = await r.list('class/net')
  if (names === undefined) {
    r.unknown.push('nics')
    r.warnings.push('no network interfaces listed (class/net/ is missing)')
    return []
  }
  const one = async (name: string): Promise<SysfsNic | undefined> => {
    const base = `class/net/${name}`
    if (VIRTUAL_NIC.test(name)) {
      r.skipped.push({ label: name, reason: 'virtual interface' })
      return undefined
    }
    if (!(await r.exists(`${base}/device`))) {
      r.skipped.push({ label: name, reason: 'virtual interface (no device)' })
      return undefined
    }
    const type = await r.text(`${base}/type`)
    if (type !== undefined && type !== '1' && type !== '32') {
      r.skipped.push({ label: name, reason: `link type ${type} is not Ethernet or InfiniBand` })
      return undefined
    }
    const nic: SysfsNic = { name }
    nic.mac = await r.text(`${base}/address`)
    const assign = await r.text(`${base}/addr_assign_type`)
    if (assign !== undefined && /^\d+$/.test(assign)) nic.addrAssignType = Number(assign)
    const perm = await r.text(`${base}/bonding_slave/perm_hwaddr`)
    if (perm !== undefined) {
      nic.permanentMac = perm
      nic.macSource = `${base}/bonding_slave/perm_hwaddr`
    } else if (nic.mac !== undefined && (nic.addrAssignType === undefined || nic.addrAssignType === 0)) {
      nic.permanentMac = nic.mac
      nic.macSource = `${base}/address`
    } else if (nic.mac !== undefined) {
      const why = nic.addrAssignType === 1 ? 'random' : nic.addrAssignType === 2 ? 'stolen from another device' : 'set by software'
      r.skipped.push({ label: name, reason: `MAC is ${why}; permanent address unknown` })
    }
    const speed = Number(await r.text(`${base}/speed`))
    if (Number.isFinite(speed) && speed > 0) nic.speedMbps = speed
    const oper = await r.text(`${base}/operstate`)
    nic.link = oper === 'up' ? 'up' : oper === 'down' || oper === 'lowerlayerdown' ? 'down' : 'unknown'
    return nic
  }
  const nics = (await Promise.all(names.map(one))).filter((n): n is SysfsNic => n !== undefined)
  return nics
}

async function readDimms(r: Reader): Promise<MemoryDevice[]> {
  const names = await r.list('firmware/dmi/entries')
  if (names === undefined) {
    r.unknown.push('memory modules')
    return []
  }
  const out: MemoryDevice[] = []
  for (const name of names.filter((n) => n.startsWith('17-'))) {
    const raw = await r.bytes(`firmware/dmi/entries/${name}/raw`)
    if (!raw) continue
    const dev = parseMemoryDevice(raw)
    if (!dev) {
      r.warnings.push(`firmware/dmi/entries/${name}/raw is not a valid memory device structure; ignored`)
      continue
    }
    if (dev.populated) out.push(dev)
  }
  return out
}

async function readCpu(r: Reader, procRoot: string): Promise<SysfsHardware['cpu']> {
  const cpu: SysfsHardware['cpu'] = { ppins: [] }
  try {
    const info = await readFile(join(procRoot, 'cpuinfo'), 'utf8')
    const model = /^(?:model name|Processor|cpu model)\s*:\s*(.+)$/m.exec(info)?.[1]?.trim()
    if (model) {
      cpu.model = model
      cpu.modelSource = 'cpuinfo'
    }
    cpu.threads = (info.match(/^processor\s*:/gm) ?? []).length || undefined
    const packages = new Set((info.match(/^physical id\s*:\s*(\d+)/gm) ?? []).map((l) => l.split(':')[1]!.trim()))
    if (packages.size) cpu.packages = packages.size
  } catch {
    // No cpuinfo (a fake /sys tree): fall back to SMBIOS type 4 below.
  }
  const entries = (await r.list('firmware/dmi/entries')) ?? []
  for (const name of entries.filter((n) => n.startsWith('4-'))) {
    const raw = await r.bytes(`firmware/dmi/entries/${name}/raw`)
    const p = raw && parseProcessor(raw)
    if (p?.version && !cpu.model) {
      cpu.model = p.version
      cpu.modelSource = `firmware/dmi/entries/${name}/raw`
    }
  }
  const cpus = ((await r.list('devices/system/cpu')) ?? []).filter((n) => /^cpu\d+$/.test(n))
  // One PPIN per package: read it from the first CPU of each package only.
  const firstOfPackage = new Map<string, string>()
  for (const c of cpus.sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)))) {
    const pkg = (await r.text(`devices/system/cpu/${c}/topology/physical_package_id`)) ?? c
    if (!firstOfPackage.has(pkg)) firstOfPackage.set(pkg, c)
  }
  const ppins = new Set<string>()
  for (const c of firstOfPackage.values()) {
    const v = await r.text(`devices/system/cpu/${c}/topology/ppin`)
    if (v !== undefined && !/^0x0*$/.test(v)) ppins.add(v)
  }
  cpu.ppins = [...ppins].sort()
  if (!cpu.model) r.unknown.push('cpu model')
  return cpu
}
