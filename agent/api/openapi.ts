/**
 * The agent API's OpenAPI 3.1 description, built from the zod schemas of its answers
 * (./api-schemas.ts) and served at GET /openapi.json. test/openapi.test.ts lints it with
 * swagger-parser and validates a live agent's answer on every route against it.
 */
import { z } from 'zod'
import { NodeId } from '../protocol/node-record.js'
import { ShellSession } from '../protocol/shell-channel.js'
import { SOFTWARE_VERSION } from '../protocol/software-version.js'
import { ApiErrorSchema, ClusterSummarySchema, FingerprintsSchema, InventoryAnswerSchema, NodeDetailSchema, NodeSummarySchema, SelfSchema, WatchLineSchema } from './api-schemas.js'
import { cachedOpenApi, textResponse, type Route } from '../http/openapi-builder.js'

const error = (description: string) => ({ description, schema: ApiErrorSchema })
const nodeParam = { id: { in: 'path' as const, description: 'node id (letters, digits, . _ -, at most 64)', schema: NodeId } }

/**
 * HaveAnswer (agent/protocol/layer-chunks.ts) as JSON Schema, written out so that this
 * module, loaded at the agent's start, does not load the layer-chunk contract with it (the
 * route that serves it loads on first use); test/openapi.test.ts checks it equals the schema.
 */
export const HAVE_ANSWER_JSON_SCHEMA = {
  type: 'object',
  properties: {
    v: { type: 'number', const: 1 },
    version: { type: 'string', maxLength: 64 },
    gen: { type: 'integer', minimum: 0, maximum: 9007199254740991 },
    files: { type: 'object', propertyNames: { type: 'string', maxLength: 128 }, additionalProperties: { type: 'string', maxLength: 16384 } },
    upload: { type: 'integer', exclusiveMinimum: 0, maximum: 9007199254740991 },
  },
  required: ['v', 'version', 'gen', 'files'],
  additionalProperties: false,
}

const layerVersion = { version: { in: 'path' as const, description: 'the image version this node runs' } }

