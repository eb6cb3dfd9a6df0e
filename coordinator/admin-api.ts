/**
 * The coordinator's admin API: write operations and the audit log, for the operator's CLI
 * (`shoal coordinator approve|reject|assign|remove|nodes|pending|audit`). Every call needs
 * `Authorization: Bearer <admin token>` (401 otherwise). Bodies are JSON, validated strictly.
 *
 * | method | path                     | body -> answer                               |
 * |--------|--------------------------|----------------------------------------------|
 * | GET    | /v1/admin/nodes          | -> { nodes: AdminNode[] }                    |
 * | GET    | /v1/admin/pending        | -> { pending: AdminPending[] }               |
 * | POST   | /v1/admin/approve        | { requestId } -> AdminPending                |
 * | POST   | /v1/admin/reject         | { requestId } -> AdminPending                |
 * | POST   | /v1/admin/assign         | { node } or { mac }, { image } -> Assignment |
 * | POST   | /v1/admin/remove         | { node } -> { removed }                      |
 * | GET    | /v1/admin/retired        | -> { retired: AdminRetired[] }               |
 * | POST   | /v1/admin/forget-retired | { node } -> { forgotten }                    |
 * | POST   | /v1/admin/label          | { node, domain \| null } -> { node, domain }  |
 * | GET    | /v1/admin/audit?limit=N&since=MS&kind=K | -> { entries: AuditEntry[] }  |
 * | GET    | /v1/admin/backup         | -> JSON lines, one snapshot (state-backup.ts) |
 * | GET    | /v1/admin/operators      | -> { operators: OperatorRecord[] }           |
 * | POST   | /v1/admin/operators      | { name, key } -> OperatorRecord              |
 * | POST   | /v1/admin/operators/remove | { name } -> { removed }                    |
 */
import { DOMAIN_RE } from '../agent/protocol/kernel-params/domain-param.js'
import { z } from 'zod'
import { InventorySummary, NodeId, PublicKeyHex } from '../agent/protocol/node-record.js'
import { Mac } from '../agent/protocol/enroll/index.js'
import { ImageVersion } from '../agent/protocol/image-version.js'
import { OperatorName } from '../agent/protocol/shell-grant.js'
import { ReturningPolicy } from './state-store.js'

export const adminRoutes = {
  nodes: '/v1/admin/nodes',
  pending: '/v1/admin/pending',
  approve: '/v1/admin/approve',
  reject: '/v1/admin/reject',
  assign: '/v1/admin/assign',
  remove: '/v1/admin/remove',
  retired: '/v1/admin/retired',
  forgetRetired: '/v1/admin/forget-retired',
  label: '/v1/admin/label',
  audit: '/v1/admin/audit',
  backup: '/v1/admin/backup',
  operators: '/v1/admin/operators',
  removeOperator: '/v1/admin/operators/remove',
} as const

export const AddOperatorRequest = z.object({ name: OperatorName, key: PublicKeyHex }).strict()
export const RemoveOperatorRequest = z.object({ name: OperatorName }).strict()

export const DecideRequest = z.object({ requestId: z.string().regex(/^[0-9a-f]{16}$/, 'requestId: 16 hex characters (see: shoal coordinator pending)') }).strict()
export const AssignRequest = z
  .object({ node: NodeId.optional(), mac: Mac.optional(), image: ImageVersion })
  .strict()
  .refine((r) => (r.node === undefined) !== (r.mac === undefined), { message: 'give exactly one of node or mac' })
export const RemoveRequest = z.object({ node: NodeId }).strict()
export const ForgetRetiredRequest = z.object({ node: NodeId }).strict()

/** A retired id (`shoal coordinator retired`): who retired it, when, what a returning machine meets, and how often one was refused since the coordinator started. */
export const AdminRetired = z.object({
  id: NodeId,
  returning: ReturningPolicy,
  at: z.number(),
  by: z.string(),
  wave: z.string().optional(),
  macs: z.array(z.string()),
  refused: z.object({ count: z.number(), lastAt: z.number(), lastMac: z.string() }).optional(),
})
export type AdminRetired = z.infer<typeof AdminRetired>
/** `shoal coordinator label NODE domain=NAME` (null clears it). */
export const LabelRequest = z.object({ node: NodeId, domain: z.string().regex(DOMAIN_RE, 'domain: letters, digits, . _ - (at most 64)').nullable() }).strict()

export const AuditQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(10_000).default(100),
    since: z.coerce.number().int().nonnegative().optional(),
    kind: z.string().max(32).optional(),
  })
  .strict()

export const AdminNode = z.object({
  id: NodeId,
  key: PublicKeyHex,
  macs: z.array(z.string()),
  image: z.string().optional(),
  assignedImage: z.string().optional(),
  serial: z.number(),
  firstEnrolledAt: z.number(),
  lastEnrolledAt: z.number(),
  enrollments: z.number(),
  inventory: InventorySummary,
  /** Enrollments refused since the coordinator started because this node was alive (clones, forgers). */
  cloneRefusals: z.object({ count: z.number(), lastAt: z.number(), lastMac: z.string(), lastRemote: z.string().optional() }).optional(),
})
export type AdminNode = z.infer<typeof AdminNode>

export const AdminPending = z.object({
  requestId: z.string(),
  mac: z.string(),
  proposedId: z.string(),
  state: z.enum(['waiting', 'approved', 'rejected']),
  requestedAt: z.number(),
  inventory: InventorySummary,
  /** The known node this machine claims to be (approval mode), and what differs from its last enrollment. */
  knownId: z.string().optional(),
  changes: z.object({ mac: z.object({ was: z.array(z.string()), now: z.string() }).optional(), added: z.array(z.string()), removed: z.array(z.string()) }).optional(),
})
export type AdminPending = z.infer<typeof AdminPending>
