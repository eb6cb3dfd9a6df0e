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
import type { LayerSpec } from './layer-spec.js'
import { MANIFEST_FILE, SIGNATURE_FILE, signManifest, type Manifest, type ManifestFile, type ManifestLayer, type Role, ImageVersion } from './manifest.js'
import { mksquashfs, sha256File, treeHash } from './squashfs.js'
import { allLayers, defaultStacks } from './specs/index.js'

export interface BuildVersionOptions {
  version: string
  /** Images root; the version goes to outDir/version. */
  outDir: string
  /** The cluster key that signs the manifest. */
  clusterKey: Keyring
  repoRoot: string
  cacheDir: string
  /** Layer specs to build (default: all four). */
  layers?: readonly LayerSpec[]
  /** Role -> layer names, lowest first (default: worker and controller stacks of the layers built). */
  stacks?: Partial<Record<Role, readonly string[]>>
  /** Kernel and initramfs to ship beside the layers (served to iPXE). */
  kernelPath?: string
  initramfsPath?: string
  /** Progress lines for the CLI; silent by default. */
  log?: (line: string) => void
  /** Injected for the manifest's createdAt (a build time, informational). */
  now?: () => Date
}

export interface BuiltVersion {
  dir: string
  manifest: Manifest
}

export async function buildVersion(opts: BuildVersionOptions): Promise<BuiltVersion> {
  const version = ImageVersion.parse(opts.version)
  const specs = opts.layers ?? allLayers
  const log = opts.log ?? (() => {})
  const dir = join(opts.outDir, version)
  await mkdir(dir, { recursive: true })
  const layers: ManifestLayer[] = []
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
    const file = `${spec.name}.squashfs`
    await placeFile(cached, join(dir, file))
    const entry: ManifestLayer = { name: spec.name, file, sha256: await sha256File(join(dir, file)), sizeBytes: (await stat(join(dir, file))).size }
    layers.push(entry)
    await rm(stageDir, { recursive: true, force: true })
    log(`layer ${spec.name}: ${(entry.sizeBytes / 1048576).toFixed(1)} MiB sha256 ${entry.sha256.slice(0, 12)}… ${reused ? '(cached)' : ''} ${Math.round(performance.now() - t0)} ms`)
  }
  const built = new Set(layers.map((l) => l.name))
  const stacks: Partial<Record<Role, string[]>> = {}
  for (const [role, names] of Object.entries(opts.stacks ?? defaultStacks) as [Role, readonly string[]][]) {
    if (names.every((n) => built.has(n))) stacks[role] = [...names]
    else if (opts.stacks) throw new ShoalError('usage', `stack ${role} needs layers ${names.join(', ')}; build them too`)
  }
  const manifest: Manifest = {
    v: 1,
    version,
    createdAt: (opts.now?.() ?? new Date()).toISOString(),
    layers,
    stacks,
    kernel: opts.kernelPath ? await bootFile(opts.kernelPath, join(dir, 'vmlinuz')) : undefined,
    initramfs: opts.initramfsPath ? await bootFile(opts.initramfsPath, join(dir, 'initramfs.img')) : undefined,
  }
  if (!manifest.kernel) delete manifest.kernel
  if (!manifest.initramfs) delete manifest.initramfs
  const signed = signManifest(manifest, opts.clusterKey)
  await writeFile(join(dir, MANIFEST_FILE), signed.json)
  await writeFile(join(dir, SIGNATURE_FILE), signed.sig)
  log(`manifest ${version}: ${layers.length} layers, signed by ${opts.clusterKey.publicKey.slice(0, 16)}…`)
  return { dir, manifest }
}

async function bootFile(src: string, dest: string): Promise<ManifestFile> {
  if (!existsSync(src)) throw new ShoalError('not-found', `${src} does not exist`)
  await placeFile(src, dest)
  return { file: dest.slice(dest.lastIndexOf('/') + 1), sha256: await sha256File(dest), sizeBytes: (await stat(dest)).size }
}

/** A copy, never a hard link: editing a served file (a tamper test) must not reach the cache. */
async function placeFile(src: string, dest: string): Promise<void> {
  await rm(dest, { force: true })
  await copyFile(src, dest)
}
