import { execFileSync } from 'node:child_process'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { syntheticMachine } from '../../sim/synthetic-machines.js'
import { collectComponents, fingerprintMachine } from './fingerprint-machine.js'
import { writeFakeSysfs } from './fake-sysfs.js'
import { screenComponents } from './resolve-identity.js'
import { ShoalError } from '../protocol/errors.js'

const dirs: string[] = []
async function tree(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'shoal-sysfs-'))
  dirs.push(d)
  return d
}
afterEach(async () => {
  while (dirs.length) await rm(dirs.pop()!, { recursive: true, force: true })
})

async function written(m: ReturnType<typeof syntheticMachine>): Promise<string> {
  const root = await tree()
  await writeFakeSysfs(root, m.hardware)
  return root
}

const key = (c: { kind: string; value: string }) => `${c.kind}=${c.value}`

describe('collectors on fake /sys trees', () => {
  it('reads back exactly the components of synthetic machines of every profile', async () => {
    const seen = new Set<string>()
    for (let i = 0; seen.size < 6 && i < 2000; i += 40) {
      const m = syntheticMachine(i, 7)
      if (seen.has(m.profile)) continue
      seen.add(m.profile)
      const root = await tree()
      await writeFakeSysfs(root, m.hardware)
      const got = await collectComponents({ sysfsRoot: root })
      // cpuinfo does not exist in a fake tree: the model comes from SMBIOS type 4 instead.
      const want = m.components.map((c) => key(c)).sort()
      expect(got.components.map(key).sort(), m.profile).toEqual(want)
      expect(screenComponents(got.components).comps).toEqual(screenComponents(m.components).comps)
    }
    expect(seen.size).toBe(6)
  })

  it('skips virtual NICs and virtual block devices, and says why', async () => {
    const root = await tree()
    await writeFakeSysfs(root, syntheticMachine(0, 1).hardware)
    const got = await collectComponents({ sysfsRoot: root })
    const skipped = Object.fromEntries(got.skipped.map((s) => [s.label, s.reason]))
    expect(skipped).toMatchObject({ lo: expect.stringContaining('virtual'), veth1a2b3c: expect.any(String), docker0: expect.any(String), cali0123456789a: expect.any(String), int0: 'virtual interface (no device)', loop0: 'virtual block device', zram0: 'virtual block device' })
    expect(got.components.some((c) => c.label === 'int0' || c.label === 'lo')).toBe(false)
  })

  it('uses a bond slave\'s permanent MAC, not the MAC the bond lent it', async () => {
    const root = await tree()
    await writeFakeSysfs(root, { ...syntheticMachine(0, 1).hardware, nics: [] }, { virtualDevices: false })
    await mkdir(join(root, 'class/net/eno1/device'), { recursive: true })
    await writeFile(join(root, 'class/net/eno1/address'), '02:00:00:00:00:aa\n')
    await writeFile(join(root, 'class/net/eno1/addr_assign_type'), '3\n')
    await mkdir(join(root, 'class/net/eno1/bonding_slave'), { recursive: true })
    await writeFile(join(root, 'class/net/eno1/bonding_slave/perm_hwaddr'), 'b0:26:28:12:34:56\n')
    await mkdir(join(root, 'class/net/eno2/device'), { recursive: true })
    await writeFile(join(root, 'class/net/eno2/address'), '5a:11:22:33:44:55\n')
    await writeFile(join(root, 'class/net/eno2/addr_assign_type'), '1\n')
    const got = await collectComponents({ sysfsRoot: root })
    expect(got.components.filter((c) => c.kind === 'nic').map((c) => c.value)).toEqual(['b0:26:28:12:34:56'])
    expect(got.skipped).toContainEqual({ label: 'eno2', reason: 'MAC is random; permanent address unknown' })
  })

  it('missing entries are no error: a tree with only a disk still identifies the machine', async () => {
    const root = await tree()
    await mkdir(join(root, 'block/sda/device'), { recursive: true })
    await writeFile(join(root, 'block/sda/device/wwid'), 'naa.5000c500a1b2c3d4\n')
    await mkdir(join(root, 'class/net/eno1/device'), { recursive: true })
    await writeFile(join(root, 'class/net/eno1/address'), 'b0:26:28:00:00:01\n')
    const r = await fingerprintMachine({ sysfsRoot: root })
    expect(r.decision).toBe('new')
    expect(r.comps.map((c) => c.split(':')[0])).toEqual(['wwn', 'nic'])
    expect(r.unknown).toEqual(expect.arrayContaining(['dmi', 'memory modules', 'cpu model']))
    expect(r.warnings.join('\n')).toContain('no DMI tables')
  })

  it('an unreadable file becomes unknown plus a warning, never a crash', async () => {
    const root = await tree()
    await writeFakeSysfs(root, syntheticMachine(0, 1).hardware)
    // As root every file is readable; a directory where a file should be fails the same way (EISDIR).
    await rm(join(root, 'class/dmi/id/product_serial'))
    await mkdir(join(root, 'class/dmi/id/product_serial'))
    const got = await collectComponents({ sysfsRoot: root })
    expect(got.warnings.some((w) => w.includes('class/dmi/id/product_serial') && w.includes('EISDIR'))).toBe(true)
    expect(got.components.some((c) => c.kind === 'sys')).toBe(false)
    expect(got.components.some((c) => c.kind === 'uuid')).toBe(true)
  })

  it('a read that hangs (a FIFO nobody writes) is cut off at the deadline and reported', async () => {
    const root = await tree()
    await writeFakeSysfs(root, syntheticMachine(0, 1).hardware)
    await rm(join(root, 'class/dmi/id/board_serial'), { force: true })
    execFileSync('mkfifo', [join(root, 'class/dmi/id/board_serial')])
    const got = await collectComponents({ sysfsRoot: root, sourceTimeoutMs: 1500 })
    expect(got.unknown).toContain('dmi')
    expect(got.warnings.join('\n')).toMatch(/reading dmi took longer than 1500 ms/)
    // The other sources still answered.
    expect(got.components.some((c) => c.kind === 'wwn' || c.kind === 'disk')).toBe(true)
    // Unblock the thread-pool read so the test process can exit cleanly.
    await writeFile(join(root, 'class/dmi/id/board_serial'), 'x\n').catch(() => {})
  })

  it('garbage in files (binary junk, a truncated SMBIOS entry) is ignored with a warning', async () => {
    const root = await tree()
    await mkdir(join(root, 'firmware/dmi/entries/17-0'), { recursive: true })
    await writeFile(join(root, 'firmware/dmi/entries/17-0/raw'), Buffer.from([17, 200, 1]))
    await mkdir(join(root, 'block/sda'), { recursive: true })
    await writeFile(join(root, 'block/sda/serial'), Buffer.from([0xff, 0xfe, 0, 0, 1, 2]))
    await writeFile(join(root, 'block/sda/size'), 'not a number\n')
    const got = await collectComponents({ sysfsRoot: root })
    expect(got.warnings.join('\n')).toContain('not a valid memory device structure')
    expect(got.hardware.disks[0]?.sizeBytes).toBeUndefined()
  })

  it('no usable component: a clear error naming what was missing, and the operator id as fallback', async () => {
    const root = await tree()
    await mkdir(join(root, 'class/dmi/id'), { recursive: true })
    await writeFile(join(root, 'class/dmi/id/product_serial'), 'To Be Filled By O.E.M.\n')
    await writeFile(join(root, 'class/dmi/id/product_uuid'), '03000200-0400-0500-0006-000700080009\n')
    const err = await fingerprintMachine({ sysfsRoot: root }).catch((e) => e)
    expect(err).toBeInstanceOf(ShoalError)
    expect(err.code).toBe('no-identity')
    expect(err.message).toMatch(/vendor placeholders/)
    expect(err.message).toMatch(/shoal\.node_id=NAME/)
    const r = await fingerprintMachine({ sysfsRoot: root, fallbackId: 'rack3-node7' })
    expect(r).toMatchObject({ id: 'rack3-node7', decision: 'operator' })
    await expect(fingerprintMachine({ sysfsRoot: root, fallbackId: 'Not_A_Label' })).rejects.toThrow(/DNS label/)
  })

  it('falls back to a second source (systeminformation\'s view) only when /sys has nothing usable', async () => {
    const m = syntheticMachine(0, 1)
    const empty = await tree()
    const r = await fingerprintMachine({ sysfsRoot: empty, secondary: m.components.map((c) => ({ ...c, source: 'systeminformation' })) })
    expect(r.id).toBe((await fingerprintMachine({ sysfsRoot: await written(m) })).id)
    expect(r.warnings.join()).toMatch(/using what systeminformation saw/)
    // With a usable /sys the second source is ignored: the id never flips between sources.
    const full = await fingerprintMachine({ sysfsRoot: await written(m), secondary: [{ kind: 'nic', value: 'aa:bb:cc:00:00:01', source: 'systeminformation' }] })
    expect(full.components.some((c) => c.source === 'systeminformation')).toBe(false)
  })

  it('an empty directory and a missing directory both give the no-identity error', async () => {
    const root = await tree()
    await expect(fingerprintMachine({ sysfsRoot: root })).rejects.toThrow(/no DMI ids, no disk serials/)
    await expect(fingerprintMachine({ sysfsRoot: join(root, 'nope') })).rejects.toThrow(/no usable hardware identity/)
  })
})
