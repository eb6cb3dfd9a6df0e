/**
 * Builds one image version: stages each layer, compresses it to SquashFS (reusing a cached
 * image when the staged tree is unchanged), copies the boot files, and writes the signed
 * manifest. Output layout, which the coordinator serves as /images/{version}/…:
 *   {outDir}/{version}/{layer}.squashfs  vmlinuz  initramfs.img  manifest.json  manifest.json.sig
 */
import { copyFile, mkdir, rm, stat, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ShoalError } from '../agent/protocol/errors.js'
import type { Keyring } from '../agent/protocol/ports.js'
import { ImageVersion } from '../agent/protocol/image-version.js'
import type { ManifestFile } from '../agent/protocol/enroll/index.js'
import type { LayerSpec } from './layer-spec.js'
import { SIGNED_FILE, SOURCE_FILE, manifestSource, signedManifest, type BuiltFiles, type Role } from './manifest.js'
import { mksquashfs, sha256File, treeHash } from './squashfs.js'
import { allLayers, defaultStacks } from './specs/index.js'

export interface BuildVersionOptions {
  version: string
  /** Images root; the version goes to outDir/version. */
  outDir: string
  /** With clusterId: also write manifest.signed.json, signed by this cluster key. */
  clusterKey?: Keyring
  clusterId?: string
  repoRoot: string
  cacheDir: string
  /** Layer specs to build (default: all four). */
  layers?: readonly LayerSpec[]
  /** Role -> layer names, lowest first (default: the worker and controller stacks whose layers are built). */
  stacks?: Partial<Record<Role, readonly string[]>>
  /** Kernel and initramfs shipped beside the layers (served to iPXE as vmlinuz, initramfs.img). */
  kernelPath: string
  initramfsPath: string
  /** Progress lines for the CLI; silent by default. */
  log?: (line: string) => void
  /** Build time for createdAt (informational). */
  now?: () => Date
}

export interface BuiltVersion {
  dir: string
  built: BuiltFiles
}

export const KERNEL_FILE = 'vmlinuz'
export const INITRAMFS_FILE = 'initramfs.img'

export async function buildVersion(opts: BuildVersionOptions): Promise<BuiltVersion> {
  const version = ImageVersion.parse(opts.version)
  const specs = opts.layers ?? allLayers
  const log = opts.log ?? (() => {})
  const dir = join(opts.outDir, version)
  await mkdir(dir, { recursive: true })
  const files: ManifestFile[] = []
  for (const spec of specs) {
    const t0 = performance.now()
    const stageDir = join(opts.cacheDir, 'stage', version, spec.name)
    await rm(stageDir, { recursive: true, force: true })
    await mkdir(stageDir, { recursive: true })
    await spec.stage({ root: stageDir, version, repoRoot: opts.repoRoot, cacheDir: opts.cacheDir })
    const hash = await treeHash(stageDir)
    const cached = join(opts.cacheDir, 'squashfs', `${spec.name}-${hash.slice(0, 24)}.squashfs`)
    let reused = true
    if (!existsSync(cached)) {
      reused = false
      await mkdir(join(opts.cacheDir, 'squashfs'), { recursive: true })
      await mksquashfs(stageDir, cached)
    }
    const entry = await placeFile(cached, join(dir, `${spec.name}.squashfs`))
    files.push(entry)
    await rm(stageDir, { recursive: true, force: true })
    log(`layer ${spec.name}: ${(entry.size / 1048576).toFixed(1)} MiB sha256 ${entry.sha256.slice(0, 12)}… ${reused ? '(cached) ' : ''}${Math.round(performance.now() - t0)} ms`)
  }
  const built = new Set(specs.map((l) => l.name))
  const stacks: Partial<Record<Role, string[]>> = {}
  for (const [role, names] of Object.entries(opts.stacks ?? defaultStacks) as [Role, readonly string[]][]) {
    if (names.every((n) => built.has(n))) stacks[role] = names.map((n) => `${n}.squashfs`)
    else if (opts.stacks) throw new ShoalError('usage', `stack ${role} needs layers ${names.join(', ')}; build them too`)
  }
  files.push(await placeFile(opts.kernelPath, join(dir, KERNEL_FILE)))
  files.push(await placeFile(opts.initramfsPath, join(dir, INITRAMFS_FILE)))
  const result: BuiltFiles = { version, files, stacks, kernel: KERNEL_FILE, initramfs: INITRAMFS_FILE, createdAt: (opts.now?.() ?? new Date()).toISOString() }
  await writeFile(join(dir, SOURCE_FILE), JSON.stringify(manifestSource(result), null, 2) + '\n')
  if (opts.clusterKey && opts.clusterId) {
    await writeFile(join(dir, SIGNED_FILE), JSON.stringify(signedManifest(result, opts.clusterId, opts.clusterKey), null, 2) + '\n')
    log(`manifest ${version}: ${files.length} files, signed for cluster ${opts.clusterId} by ${opts.clusterKey.publicKey.slice(0, 16)}…`)
  } else {
    log(`manifest ${version}: ${files.length} files (unsigned source; the coordinator signs it)`)
  }
  return { dir, built: result }
}

/** Copies src to dest (never a hard link: editing a served file in a tamper test must not reach the cache). */
async function placeFile(src: string, dest: string): Promise<ManifestFile> {
  if (!existsSync(src)) throw new ShoalError('not-found', `${src} does not exist`)
  await rm(dest, { force: true })
  await copyFile(src, dest)
  return { name: dest.slice(dest.lastIndexOf('/') + 1), sha256: await sha256File(dest), size: (await stat(dest)).size }
}
