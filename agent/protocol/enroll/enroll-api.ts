/**
 * The coordinator's wire contract with booting workers: every HTTP request and response
 * body an agent sends or reads, and the signed objects it verifies offline (certificate,
 * roster, manifest). Schema -> inferred type, defined once; the coordinator's server
 * (coordinator/coordinator.ts, enrollment.ts) and the agent's boot mode both import from
 * here. Pure: zod and agent/protocol schemas only, no IO, so the initramfs agent can
 * import it. The `shoal.*` kernel parameters the boot script writes are
 * agent/protocol/kernel-params.
 *
 * Routes (all JSON unless said otherwise; errors are always `ErrorBody`):
 *
 * | method | path                          | body -> answer                                         |
 * |--------|-------------------------------|--------------------------------------------------------|
 * | GET    | /boot/ipxe?mac=MAC            | -> text/plain iPXE script (200), or 403 for an unknown MAC under `unknownMac: refuse` |
 * | GET    | /v1/join-token?mac=MAC        | -> JoinTokenResponse: a fresh token for an agent whose token expired or was used (same trust as /boot/ipxe) |
 * | POST   | /v1/enroll                    | EnrollRequest -> 200 EnrollResponse, 202 EnrollPending (approval mode), 400 / 403 ErrorBody |
 * | GET    | /v1/roster                    | -> SignedRoster                                        |
 * | GET    | /v1/cluster                   | -> ClusterInfo (id, public key, bootstrap)             |
 * | GET    | /images/{version}/manifest    | -> Manifest (signed by the cluster key); `?chunks=1` adds each layer's chunk hashes |
 * | GET    | /images/{version}/{file}      | -> file bytes; HEAD, Range (206/416), ETag/If-None-Match (304) |
 * | *      | /v1/admin/...                 | admin only (`Authorization: Bearer <admin token>`), see coordinator/admin-api.ts |
 */
import { z } from 'zod'
import { LayerChunks } from '../layer-chunks.js'
import { InventorySummary, NodeId, PublicKeyHex } from '../node-record.js'
import { RosterEntry } from '../roster.js'
import { OperatorEntry } from '../shell-grant.js'
import { ImageVersion } from '../image-version.js'
import { isSmallOrderKey } from '../ed25519.js'

/** Version of this contract; bumped on any incompatible change. Every signed body carries it as `v`. */
export const ENROLL_API_VERSION = 1

export const routes = {
  bootScript: '/boot/ipxe',
  joinToken: '/v1/join-token',
  enroll: '/v1/enroll',
  roster: '/v1/roster',
  cluster: '/v1/cluster',
  /** `${images}/${version}/${file}`; the manifest is the file named `manifest`. */
  images: '/images',
  manifestFile: 'manifest',
} as const

// ---------------------------------------------------------------------------------------
// Scalars

/** A MAC address, normalised to lowercase `aa:bb:cc:dd:ee:ff` (accepts upper case and `-`). */
export const Mac = z.preprocess(
  (v) => (typeof v === 'string' ? v.trim().toLowerCase().replace(/-/g, ':') : v),
  z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'mac: six hex pairs, e.g. 52:54:00:12:34:56'),
)
export type Mac = z.infer<typeof Mac>

/** One-time join token: 32 random bytes, hex. Bound to one MAC, short-lived, works once. */
export const JoinToken = z.string().regex(/^[0-9a-f]{64}$/, 'join token: 64 hex characters')
/** An ed25519 signature, hex (64 bytes). */
export const SignatureHex = z.string().regex(/^[0-9a-f]{128}$/, 'signature: 128 hex characters')
/** Cluster id: a short name chosen at `shoal coordinator` first start. */
export const ClusterId = z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'cluster id: letters, digits, . _ - only')
/** `host:port` (IPv4 or a hostname), e.g. the DHT bootstrap node. */
export const HostPort = z.string().regex(/^[A-Za-z0-9.-]+:[0-9]{1,5}$/, 'address: HOST:PORT')
/** A file name inside an image version directory: no path separators. */
export const ImageFileName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'file name: letters, digits, . _ + - only')
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'sha256: 64 hex characters')

// ---------------------------------------------------------------------------------------
// Enrollment

/**
 * The machine's hardware identity as agent/fingerprint computed it.
 * - `id`: the id the agent resolved by itself (from its components and whatever it knew);
 *   a hint only — the coordinator answers with the authoritative id.
 * - `comps`: the component digest, `kind:hash` strings (the same strings a NodeRecord
 *   carries in `comps`); the coordinator resolves these against every fingerprint it has
 *   enrolled (agent/fingerprint's resolveIdentity), so a machine with a replaced board but
 *   the same disks keeps its id.
 */
export const EnrollFingerprint = z
  .object({
    id: NodeId,
    comps: z.array(z.string().min(1).max(80)).min(1).max(64),
  })
  .strict()
