import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ed25519Keyring } from '../agent/protocol/ed25519.js'
import { buildVersion } from './build-version.js'
import type { LayerSpec } from './layer-spec.js'
import { ManifestSource, verifyManifest } from '../agent/protocol/enroll/index.js'
import { writeFileSync } from 'node:fs'
import { sha256File } from './squashfs.js'
import { put } from './stage.js'

const hasMksquashfs = (() => {
  try {
    execFileSync('mksquashfs', ['-version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()
if (!hasMksquashfs) console.log('skipping layer build tests: mksquashfs not installed (npm run setup)')

const tiny = (name: string): LayerSpec => ({
  name,
  description: 'test layer',
  archPackages: [],
  stage: async ({ root, version }) => put(root, `etc/${name}`, `${name} ${version}\n`),
})

describe.skipIf(!hasMksquashfs)('buildVersion', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'shoal-layers-'))
  afterAll(() => rmSync(tmp, { recursive: true, force: true }))
  const key = ed25519Keyring(new Uint8Array(32).fill(3))
  const kernel = join(tmp, 'kernel')
  const initrd = join(tmp, 'initrd')
  writeFileSync(kernel, 'kernel bytes')
  writeFileSync(initrd, 'initrd bytes')
  const build = (version: string) =>
    buildVersion({
      version, outDir: join(tmp, 'images'), clusterKey: key, clusterId: 'lab', repoRoot: tmp, cacheDir: join(tmp, 'cache'),
      layers: [tiny('base'), tiny('worker')], stacks: { worker: ['base', 'worker'] }, kernelPath: kernel, initramfsPath: initrd,
    })

  it('writes SquashFS layers, a manifest source the coordinator reads, and a manifest signed by the cluster key', async () => {
    const { dir } = await build('v1')
    const source = ManifestSource.parse(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')))
    expect(source.layers).toEqual(['base.squashfs', 'worker.squashfs'])
    expect(source.kernel).toBe('vmlinuz')
    const signed = verifyManifest(JSON.parse(readFileSync(join(dir, 'manifest.signed.json'), 'utf8')), key.publicKey, { cluster: 'lab', version: 'v1' })
    expect(signed.ok).toBe(true)
    if (!signed.ok) return
    for (const f of signed.value.files) expect(await sha256File(join(dir, f.name))).toBe(f.sha256)
    for (const name of ['base', 'worker']) {
      const content = execFileSync('unsquashfs', ['-cat', join(dir, `${name}.squashfs`), `etc/${name}`]).toString()
      expect(content).toBe(`${name} v1\n`)
    }
    expect(verifyManifest(JSON.parse(readFileSync(join(dir, 'manifest.signed.json'), 'utf8')), ed25519Keyring(new Uint8Array(32).fill(4)).publicKey).ok).toBe(false)
  })

  it('makes a v2 whose layers differ from v1, and rejects a version that is not a path segment', async () => {
    const v1 = (await build('v1')).built
    const v2 = (await build('v2')).built
    expect(v2.files[0]!.sha256).not.toBe(v1.files[0]!.sha256)
    expect(existsSync(join(tmp, 'images/v2/worker.squashfs'))).toBe(true)
    await expect(build('../v3')).rejects.toThrow(/image version/)
  })
})
