/**
 * What the builder writes beside the layers of one version, in the coordinator's formats
 * (agent/protocol/enroll/enroll-api.ts, the one definition):
 *   manifest.json         ManifestSource: every file's sha256 and size, the worker stack
 *                         (lowest first), kernel and initramfs, plus `stacks` per role. The
 *                         coordinator re-hashes the files against it and serves the signed
 *                         Manifest at /images/{version}/manifest.
 *   manifest.signed.json  the signed Manifest itself, when the builder is given the cluster
 *                         key and id: the same object the coordinator serves, verifiable
 *                         offline (verifyManifest) without a coordinator.
 * Pure: no IO.
 */
import type { Keyring } from '../agent/protocol/ports.js'
import { ENROLL_API_VERSION, type Manifest, type ManifestFile, ManifestSource, signManifest } from '../agent/protocol/enroll/index.js'

export const SOURCE_FILE = 'manifest.json'
export const SIGNED_FILE = 'manifest.signed.json'

export type Role = 'worker' | 'controller'


export interface BuiltFiles {
  version: string
  /** Every file of the version (layers, kernel, initramfs), with hash and size. */
  files: ManifestFile[]
  /** Role -> layer file names, lowest first. */
  stacks: Partial<Record<Role, string[]>>
  kernel: string
  initramfs: string
  /** ISO build time; informational. */
  createdAt: string
}

/** The unsigned manifest.json the coordinator reads; the worker stack is the served one. */
export function manifestSource(b: BuiltFiles): ManifestSource & { stacks: BuiltFiles['stacks']; createdAt: string } {
  const source = {
    version: b.version,
    files: b.files,
    layers: b.stacks.worker ?? [],
    kernel: b.kernel,
    initramfs: b.initramfs,
    stacks: b.stacks,
    createdAt: b.createdAt,
  }
  ManifestSource.parse(source)
  return source
}

/** The worker's signed Manifest, exactly as the coordinator of `cluster` would serve it. */
export function signedManifest(b: BuiltFiles, cluster: string, clusterKey: Keyring): Manifest {
  return signManifest(
    { v: ENROLL_API_VERSION, cluster, version: b.version, files: b.files, layers: b.stacks.worker ?? [], kernel: b.kernel, initramfs: b.initramfs },
    clusterKey,
  )
}
