/**
 * The coordinator's HTTP API as OpenAPI 3.1, built from the zod schemas its routes
 * validate with and answer in (agent/protocol/enroll/enroll-api.ts, admin-api.ts, waves/wave-api.ts,
 * state-store.ts) by agent/api's builder, and served at GET /openapi.json.
 * test/openapi.test.ts lints it and validates live answers of every route against it.
 */
import { z } from 'zod'
import { cachedOpenApi, jsonSchema, textResponse, type Route } from '../agent/http/openapi-builder.js'
import { LayerPeers } from '../agent/protocol/layer-chunks.js'
import { NodeId } from '../agent/protocol/node-record.js'
import { SOFTWARE_VERSION } from '../agent/protocol/software-version.js'
import { AddOperatorRequest, AdminNode, AdminPending, AdminRetired, AssignRequest, AuditQuery, DecideRequest, ForgetRetiredRequest, RemoveOperatorRequest, RemoveRequest } from './admin-api.js'
import { OperatorRecord } from './operator-record.js'
import { ClusterInfo, EnrollPending, EnrollRequest, EnrollResponse, ErrorBody, JoinTokenResponse, Mac, Manifest, SignedRoster } from '../agent/protocol/enroll/index.js'
import { ImageVersion } from '../agent/protocol/image-version.js'
import { BackupHeader, BackupLine, BackupTrailer } from './state-backup.js'
import { Assignment, AuditEntry } from './state-store.js'
import { DecommissionRequest, MaintenanceRequest, NodeVerbAnswer, NodeVerbRequest, HeldNode } from './waves/node-verbs.js'
import { AssignLeaseRequest, DryRun, ForceReleaseRequest, WaveCreate, WaveId, WaveStatus } from './waves/wave-api.js'

const error = (description: string) => ({ description, schema: ErrorBody })
const text = textResponse
const unauthorized = error('Missing or wrong admin token')
const macQuery = { mac: { in: 'query' as const, description: 'the MAC that asks, aa:bb:cc:dd:ee:ff', schema: Mac, required: true } }
const nodeParam = { id: { in: 'path' as const, description: 'node id', schema: NodeId } }
const waveParam = { id: { in: 'path' as const, description: 'wave id, or "current" for the newest', schema: WaveId } }
const Health = z.object({ ok: z.literal(true), version: z.string(), protocol: z.number().int() }).strict()
const Lease = z.object({ wave: z.string(), node: z.string(), slot: z.number().int(), term: z.number().int() }).strict()

