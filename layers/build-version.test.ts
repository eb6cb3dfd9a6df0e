import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ed25519Keyring, ed25519Verify } from '../agent/protocol/ed25519.js'
import { buildVersion } from './build-version.js'
import type { LayerSpec } from './layer-spec.js'
import { openManifest } from './manifest.js'
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
  const build = (version: string) =>
    buildVersion({ version, outDir: join(tmp, 'images'), clusterKey: key, repoRoot: tmp, cacheDir: join(tmp, 'cache'), layers: [tiny('base'), tiny('worker')], stacks: { worker: ['base', 'worker'] } })

  it('writes SquashFS layers whose hashes and sizes the signed manifest lists', async () => {
    const { dir } = await build('v1')
    const m = openManifest(readFileSync(join(dir, 'manifest.json')), readFileSync(join(dir, 'manifest.json.sig'), 'utf8'), key.publicKey, ed25519Verify)
    expect(m.stacks.worker).toEqual(['base', 'worker'])
    for (const l of m.layers) {
      expect(await sha256File(join(dir, l.file))).toBe(l.sha256)
      const listing = execFileSync('unsquashfs', ['-cat', join(dir, l.file), `etc/${l.name}`]).toString()
      expect(listing).toBe(`${l.name} v1\n`)
    }
  })

  it('makes a v2 whose layers differ from v1, and rejects a version that is not a path segment', async () => {
    const v1 = (await build('v1')).manifest
    const v2 = (await build('v2')).manifest
    expect(v2.layers[0]!.sha256).not.toBe(v1.layers[0]!.sha256)
    expect(existsSync(join(tmp, 'images/v2/worker.squashfs'))).toBe(true)
    await expect(build('../v3')).rejects.toThrow(/image version/)
  })
})
