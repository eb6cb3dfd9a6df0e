/**
 * The verify-then-mount step: the only way a layer gets mounted. It checks the manifest's
 * signature against the pinned cluster key, then every downloaded layer's measured sha256
 * and size against the manifest, and only when all of that holds mounts the layers
 * (SquashFS, read-only, through loop devices) and stacks them with overlayfs on a tmpfs
 * upper at the new root. Any mismatch throws ShoalError('layer-tampered' | 'bad-manifest')
 * before the first mount: a tampered layer is never mounted.
 */
import { join } from 'node:path'
import { ShoalError } from '../protocol/errors.js'
import { type Manifest, verifyManifest } from '../protocol/enroll/index.js'

/** Mount operations (production: busybox/util-linux mount; tests: a recording fake). */
export interface Mounter {
  mkdirp(dir: string): Promise<void>
  /** Mounts a SquashFS image file read-only through a loop device. */
  squashfs(file: string, dir: string): Promise<void>
  tmpfs(dir: string): Promise<void>
  /** overlayfs with `lowerTopFirst` as lowerdir (leftmost wins), `upper` writable. */
  overlay(lowerTopFirst: readonly string[], upper: string, work: string, target: string): Promise<void>
}

/** A downloaded layer as measured while it was written. */
export interface FetchedLayer {
  name: string
  path: string
  sha256: string
  size: number
}

export interface ManifestPin {
  clusterKey: string
  cluster: string
  version: string
}

/** Verifies a manifest as served; throws 'bad-manifest' saying why. */
export function openManifest(raw: unknown, pin: ManifestPin): Manifest {
  const r = verifyManifest(raw, pin.clusterKey, { cluster: pin.cluster, version: pin.version })
  if (!r.ok) throw new ShoalError('bad-manifest', `manifest of image ${pin.version} refused (${r.reason}): ${r.detail}`)
  return r.value
}

/** The manifest's entry for each layer, lowest first. */
export function layerEntries(m: Manifest): Manifest['files'] {
  return m.layers.map((name) => m.files.find((f) => f.name === name)!)
}

/** Compares measured layers with the manifest; throws 'layer-tampered' naming the first mismatch. */
export function checkLayers(m: Manifest, fetched: readonly FetchedLayer[]): FetchedLayer[] {
  const out: FetchedLayer[] = []
  for (const want of layerEntries(m)) {
    const got = fetched.find((f) => f.name === want.name)
    if (!got) throw new ShoalError('layer-missing', `layer ${want.name} of image ${m.version} was not downloaded`)
    if (got.size !== want.size || got.sha256 !== want.sha256) {
      throw new ShoalError(
        'layer-tampered',
        `layer ${want.name} of image ${m.version} does not match the signed manifest (sha256 ${got.sha256.slice(0, 16)}…, ${got.size} bytes; ` +
          `expected ${want.sha256.slice(0, 16)}…, ${want.size} bytes): not mounting it`,
      )
    }
    out.push(got)
  }
  return out
}

export interface StackDirs {
  /** Parent of the SquashFS mount points and the tmpfs upper. */
  stackDir: string
}

/**
 * Verifies, then mounts. Returns the mount points (lowest first) for the log. `rawManifest`
 * is the manifest as served: it is verified here again, so no caller can skip the check.
 */
export async function verifyAndMountRoot(
  rawManifest: unknown,
  pin: ManifestPin,
  fetched: readonly FetchedLayer[],
  newRoot: string,
  dirs: StackDirs,
  mounter: Mounter,
): Promise<string[]> {
  const manifest = openManifest(rawManifest, pin)
  const layers = checkLayers(manifest, fetched)
  const lowers: string[] = []
  for (const l of layers) {
    const dir = join(dirs.stackDir, 'lower', l.name.replace(/\.squashfs$/, ''))
    await mounter.mkdirp(dir)
    await mounter.squashfs(l.path, dir)
    lowers.push(dir)
  }
  const rw = join(dirs.stackDir, 'rw')
  await mounter.mkdirp(rw)
  await mounter.tmpfs(rw)
  await mounter.mkdirp(join(rw, 'upper'))
  await mounter.mkdirp(join(rw, 'work'))
  await mounter.mkdirp(newRoot)
  await mounter.overlay([...lowers].reverse(), join(rw, 'upper'), join(rw, 'work'), newRoot)
  return lowers
}