export const coordinatorRoutes: Route[] = [
  // --- boot and enrollment (unauthenticated: the provisioning LAN is the trust boundary)
  { method: 'get', path: '/boot/ipxe', summary: "A machine's iPXE boot script (kernel, initramfs, command line with a join token)", params: macQuery, responses: { 200: text('iPXE script'), 400: text('A script that prints why (bad or missing mac)'), 403: text('A script that prints why (unknown MAC refused)'), 429: text('A script that waits and retries (too many from this address)'), 503: text('A script that prints why (no image)') } },
  { method: 'get', path: '/v1/join-token', summary: 'A one-time join token bound to the MAC that asks', params: macQuery, responses: { 200: { description: 'The token', schema: JoinTokenResponse }, 400: error('Bad mac'), 403: error('Unknown MAC refused'), 429: error('Too many tokens from this address, or for this MAC') } },
  {
    method: 'post',
    path: '/v1/enroll',
    summary: 'Enroll: fingerprint, inventory and public key with a join token, for a certificate and the roster',
    body: { schema: EnrollRequest },
    responses: { 200: { description: 'Enrolled: certificate, roster, boot parameters', schema: EnrollResponse }, 202: { description: 'Waiting for an operator (approval mode)', schema: EnrollPending }, 400: error('Bad request body'), 403: error('Token refused, the request was rejected, or the machine is a decommissioned node refused on return (retired)'), 409: error('The id is held by a node alive in the mesh under another key (a clone)'), 413: error('Body too large') },
  },
  { method: 'get', path: '/v1/roster', summary: 'The signed roster (ETag; If-None-Match answers 304)', responses: { 200: { description: 'Signed roster', schema: SignedRoster }, 304: { description: 'Unchanged since the ETag given' } } },
  { method: 'get', path: '/v1/cluster', summary: 'Cluster id, cluster key, bootstrap addresses, roster version', responses: { 200: { description: 'Cluster info', schema: ClusterInfo } } },
  {
    method: 'get',
    path: '/images/{version}/manifest',
    summary: "An image version's signed manifest (file names, sizes, sha256)",
    params: {
      version: { in: 'path', description: 'image version', schema: ImageVersion },
      chunks: { in: 'query', description: "1: each layer also lists its chunks' sha256 (docs/layers.md); agents that predate chunks do not ask", schema: z.enum(['1']) },
    },
    responses: { 200: { description: 'Signed manifest', schema: Manifest }, 404: error('No such version'), 503: error('Version not servable') },
  },
  {
    method: 'get',
    path: '/images/{version}/{file}',
    summary: 'One image file (kernel, initramfs, SquashFS layer); Range requests answer 206',
    params: { version: { in: 'path', description: 'image version', schema: ImageVersion }, file: { in: 'path', description: 'file name from the manifest' } },
    responses: {
      200: text('The file', 'application/octet-stream'),
      206: text('The requested range', 'application/octet-stream'),
      404: error('No such file'),
      416: text('Range not satisfiable'),
      429: error('chunk-at-peers: a layer chunk asked with x-shoal-chunk-peer was handed out to enough workers; x-shoal-chunk-holders names them (docs/layers.md)'),
    },
  },
  {
    method: 'get',
    path: '/v1/layer-peers',
    summary: 'Chunk servers a booting worker can fetch layer chunks from (the asker is registered as one); same failure domain first',
    params: {
      image: { in: 'query', description: 'image version being fetched', schema: ImageVersion, required: true },
      self: { in: 'query', description: "the asker's own chunk server, HOST:PORT", schema: z.string() },
      domain: { in: 'query', description: "the asker's failure domain", schema: z.string() },
    },
    responses: { 200: { description: 'Peers', schema: LayerPeers } },
  },
  { method: 'get', path: '/healthz', summary: 'Liveness and software version', responses: { 200: { description: 'Up', schema: Health } } },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics (docs/metrics.md)', responses: { 200: text('Prometheus text exposition 0.0.4') } },
  { method: 'get', path: '/openapi.json', summary: 'This description', responses: { 200: { description: 'OpenAPI 3.1', schema: z.looseObject({ openapi: z.string() }) } } },
  {
    method: 'post',
    path: '/v1/assign',
    summary: 'A slot holder asks for the wave target as its next boot image, proving its lease with a signature',
    body: { schema: AssignLeaseRequest },
    responses: { 200: { description: 'Assigned', schema: Lease.extend({ image: z.string() }) }, 400: error('Bad body'), 403: error('Lease proof refused'), 409: error('Not the current lease') },
  },
  // --- waves (admin)
  { method: 'get', path: '/v1/waves', summary: 'Every wave, newest first', admin: true, responses: { 200: { description: 'Waves', schema: z.object({ waves: z.array(WaveStatus) }) }, 401: unauthorized } },
  {
    method: 'post',
    path: '/v1/waves',
    summary: 'Start a wave (or a dry run: the order the vote would pick now, nothing changed)',
    admin: true,
    body: { schema: WaveCreate },
    responses: { 201: { description: 'Started', schema: WaveStatus }, 200: { description: 'Dry run', schema: DryRun }, 400: error('Bad wave'), 401: unauthorized, 409: error('A wave is running') },
  },
  { method: 'get', path: '/v1/waves/{id}', summary: "A wave's status and per-node progress", admin: true, params: waveParam, responses: { 200: { description: 'Status', schema: WaveStatus }, 401: unauthorized, 404: error('No such wave') } },
  ...(['pause', 'resume', 'abort'] as const).map(
    (op): Route => ({ method: 'post', path: `/v1/waves/{id}/${op}`, summary: `${op[0]!.toUpperCase()}${op.slice(1)} the wave`, admin: true, params: waveParam, responses: { 200: { description: 'New status', schema: WaveStatus }, 401: unauthorized, 404: error('No such wave'), 409: error('Not possible in its state') } }),
  ),
  { method: 'post', path: '/v1/waves/{id}/rollback', summary: 'A new wave that takes the upgraded nodes back to the previous image', admin: true, params: waveParam, responses: { 201: { description: 'The rollback wave', schema: WaveStatus }, 401: unauthorized, 404: error('No such wave'), 409: error('Nothing to roll back') } },
  {
    method: 'post',
    path: '/v1/waves/{id}/force-release',
    summary: "Force-release a node's slot (a new term starts)",
    admin: true,
    params: waveParam,
    body: { schema: ForceReleaseRequest },
    responses: { 200: { description: 'Released', schema: Lease }, 400: error('Bad body'), 401: unauthorized, 404: error('No such wave, or the node holds no slot in it') },
  },
  // --- node verbs (admin; docs/node-verbs.md)
  { method: 'get', path: '/v1/nodes/held', summary: 'Nodes held out of service by a node verb (maintenance, shut down)', admin: true, responses: { 200: { description: 'Held nodes', schema: z.object({ held: z.array(HeldNode) }) }, 401: unauthorized } },
  {
    method: 'post',
    path: '/v1/nodes/{id}/maintenance',
    summary: 'Maintenance on (a slot through the vote: noout, cordon, drain, then held) or off (post gate, uncordon, noout cleared)',
    admin: true,
    params: nodeParam,
    body: { schema: MaintenanceRequest },
    responses: { 201: { description: 'Maintenance verb started', schema: NodeVerbAnswer }, 200: { description: 'Maintenance ended', schema: NodeVerbAnswer }, 400: error('Bad body or node id'), 401: unauthorized, 404: error('Node not enrolled'), 409: error('A wave or verb is active, or the node is (not) in maintenance') },
  },
  ...(['reboot', 'shutdown', 'decommission'] as const).map(
    (verb): Route => ({
      method: 'post',
      path: `/v1/nodes/{id}/${verb}`,
      summary: { reboot: 'One safe reboot through the vote (same image)', shutdown: 'Power the node off safely; it counts as unavailable until it is back', decommission: 'Drain, mark its OSDs out, wait until Ceph moved its data, remove it from the roster' }[verb],
      admin: true,
      params: nodeParam,
      body: { schema: verb === 'decommission' ? DecommissionRequest : NodeVerbRequest },
      responses: { 201: { description: 'Verb started (a one-node wave)', schema: NodeVerbAnswer }, 400: error('Bad body or node id'), 401: unauthorized, 404: error('Node not enrolled'), 409: error('A wave or verb is active, or the node is held') },
    }),
  ),
  // --- admin
  { method: 'get', path: '/v1/admin/nodes', summary: 'Enrolled nodes', admin: true, responses: { 200: { description: 'Nodes', schema: z.object({ nodes: z.array(AdminNode) }) }, 401: unauthorized } },
  { method: 'get', path: '/v1/admin/pending', summary: 'Enrollments waiting for approval', admin: true, responses: { 200: { description: 'Pending', schema: z.object({ pending: z.array(AdminPending) }) }, 401: unauthorized } },
  ...(['approve', 'reject'] as const).map(
    (op): Route => ({ method: 'post', path: `/v1/admin/${op}`, summary: `${op[0]!.toUpperCase()}${op.slice(1)} a pending enrollment`, admin: true, body: { schema: DecideRequest }, responses: { 200: { description: 'The request', schema: AdminPending }, 400: error('Bad body'), 401: unauthorized, 404: error('No such request') } }),
  ),
  { method: 'post', path: '/v1/admin/assign', summary: "Assign a node's (or a MAC's) next boot image", admin: true, body: { schema: AssignRequest }, responses: { 200: { description: 'Assignment', schema: Assignment }, 400: error('Bad body or unknown version'), 401: unauthorized, 404: error('No such node') } },
  { method: 'post', path: '/v1/admin/remove', summary: 'Remove a node from the roster', admin: true, body: { schema: RemoveRequest }, responses: { 200: { description: 'Removed', schema: z.object({ removed: NodeId }) }, 400: error('Bad body'), 401: unauthorized, 404: error('No such node') } },
  { method: 'get', path: '/v1/admin/retired', summary: 'Retired ids (decommissioned nodes) and what happens if their machine comes back', admin: true, responses: { 200: { description: 'Retired', schema: z.object({ retired: z.array(AdminRetired) }) }, 401: unauthorized } },
  { method: 'post', path: '/v1/admin/forget-retired', summary: 'Lift a retirement: the machine enrolls at its next try', admin: true, body: { schema: ForgetRetiredRequest }, responses: { 200: { description: 'Forgotten', schema: z.object({ forgotten: NodeId }) }, 400: error('Bad body'), 401: unauthorized, 404: error('Not retired') } },
  { method: 'get', path: '/v1/admin/operators', summary: 'Operators who may sign shell grants (docs/shell.md)', admin: true, responses: { 200: { description: 'Operators', schema: z.object({ operators: z.array(OperatorRecord) }) }, 401: unauthorized } },
  { method: 'post', path: '/v1/admin/operators', summary: 'Add an operator (their ed25519 public key) to the signed roster', admin: true, body: { schema: AddOperatorRequest }, responses: { 200: { description: 'Added', schema: OperatorRecord }, 400: error('Bad body'), 401: unauthorized } },
  { method: 'post', path: '/v1/admin/operators/remove', summary: 'Remove an operator from the signed roster', admin: true, body: { schema: RemoveOperatorRequest }, responses: { 200: { description: 'Removed', schema: z.object({ removed: z.string() }) }, 400: error('Bad body'), 401: unauthorized, 404: error('No such operator') } },
  {
    method: 'get',
    path: '/v1/admin/backup',
    summary: 'A consistent snapshot of the whole state, for shoal coordinator backup (holds the cluster key)',
    admin: true,
    responses: { 200: { description: 'JSON lines: a header, then one line per stored entry (coordinator/state-backup.ts)', raw: { contentType: 'application/x-ndjson', schema: jsonSchema(z.union([BackupHeader, BackupLine, BackupTrailer])) } }, 401: unauthorized },
  },
  {
    method: 'get',
    path: '/v1/admin/audit',
    summary: 'The audit log, newest first',
    admin: true,
    params: Object.fromEntries(Object.entries(AuditQuery.shape).map(([k, s]) => [k, { in: 'query' as const, description: k === 'limit' ? 'at most this many (1-10000, default 100)' : k === 'since' ? 'only entries at or after this time (ms)' : 'only this kind', schema: s as z.ZodType }])),
    responses: { 200: { description: 'Entries', schema: z.object({ entries: z.array(AuditEntry) }) }, 400: error('Bad query'), 401: unauthorized },
  },
]

/** The document, built on first use. */
export const coordinatorOpenApi = cachedOpenApi(() => ({
  title: 'shoal coordinator API',
  version: SOFTWARE_VERSION,
  description:
    'Boot scripts, enrollment, the signed roster, images, upgrade waves and the admin API of a shoal coordinator. Errors are {"error":{"code","message"}} with a 4xx/5xx status. Admin and wave routes need Authorization: Bearer <admin token> (<dataDir>/admin-token). The CLI is the usual client: shoal coordinator --help, shoal upgrade --help.',
  server: 'http://127.0.0.1:8080',
  routes: coordinatorRoutes,
}))