export type EnrollFingerprint = z.infer<typeof EnrollFingerprint>

/** POST /v1/enroll */
export const EnrollRequest = z
  .object({
    /** Contract version; must be ENROLL_API_VERSION. */
    v: z.literal(ENROLL_API_VERSION),
    /** The one-time token from the kernel command line (`shoal.token`), or from GET /v1/join-token. */
    token: JoinToken,
    /** The MAC the machine PXE-booted from (`shoal.mac`); must be the MAC the token was issued to. */
    mac: Mac,
    /**
     * The node's ed25519 public key (hex), freshly generated in RAM at this boot. Never a
     * point of small order: under one, a signature verifies that no one made (so a forged
     * enrollment would let every member speak for that node).
     */
    publicKey: PublicKeyHex.refine((k) => !isSmallOrderKey(k), 'public key: a point of small order (anyone could sign as it); generate a key pair from a random seed'),
    fingerprint: EnrollFingerprint,
    /** The small inventory that also travels in NodeRecords (shown in the audit log and `shoal nodes`). */
    inventory: InventorySummary,
    /** Optional full inventory (agent/inventory's schema); stored as-is for the audit log. Bounded by the 256 KiB body limit. */
    inventoryDetail: z.unknown().optional(),
  })
  .strict()
export type EnrollRequest = z.infer<typeof EnrollRequest>

/**
 * The membership certificate body: "in cluster `cluster`, node `id` holds key `key`".
 * Peers check it offline against the cluster public key (agent/protocol/enroll/certificate.ts).
 * A node gets a new key (and so a new certificate, with a higher `serial`) at every boot;
 * the roster says which key is current.
 */
export const CertificateBody = z
  .object({
    v: z.literal(ENROLL_API_VERSION),
    cluster: ClusterId,
    /** Node id (hostname, Kubernetes node name, Ceph CRUSH host). */
    id: NodeId,
    /** The node's ed25519 public key, hex. */
    key: PublicKeyHex,
    /** Coordinator-wide counter: of two certificates for one id, the higher serial is newer. */
    serial: z.number().int().nonnegative(),
    /** When the coordinator issued it, ms since the epoch (coordinator clock). */
    issuedAt: z.number().int().nonnegative(),
  })
  .strict()
export type CertificateBody = z.infer<typeof CertificateBody>
/** The body plus `signature`: ed25519 by the cluster key over certificateSigningBytes(body). */
export const Certificate = CertificateBody.extend({ signature: SignatureHex }).strict()
export type Certificate = z.infer<typeof Certificate>

/**
 * The roster: every enrolled node's current (id, key). Members are sorted by id; `version`
 * increases with every change, so an agent keeps the highest-version roster it has seen.
 */
export const RosterBody = z
  .object({
    v: z.literal(ENROLL_API_VERSION),
    cluster: ClusterId,
    version: z.number().int().nonnegative(),
    issuedAt: z.number().int().nonnegative(),
    members: z.array(RosterEntry).max(100_000),
    /**
     * Operators whose keys sign shell grants (docs/shell.md). Additive: GET /v1/roster
     * carries it only when asked (`?operators=1`), so agents that predate it, whose roster
     * schema is strict, keep accepting the roster they poll.
     */
    operators: z.array(OperatorEntry).max(1000).optional(),
  })
  .strict()
export type RosterBody = z.infer<typeof RosterBody>
export const SignedRoster = RosterBody.extend({ signature: SignatureHex }).strict()
export type SignedRoster = z.infer<typeof SignedRoster>

/** 200 answer to POST /v1/enroll. */
export const EnrollResponse = z
  .object({
    status: z.literal('enrolled'),
    /**
     * The node's id from now on. When the fingerprint resolves to a node enrolled before
     * (same machine, perhaps with parts swapped), this is that node's previous id.
     */
    id: NodeId,
    /** 'known': `id` is a previously enrolled node's id; 'new': a new node. */
    identity: z.enum(['known', 'new']),
    certificate: Certificate,
    /** The roster including this node, signed by the cluster key. */
    roster: SignedRoster,
    cluster: ClusterId,
    /** The cluster public key (hex) that signs certificates, rosters and manifests. */
    clusterKey: PublicKeyHex,
    /** DHT bootstrap node(s) of the mesh, `host:port` as reachable from the workers. */
    bootstrap: z.array(HostPort).min(1),
    /** The image version assigned to this node: fetch /images/{image}/manifest and its layers. */
    image: ImageVersion,
  })
  .strict()
export type EnrollResponse = z.infer<typeof EnrollResponse>

/**
 * 202 answer in approval mode: a fingerprint the coordinator has not seen waits for
 * `shoal coordinator approve REQUEST`. The agent re-posts the SAME request (same token,
 * key and fingerprint) after `retryAfterMs`; once approved the answer is 200. The token
 * stays bound to this request, so its expiry does not end the wait.
 */
