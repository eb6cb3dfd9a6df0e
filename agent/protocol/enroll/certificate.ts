/**
 * Signing and offline verification of the three things the cluster key signs: membership
 * certificates, rosters and image manifests. Pure (zod + node:crypto's ed25519, no IO,
 * no clock): the agent imports this in the initramfs and on the mesh to check what it got
 * without asking anyone.
 *
 * Signed bytes = utf8(domain + "\n" + canonicalJson(body)), where body is the object
 * without its `signature` field and canonicalJson sorts object keys. The domain string
 * keeps a signature over one kind from being accepted as another.
 */
import { z } from 'zod'
import { ed25519Verify } from '../ed25519.js'
import type { Keyring } from '../ports.js'
import { signAs, taggedBytes, verifyAs } from '../signing.js'
import {
  Certificate,
  CertificateBody,
  Manifest,
  ManifestBody,
  RosterBody,
  SignedRoster,
} from './enroll-api.js'

export const SIGNING_DOMAINS = {
  certificate: 'shoal/certificate/v1',
  roster: 'shoal/roster/v1',
  manifest: 'shoal/manifest/v1',
} as const
type Domain = keyof typeof SIGNING_DOMAINS

/** JSON with object keys sorted at every level; rejects values JSON cannot round-trip. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number')
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  throw new TypeError(`canonicalJson: cannot encode ${typeof value}`)
}

/** utf8(domain + "\n" + canonicalJson(body)): the explicit-tag layout of agent/protocol/signing.ts. */
export function signingBytes(domain: Domain, body: unknown): Uint8Array {
  return taggedBytes(SIGNING_DOMAINS[domain], canonicalJson(body))
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/** Why a signed object was not accepted. */
export type VerifyFailure = 'schema' | 'bad-signature' | 'wrong-cluster'
export type Verified<T> = { ok: true; value: T } | { ok: false; reason: VerifyFailure; detail: string }

function verifySigned<B extends z.ZodTypeAny, S extends z.ZodTypeAny>(
  domain: Domain,
  signedSchema: S,
  bodySchema: B,
  input: unknown,
  clusterKeyHex: string,
  cluster: string | undefined,
): Verified<z.infer<S>> {
  const parsed = signedSchema.safeParse(input)
  if (!parsed.success) {
    return { ok: false, reason: 'schema', detail: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') }
  }
  const { signature, ...rest } = parsed.data as { signature: string } & Record<string, unknown>
  const body = bodySchema.parse(rest)
  if (cluster !== undefined && (body as { cluster: string }).cluster !== cluster) {
    return { ok: false, reason: 'wrong-cluster', detail: `signed for cluster "${(body as { cluster: string }).cluster}", expected "${cluster}"` }
  }
  if (!verifyAs(domain, clusterKeyHex, signingBytes(domain, body), Buffer.from(signature, 'hex'), { verify: ed25519Verify })) {
    return { ok: false, reason: 'bad-signature', detail: `${domain} signature does not verify against cluster key ${clusterKeyHex.slice(0, 16)}…` }
  }
  return { ok: true, value: parsed.data }
}

// --- certificates ----------------------------------------------------------------------

export function signCertificate(body: CertificateBody, clusterKeyring: Keyring): Certificate {
  const b = CertificateBody.parse(body)
  return { ...b, signature: hex(signAs('certificate', signingBytes('certificate', b), clusterKeyring)) }
}

/**
 * Checks a membership certificate offline. `expect` optionally pins the cluster and the
 * (id, key) pair the peer claims; a validly signed certificate for another node or key
 * is refused with reason 'mismatch'.
 */
export function verifyCertificate(
  input: unknown,
  clusterKeyHex: string,
  expect: { cluster?: string; id?: string; key?: string } = {},
): Verified<Certificate> | { ok: false; reason: 'mismatch'; detail: string } {
  const r = verifySigned('certificate', Certificate, CertificateBody, input, clusterKeyHex, expect.cluster)
  if (!r.ok) return r
  if (expect.id !== undefined && r.value.id !== expect.id) return { ok: false, reason: 'mismatch', detail: `certificate is for node ${r.value.id}, not ${expect.id}` }
  if (expect.key !== undefined && r.value.key !== expect.key) return { ok: false, reason: 'mismatch', detail: `certificate is for another key than ${expect.key.slice(0, 16)}…` }
  return r
}

// --- rosters ---------------------------------------------------------------------------

export function signRoster(body: RosterBody, clusterKeyring: Keyring): SignedRoster {
  const b = RosterBody.parse({ ...body, members: [...body.members].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)) })
  return { ...b, signature: hex(signAs('roster', signingBytes('roster', b), clusterKeyring)) }
}

export function verifyRoster(input: unknown, clusterKeyHex: string, cluster?: string): Verified<SignedRoster> {
  return verifySigned('roster', SignedRoster, RosterBody, input, clusterKeyHex, cluster)
}

// --- manifests -------------------------------------------------------------------------

export function signManifest(body: ManifestBody, clusterKeyring: Keyring): Manifest {
  const b = ManifestBody.parse(body)
  return { ...b, signature: hex(signAs('manifest', signingBytes('manifest', b), clusterKeyring)) }
}

/**
 * Checks a manifest's signature and internal consistency (every layer, the kernel and the
 * initramfs are listed in `files`, no duplicate names). It does not check file contents:
 * the agent hashes each file as it downloads it and compares with `files`.
 */
export function verifyManifest(input: unknown, clusterKeyHex: string, expect: { cluster?: string; version?: string } = {}): Verified<Manifest> {
  const r = verifySigned('manifest', Manifest, ManifestBody, input, clusterKeyHex, expect.cluster)
  if (!r.ok) return r
  const m = r.value
  if (expect.version !== undefined && m.version !== expect.version) {
    return { ok: false, reason: 'schema', detail: `manifest is for version ${m.version}, expected ${expect.version}` }
  }
  const names = new Set(m.files.map((f) => f.name))
  if (names.size !== m.files.length) return { ok: false, reason: 'schema', detail: 'manifest lists a file twice' }
  for (const n of [...m.layers, m.kernel, m.initramfs]) {
    if (!names.has(n)) return { ok: false, reason: 'schema', detail: `manifest names ${n} but does not list it in files` }
  }
  return r
}