export const agentRoutes: Route[] = [
  { method: 'get', path: '/v1/cluster', summary: 'Every node this agent knows, with liveness, phase, image and health', responses: { 200: { description: 'The cluster as this agent sees it', schema: ClusterSummarySchema } } },
  { method: 'get', path: '/v1/nodes', summary: 'The same nodes as /v1/cluster, as a bare list sorted by id', responses: { 200: { description: 'Node summaries', schema: z.array(NodeSummarySchema) } } },
  {
    method: 'get',
    path: '/v1/nodes/{id}',
    summary: 'One node in detail, with its signed record body',
    params: nodeParam,
    responses: { 200: { description: 'The node', schema: NodeDetailSchema }, 400: error('Not a node id'), 404: error('No such node known to this agent') },
  },
  {
    method: 'get',
    path: '/v1/nodes/{id}/inventory',
    summary: "A node's full hardware inventory",
    description:
      "For this agent: collected by agent/inventory (re-collected after inventoryRefreshMs). For another node: forwarded to that node's API, cached for inventoryCacheMs; when it cannot answer, the last copy is served with stale: true.",
    params: nodeParam,
    responses: {
      200: { description: 'The inventory, who answered, how old it is', schema: InventoryAnswerSchema },
      400: error('Not a node id'),
      404: error('No such node'),
      501: error('Inventory collection is off on this agent'),
      502: error('The owner cannot be asked and nothing is cached'),
    },
  },
  {
    method: 'get',
    path: '/v1/fingerprints',
    summary: 'Known fingerprints of the whole cluster, for a rebooting worker to resolve its old id',
    responses: { 200: { description: 'One entry per node with a component digest, sorted by id', schema: FingerprintsSchema } },
  },
  { method: 'get', path: '/v1/self', summary: "This agent: id, software version, keys, peers, counters, its wave status", responses: { 200: { description: 'This agent', schema: SelfSchema } } },
  {
    method: 'get',
    path: '/v1/watch',
    summary: 'Changes as they happen: a snapshot line, then member, record and dropped lines, heartbeats when quiet',
    responses: { 200: { description: 'NDJSON: one JSON object per line, each matching this schema', raw: { contentType: 'application/x-ndjson', schema: WatchLineSchema } } },
  },
  {
    method: 'get',
    path: '/v1/shells',
    summary: "Recent shell sessions the agent heard of (its own and, over the mesh, every other node's), newest first (docs/shell.md)",
    params: { node: { in: 'query', description: 'only sessions on this node', schema: NodeId } },
    responses: { 200: { description: 'Sessions', schema: z.object({ sessions: z.array(ShellSession) }) }, 400: error('Bad node id') },
  },
  {
    method: 'get',
    path: '/v1/shell',
    summary: 'The remote shell: a WebSocket upgrade, subprotocol v5.channel.k8s.io, with Authorization: ShoalGrant <grant> (docs/shell.md)',
    params: {
      tty: { in: 'query', description: '1 for a terminal', schema: z.enum(['0', '1']) },
      cols: { in: 'query', description: 'terminal columns', schema: z.coerce.number().int().min(1).max(1000) },
      rows: { in: 'query', description: 'terminal rows', schema: z.coerce.number().int().min(1).max(1000) },
    },
    responses: {
      101: { description: 'Switching protocols: the session runs' },
      400: error('Not a WebSocket upgrade, or bad parameters'),
      403: error('Grant refused: unsigned, malformed, bad-signature, unknown-operator, expired, not-yet-valid, too-long, wrong-node, replayed'),
      404: error('Not a shell route'),
      429: error('Too many sessions'),
    },
  },
  {
    method: 'get',
    path: '/v1/layers/{version}/have',
    summary: "Which chunks of its image's layers this node serves to booting workers (docs/layers.md); a long poll",
    description:
      'One bit per chunk per layer file, base64. A running worker serves every chunk it booted (each hashed again as it is read); a booting one what it has verified so far. With after=GEN the answer waits until the generation passes GEN, with want=W until the node has one of the wanted chunks, or at most 15 s.',
    params: {
      ...layerVersion,
      after: { in: 'query', description: 'the generation the asker knows; -1 answers at once', schema: z.string() },
      want: { in: 'query', description: 'chunks the asker still lacks, per layer (encodeWant)', schema: z.string() },
      cap: { in: 'query', description: '1: add `upload`, this node\'s upload cap in bytes/s, when it has one (askers that predate it do not ask, and get the answer their strict schema accepts)', schema: z.string() },
    },
    responses: { 200: { description: 'The have map', raw: { contentType: 'application/json', schema: HAVE_ANSWER_JSON_SCHEMA } }, 404: error('This node serves no chunks of that image (another image, booted without chunk sharing, or upload cap 0)') },
  },
  {
    method: 'get',
    path: '/v1/layers/{version}/{file}',
    summary: 'Whole chunks of one layer file, with Range: bytes=A-B (docs/layers.md)',
    params: { ...layerVersion, file: { in: 'path', description: 'layer file name from the manifest' } },
    responses: {
      206: textResponse('The chunks, each to be checked against the signed manifest by the asker', 'application/octet-stream'),
      404: error('chunk-missing: a chunk of the range is not served here (not verified yet, or it no longer matched the manifest); not-found: no such layer or image'),
      503: error('busy: every upload slot is taken; ask another peer'),
    },
  },
  { method: 'get', path: '/', summary: 'The live cluster page (static HTML; script and style under /page/; docs/cluster-page.md)', responses: { 200: textResponse('The page', 'text/html') } },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics (docs/metrics.md)', responses: { 200: textResponse('Prometheus text exposition 0.0.4') } },
  { method: 'get', path: '/openapi.json', summary: 'This description', responses: { 200: { description: 'OpenAPI 3.1', schema: z.looseObject({ openapi: z.string() }) } } },
]

/** The document, built on first use. */
export const agentOpenApi = cachedOpenApi(() => ({
  title: 'shoal agent API',
  version: SOFTWARE_VERSION,
  description:
    'Every shoal agent answers for the whole cluster: ask any one of them. Read-only (GET; other methods answer 405), JSON. Errors are {"error":{"code","message"}} with a 4xx/5xx status; the message says what to do. Unauthenticated; binds 127.0.0.1 by default (config apiHost): open it to the provisioning LAN on purpose.',
  server: 'http://127.0.0.1:7400',
  routes: agentRoutes,
}))
