/**
 * The image manifest of one version: every layer's file name, sha256 and size, which layers
 * stack into which role's root (lowest first), and the boot files. It travels as two files
 * served side by side by the coordinator under /images/{version}/:
 *   manifest.json      the exact bytes that were signed (pretty JSON, readable by operators)
 *   manifest.json.sig  the ed25519 signature of those bytes by the cluster key, as 128 hex chars
 * Verifying the exact bytes means no canonical re-encoding is ever needed. Pure: no IO.
 */
import { z } from 'zod'
import { ShoalError } from '../agent/protocol/errors.js'
import type { Keyring } from '../agent/protocol/ports.js'

export const MANIFEST_VERSION = 1
export const MANIFEST_FILE = 'manifest.json'
export const SIGNATURE_FILE = 'manifest.json.sig'

/** An image version such as "v1" or "2026.11.23-1": safe as one URL path segment and a directory name. */
export const ImageVersion = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'image version: letters, digits, . _ - only, not starting with . _ -')
export const LayerName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'layer name: lowercase letters, digits, -')
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'sha256: 64 lowercase hex characters')
const FileName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'file name: one path segment')

export const ManifestFile = z.object({ file: FileName, sha256: Sha256Hex, sizeBytes: z.number().int().nonnegative() }).strict()
export type ManifestFile = z.infer<typeof ManifestFile>

export const ManifestLayer = ManifestFile.extend({ name: LayerName }).strict()
export type ManifestLayer = z.infer<typeof ManifestLayer>

export const Role = z.enum(['worker', 'controller'])
export type Role = z.infer<typeof Role>

export const Manifest = z
  .object({
    v: z.literal(MANIFEST_VERSION),
    version: ImageVersion,
    /** ISO time of the build; informational only (never compared). */
    createdAt: z.string().max(40),
    layers: z.array(ManifestLayer).min(1).max(32),
    /** Role -> layer names, lowest first (overlayfs lowerdir order is the reverse). */
    stacks: z.partialRecord(Role, z.array(LayerName).min(1).max(32)),
    kernel: ManifestFile.optional(),
    initramfs: ManifestFile.optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    const names = new Set<string>()
    for (const l of m.layers) {
      if (names.has(l.name)) ctx.addIssue({ code: 'custom', message: `layer "${l.name}" listed twice` })
      names.add(l.name)
    }
    for (const [role, stack] of Object.entries(m.stacks)) {
      for (const n of stack ?? []) {
        if (!names.has(n)) ctx.addIssue({ code: 'custom', message: `stack ${role} names unknown layer "${n}"` })
      }
    }
  })
export type Manifest = z.infer<typeof Manifest>

export interface SignedManifest {
  /** The bytes of manifest.json. */
  json: Uint8Array
  /** Contents of manifest.json.sig: hex signature plus a newline. */
  sig: string
}

/** Validates, encodes and signs a manifest with the cluster key. */
export function signManifest(manifest: Manifest, clusterKey: Keyring): SignedManifest {
  const valid = Manifest.parse(manifest)
  const json = new TextEncoder().encode(JSON.stringify(valid, null, 2) + '\n')
  return { json, sig: Buffer.from(clusterKey.sign(json)).toString('hex') + '\n' }
}

/**
 * Checks the signature of manifest.json bytes against the cluster public key, then parses
 * them. Throws ShoalError('bad-signature' | 'malformed') saying what is wrong; never
 * returns a manifest whose bytes were not signed by that key.
 */
export function openManifest(
  json: Uint8Array,
  sigText: string,
  clusterKeyHex: string,
  verify: Keyring['verify'],
): Manifest {
  const sigHex = sigText.trim()
  if (!/^[0-9a-f]{128}$/.test(sigHex)) {
    throw new ShoalError('bad-signature', `${SIGNATURE_FILE} is not a 128-hex-character ed25519 signature; rebuild the layers with \`npm run layers\``)
  }
  if (!verify(clusterKeyHex, json, Buffer.from(sigHex, 'hex'))) {
    throw new ShoalError(
      'bad-signature',
      `${MANIFEST_FILE} is not signed by cluster key ${clusterKeyHex.slice(0, 16)}…: it was altered or built with another key; rebuild with the cluster key (npm run layers -- --key FILE)`,
    )
  }
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json))
  } catch (err) {
    throw new ShoalError('malformed', `${MANIFEST_FILE} is signed but not valid JSON`, { cause: err })
  }
  const parsed = Manifest.safeParse(raw)
  if (!parsed.success) {
    throw new ShoalError('malformed', `${MANIFEST_FILE} is signed but does not match the schema: ${parsed.error.issues[0]?.message}`)
  }
  return parsed.data
}

/** The layers of `role`, lowest first, with their hashes. Throws if the manifest has no such stack. */
export function stackOf(manifest: Manifest, role: Role): ManifestLayer[] {
  const names = manifest.stacks[role]
  if (!names) throw new ShoalError('not-found', `image ${manifest.version} has no ${role} stack; build it with that role`)
  return names.map((n) => manifest.layers.find((l) => l.name === n)!)
}