export const EnrollPending = z
  .object({
    status: z.literal('pending'),
    /** What the operator approves: `shoal coordinator approve <requestId>`. */
    requestId: z.string().regex(/^[0-9a-f]{16}$/),
    retryAfterMs: z.number().int().positive(),
    message: z.string(),
  })
  .strict()
export type EnrollPending = z.infer<typeof EnrollPending>

export const EnrollAnswer = z.discriminatedUnion('status', [EnrollResponse, EnrollPending])
export type EnrollAnswer = z.infer<typeof EnrollAnswer>

/** GET /v1/join-token?mac=MAC */
export const JoinTokenResponse = z
  .object({
    token: JoinToken,
    mac: Mac,
    /** ms since the epoch (coordinator clock) after which the token is refused. */
    expiresAt: z.number().int().nonnegative(),
  })
  .strict()
export type JoinTokenResponse = z.infer<typeof JoinTokenResponse>

/** GET /v1/cluster: what an operator or agent needs to check signatures. */
export const ClusterInfo = z
  .object({
    cluster: ClusterId,
    clusterKey: PublicKeyHex,
    bootstrap: z.array(HostPort).min(1),
    rosterVersion: z.number().int().nonnegative(),
  })
  .strict()
export type ClusterInfo = z.infer<typeof ClusterInfo>

// ---------------------------------------------------------------------------------------
// Errors

/**
 * Why a join token was refused (403). Nothing stored changes on any of these.
 * - token-unknown: never issued by this coordinator (forged, or from another cluster);
 * - token-used: already consumed by a different key or fingerprint;
 * - token-expired: issued more than `joinTokenTtlMs` ago and never used;
 * - token-mac-mismatch: issued to a different MAC.
 */
export const TokenRefusal = z.enum(['token-unknown', 'token-used', 'token-expired', 'token-mac-mismatch'])
export type TokenRefusal = z.infer<typeof TokenRefusal>

/**
 * Every 4xx/5xx JSON body. `code` is stable: 'bad-request' (400; `issues` lists what was
 * wrong), a TokenRefusal or 'mac-refused' or 'rejected' (403), 'unauthorized' (401, admin),
 * 'not-found' (404), 'too-large' (413), 'internal' (500).
 */
export const ErrorBody = z
  .object({
    error: z
      .object({
        code: z.string(),
        message: z.string(),
        issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      })
      .strict(),
  })
  .strict()
export type ErrorBody = z.infer<typeof ErrorBody>

// ---------------------------------------------------------------------------------------
// Images

export const ManifestFile = z
  .object({
    /** File name under /images/{version}/. */
    name: ImageFileName,
    sha256: Sha256Hex,
    size: z.number().int().nonnegative(),
    /** Per-chunk sha256 of a layer (agent/protocol/layer-chunks.ts); only in `?chunks=1` answers, so strict older agents never see it. */
    chunks: LayerChunks.optional(),
  })
  .strict()
export type ManifestFile = z.infer<typeof ManifestFile>

/**
 * The signed list of an image version's files (GET /images/{version}/manifest).
 * The agent downloads each layer, checks size and sha256 against this list, and mounts
 * nothing that does not match.
 */
export const ManifestBody = z
  .object({
    v: z.literal(ENROLL_API_VERSION),
    cluster: ClusterId,
    version: ImageVersion,
    /** Every file of the version except the manifest itself: kernel, initramfs, layers. */
    files: z.array(ManifestFile).max(256),
    /** SquashFS layer names in stacking order, lowest first (base, node, worker); each is in `files`. */
    layers: z.array(ImageFileName).max(64),
    /** Kernel and initramfs file names (in `files`), as the boot script uses them. */
    kernel: ImageFileName,
    initramfs: ImageFileName,
  })
  .strict()
export type ManifestBody = z.infer<typeof ManifestBody>
/** ManifestBody plus `signature`: ed25519 by the cluster key over manifestSigningBytes(body). */
export const Manifest = ManifestBody.extend({ signature: SignatureHex }).strict()
export type Manifest = z.infer<typeof Manifest>

/**
 * What the layers builder may write as `images/{version}/manifest.json` (unsigned): the
 * file list and layer order. The coordinator re-hashes every file, refuses to serve a
 * version whose files do not match it, and signs the result with the cluster key. Without
 * it, the coordinator lists every file in the directory and stacks `*.squashfs` in the
 * order base, node, worker, controller, then by name.
 */
export const ManifestSource = z
  .object({
    version: ImageVersion.optional(),
    files: z.array(ManifestFile.partial({ sha256: true, size: true })).max(256).optional(),
    layers: z.array(ImageFileName).max(64).optional(),
    kernel: ImageFileName.optional(),
    initramfs: ImageFileName.optional(),
  })
  .passthrough()
export type ManifestSource = z.infer<typeof ManifestSource>
