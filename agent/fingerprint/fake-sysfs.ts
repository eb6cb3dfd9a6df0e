/**
 * Writes a directory laid out like /sys for a given hardware description — the inverse of
 * read-sysfs. For tests, for `shoal fingerprint --sysfs DIR` experiments ("what would a
 * board swap do?"), and for the boot engineer's initramfs tests. Adds the virtual devices
 * every real machine has (lo, a veth, a bridge, loop devices), which must be skipped.
 */
import { mkdir, writeFile, symlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { SysfsDmi, SysfsHardware } from './read-sysfs.js'
import { encodeMemoryDevice, encodeProcessor } from './smbios.js'
import { DMI_FILES } from './read-sysfs.js'


async function put(root: string, rel: string, content: string | Uint8Array): Promise<void> {
  const p = join(root, rel)
  await mkdir(dirname(p), { recursive: true })
  await writeFile(p, content)
}

export interface FakeSysfsOptions {
  /** Add lo, veth, docker0, loop0, zram0 (default true). */
  virtualDevices?: boolean
  /** Write the CPU model as SMBIOS type 4 (default true; there is no cpuinfo in a fake tree). */
  processorEntry?: boolean
}

export async function writeFakeSysfs(root: string, hw: SysfsHardware, opts: FakeSysfsOptions = {}): Promise<void> {
  const hasDmi = Object.keys(hw.dmi).length > 0
  if (hasDmi) {
    await mkdir(join(root, 'class/dmi/id'), { recursive: true })
    for (const [k, file] of Object.entries(DMI_FILES)) {
      const v = hw.dmi[k as keyof SysfsDmi]
      if (v !== undefined) await put(root, `class/dmi/id/${file}`, v + '\n')
    }
  }
  await mkdir(join(root, 'block'), { recursive: true })
  for (const d of hw.disks) {
    const base = `block/${d.name}`
    await put(root, `${base}/removable`, '0\n')
    if (d.sizeBytes !== undefined) await put(root, `${base}/size`, `${Math.round(d.sizeBytes / 512)}\n`)
    if (d.rotational !== undefined) await put(root, `${base}/queue/rotational`, d.rotational ? '1\n' : '0\n')
    if (d.model) await put(root, `${base}/device/model`, d.model.padEnd(16) + '\n')
    if (d.vendor) await put(root, `${base}/device/vendor`, d.vendor.padEnd(8) + '\n')
    if (d.wwid !== undefined) await put(root, d.wwidSource ?? `${base}/device/wwid`, d.wwid + '\n')
    if (d.serial !== undefined) {
      const src = d.serialSource ?? `${base}/serial`
      if (src.endsWith('vpd_pg80')) {
        const s = Buffer.from(d.serial, 'latin1')
        await put(root, src, Buffer.concat([Buffer.from([0, 0x80, 0, s.length]), s]))
      } else await put(root, src, d.serial + '\n')
    }
  }
  for (const n of hw.nics) {
    const base = `class/net/${n.name}`
    await put(root, `${base}/device/uevent`, 'DRIVER=fake\n')
    await put(root, `${base}/type`, '1\n')
    if (n.mac) await put(root, `${base}/address`, n.mac + '\n')
    await put(root, `${base}/addr_assign_type`, `${n.addrAssignType ?? 0}\n`)
    if (n.permanentMac && n.macSource?.includes('bonding_slave')) await put(root, `${base}/bonding_slave/perm_hwaddr`, n.permanentMac + '\n')
    if (n.speedMbps) await put(root, `${base}/speed`, `${n.speedMbps}\n`)
    await put(root, `${base}/operstate`, `${n.link === 'up' ? 'up' : 'down'}\n`)
  }
  let i = 0
  for (const m of hw.dimms) {
    await put(root, `firmware/dmi/entries/17-${i++}/raw`, encodeMemoryDevice({ locator: m.locator ?? `DIMM${i}`, sizeMiB: Math.round((m.sizeBytes ?? 0) / 2 ** 20), manufacturer: m.manufacturer, serial: m.serial, part: m.part, speedMTs: m.speedMTs }))
  }
  if (hw.cpu.model && opts.processorEntry !== false) await put(root, 'firmware/dmi/entries/4-0/raw', encodeProcessor({ version: hw.cpu.model }))
  for (const [pkg, p] of hw.cpu.ppins.entries()) {
    await put(root, `devices/system/cpu/cpu${pkg * 2}/topology/ppin`, p + '\n')
    await put(root, `devices/system/cpu/cpu${pkg * 2}/topology/physical_package_id`, `${pkg}\n`)
    await put(root, `devices/system/cpu/cpu${pkg * 2 + 1}/topology/ppin`, p + '\n')
    await put(root, `devices/system/cpu/cpu${pkg * 2 + 1}/topology/physical_package_id`, `${pkg}\n`)
  }
  if (opts.virtualDevices !== false) {
    for (const v of ['lo', 'veth1a2b3c', 'docker0', 'cali0123456789a']) {
      await put(root, `class/net/${v}/address`, '02:42:ac:11:00:02\n')
      await put(root, `class/net/${v}/type`, v === 'lo' ? '772\n' : '1\n')
    }
    // A virtual NIC under an ordinary name: only the missing device link gives it away.
    await put(root, 'class/net/int0/address', '0e:00:00:00:00:01\n')
    await put(root, 'class/net/int0/type', '1\n')
    for (const b of ['loop0', 'zram0']) await put(root, `block/${b}/size`, '0\n')
  }
}

/** Makes `rel` a symlink (sysfs is full of them); for tests of link handling. */
export async function linkInFakeSysfs(root: string, rel: string, target: string): Promise<void> {
  await mkdir(dirname(join(root, rel)), { recursive: true })
  await symlink(target, join(root, rel))
}
