import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InventorySummary } from '../protocol/node-record.js'
import { writeFakeSysfs } from '../fingerprint/fake-sysfs.js'
import { syntheticMachine } from '../../sim/synthetic-machines.js'
import { collectInventory } from './collect-inventory.js'
import { Inventory } from './inventory.js'
import { summarizeInventory } from './summarize-inventory.js'

let dir: string
let sysfs: string
const machine = syntheticMachine(0, 1) // an OCP sled: 8 NVMe disks, 12 DIMMs, one NIC

/** A stand-in for systeminformation; `body` defines the calls. */
async function fakeSi(name: string, body: string): Promise<string> {
  const p = join(dir, `${name}.mjs`)
  await writeFile(p, body)
  return p
}
const answers = `
  osInfo: async () => ({ distro: 'Debian GNU/Linux', release: '12', kernel: '6.1.0', arch: 'x64', hostname: 'worker-1' }),
  system: async () => ({ manufacturer: 'Wiwynn', model: 'Tioga Pass', serial: '-', uuid: '', virtual: false }),
  baseboard: async () => ({ manufacturer: 'Wiwynn', model: 'TP', serial: '' }),
  chassis: async () => ({ manufacturer: '', type: 'Rack Mount Chassis', serial: '' }),
  bios: async () => ({ vendor: 'AMI', version: 'F09', releaseDate: '2021-03-01' }),
  cpu: async () => ({ manufacturer: 'AMD', brand: 'EPYC 7763', processors: 1, physicalCores: 64, cores: 128, speed: 2.45 }),
  mem: async () => ({ total: 412316860416 }),
  diskLayout: async () => [{ device: '/dev/nvme0n1', type: 'NVMe', name: 'SAMSUNG MZQLB1T9HAJR-00007', interfaceType: 'PCIe', size: 1920383410176 }],
  networkInterfaces: async () => [{ iface: 'eno1', speed: 25000, mac: 'b8:ce:f6:00:00:01' }, { iface: 'docker0', speed: 0 }],
  graphics: async () => ({ controllers: [{ vendor: 'ASPEED', model: 'ASPEED Graphics Family', vram: 16, bus: 'Onboard' }] }),
`

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-inv-'))
  sysfs = join(dir, 'sys')
  await writeFakeSysfs(sysfs, machine.hardware)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('collectInventory', () => {
  it('merges systeminformation (in a child) with /sys', async () => {
    const si = await fakeSi('ok', `export default {${answers} memLayout: async () => [] }`)
    const inv = await collectInventory({ sysfsRoot: sysfs, siModule: si, timeoutMs: 20_000, now: () => 1_700_000_000_000 })
    expect(Inventory.safeParse(inv).success).toBe(true)
    expect(inv.collectedAt).toBe(1_700_000_000_000)
    expect(inv.os).toEqual({ distro: 'Debian GNU/Linux', release: '12', kernel: '6.1.0', arch: 'x64' })
    expect(inv.bios).toEqual({ vendor: 'AMI', version: 'F09', date: '2021-03-01' })
    expect(inv.cpu).toMatchObject({ cores: 64, threads: 128 })
    expect(inv.disks).toHaveLength(8) // /sys's list; systeminformation added the interface
    expect(inv.disks[0]).toMatchObject({ name: 'nvme0n1', type: 'NVMe', interface: 'PCIe', serial: expect.any(String), wwn: expect.stringMatching(/^eui\./) })
    expect(inv.nics).toEqual([expect.objectContaining({ name: 'eno1', speedMbps: expect.any(Number), link: 'up' })]) // docker0 is not hardware
    expect(inv.memory.modules).toHaveLength(12) // systeminformation had none: /sys's SMBIOS entries
    expect(inv.gpus).toEqual([{ vendor: 'ASPEED', model: 'ASPEED Graphics Family', vramMB: 16, bus: 'Onboard' }])
    expect(inv.unknown).toEqual([])
  })

  it('a call that hangs times out: its section is unknown, the rest is there', async () => {
    const si = await fakeSi('hang', `export default {${answers} memLayout: () => new Promise(() => {}), graphics: () => new Promise(() => { setInterval(() => {}, 1000) }) }`)
    const inv = await collectInventory({ sysfsRoot: sysfs, siModule: si, timeoutMs: 3000 })
    expect(inv.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/graphics\(\) did not answer within 3000 ms/)]))
    expect(inv.unknown).toContain('gpus')
    expect(inv.memory.modules).toHaveLength(12) // from /sys
    expect(inv.os?.distro).toBe('Debian GNU/Linux')
  })

  it('a call that blocks the child\'s event loop (execSync-style) cannot stall us: the child is killed', async () => {
    const si = await fakeSi('block', `export default {${answers} memLayout: async () => { for (;;) {} } }`)
    const t0 = performance.now()
    const inv = await collectInventory({ sysfsRoot: sysfs, siModule: si, timeoutMs: 2500 })
    expect(performance.now() - t0).toBeLessThan(20_000) // returned, long before any test timeout
    expect(inv.disks).toHaveLength(8)
    expect(inv.warnings.join('\n')).toMatch(/did not answer within 2500 ms/)
  })

  it('a call that fails, or a module that prints garbage, gives warnings, never a throw', async () => {
    const si = await fakeSi('fail', `process.stdout.write('not json\\n'); export default {${answers} memLayout: async () => { throw new Error('dmidecode: not found') } }`)
    const inv = await collectInventory({ sysfsRoot: sysfs, siModule: si, timeoutMs: 20_000 })
    expect(inv.warnings).toEqual(expect.arrayContaining(['systeminformation memLayout() failed: dmidecode: not found', expect.stringMatching(/not JSON/)]))
  })

  it('systeminformation missing entirely: /sys alone, unknowns named', async () => {
    const inv = await collectInventory({ sysfsRoot: sysfs, siModule: join(dir, 'does-not-exist.mjs'), timeoutMs: 20_000 })
    expect(inv.disks).toHaveLength(8)
    expect(inv.unknown).toEqual(expect.arrayContaining(['os', 'gpus']))
    expect(inv.warnings.join('\n')).toMatch(/osInfo\(\) gave no answer/)
    const none = await collectInventory({ sysfsRoot: join(dir, 'empty'), systemInformation: false })
    expect(none.unknown).toEqual(expect.arrayContaining(['system', 'cpu', 'disks', 'nics', 'memory.modules']))
  })

  it('absurd values in /sys (a 10 KB product name) are cut to size, never a schema crash', async () => {
    const odd = join(dir, 'odd')
    await writeFakeSysfs(odd, { ...machine.hardware, dmi: { ...machine.hardware.dmi, productName: 'P'.repeat(10_000) } })
    const inv = await collectInventory({ sysfsRoot: odd, systemInformation: false })
    expect(Inventory.safeParse(inv).success).toBe(true)
    expect(inv.system.product).toHaveLength(256)
    expect(summarizeInventory(inv).product).toHaveLength(128)
  })

  it('rejects a nonsense timeout up front', async () => {
    await expect(collectInventory({ timeoutMs: 0 })).rejects.toThrow(/timeoutMs/)
  })

  it('collects this machine for real (systeminformation + /sys)', async () => {
    const inv = await collectInventory({ timeoutMs: 30_000 })
    expect(Inventory.safeParse(inv).success).toBe(true)
    expect(inv.cpu.model).toBeTruthy()
    expect(inv.memory.totalBytes).toBeGreaterThan(0)
    expect(InventorySummary.safeParse(summarizeInventory(inv)).success).toBe(true)
  })
})

describe('summarizeInventory', () => {
  it('fits the protocol\'s InventorySummary and adds up the parts', () => {
    const s = summarizeInventory(machine.inventory)
    expect(InventorySummary.safeParse(s).success).toBe(true)
    expect(s).toMatchObject({ vendor: machine.hardware.dmi.sysVendor, disks: 8, nics: 1, memoryBytes: machine.hardware.dimms.reduce((n, d) => n + d.sizeBytes!, 0) })
    expect(s.diskBytes).toBe(machine.hardware.disks.reduce((n, d) => n + d.sizeBytes!, 0))
  })

  it('leaves out what is unknown instead of claiming zero, and truncates long strings', () => {
    const inv = { ...machine.inventory, disks: [], unknown: ['disks', 'gpus'], system: { vendor: 'V'.repeat(300) } }
    const s = summarizeInventory(inv)
    expect(s.disks).toBeUndefined()
    expect(s.gpus).toBeUndefined()
    expect(s.vendor).toHaveLength(128)
  })
})
