/**
 * The agent API's answers as zod schemas: the server's shapes, the CLI's check of what it
 * was sent (a wrong-shaped answer is one line naming the field, never a crash), and the
 * source of the OpenAPI description (./openapi.ts, served at GET /openapi.json).
 * Objects are loose: a newer agent may add fields, which older CLIs keep and ignore.
 */
import { z } from 'zod'
import { InventoryResponse } from '../inventory/inventory-response.js'
import { HealthSummary, InventorySummary, NodeId, NodeRecordBody, Phase } from '../protocol/node-record.js'

const Liveness = z.enum(['alive', 'suspect', 'dead'])

export const NodeSummarySchema = z.looseObject({
  id: NodeId,
  status: Liveness,
  phase: z.string().nullable(),
  image: z.string().nullable(),
  domain: z.string().nullable(),
  health: z
    .looseObject({
      status: z.string(),
      conditions: z.number().int().nonnegative(),
      kubeletReady: z.boolean().optional(),
      osdsUp: z.number().int().nonnegative().optional(),
      osdsTotal: z.number().int().nonnegative().optional(),
    })
    .nullable(),
  api: z.string().nullable().describe("host:port of that node's agent API"),
  lastUpdateAgeMs: z.number().nonnegative().nullable().describe("milliseconds since this agent received that node's newest record"),
  statusAgeMs: z.number().nonnegative().describe('milliseconds since its liveness status last changed'),
  incarnation: z.number().int().nonnegative(),
  version: z.number().int().nonnegative().nullable(),
})

export const NodeDetailSchema = NodeSummarySchema.extend({ record: NodeRecordBody.nullable() })

export const ClusterSummarySchema = z.looseObject({
  answeredBy: z.string().describe('the agent that answered'),
  observedAt: z.string(),
  counts: z.looseObject({ total: z.number().int(), alive: z.number().int(), suspect: z.number().int(), dead: z.number().int() }),
  nodes: z.array(NodeSummarySchema),
})

export const SelfSchema = z.looseObject({
  id: NodeId,
  uptimeMs: z.number().nonnegative(),
  software: z.looseObject({ version: z.string(), protocol: z.number().int() }).optional(),
  publicKey: z.string().optional(),
  cluster: z.string().optional(),
  bootstrap: z.array(z.string()).optional(),
  peers: z.array(z.unknown()).optional(),
  wave: z.looseObject({}).optional().describe('the upgrade agent status (agent/upgrade UpgradeStatus), when waves are configured'),
  node: NodeDetailSchema.nullable(),
  counters: z
    .looseObject({})
    .describe(
      'mesh, runtime and transport counters (also exported at GET /metrics): dropped (input dropped by reason: frame-too-large, malformed, bad-version, schema, bad-signature, not-on-roster, stale, replay, implausible-incarnation; a message type this version does not know is not dropped: see node ignored-type.TYPE and transport ignoredTypes), refused (not-on-roster, inbound-cap, protocol-version), disconnectedForBadFrames, stepErrors (mesh node steps that threw, by input type), node (activity counters incl. dropped.REASON, ignored-type.TYPE), transport (connections and bytes; helloVersions, ignoredTypes, refusedVersion)',
    ),
  process: z.looseObject({ pid: z.number().int(), rssBytes: z.number(), heapUsedBytes: z.number() }),
})

export const ApiErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) })

const at = z.string().describe('ISO 8601 time')
export const WatchLineSchema = z.discriminatedUnion('type', [
  ClusterSummarySchema.extend({ type: z.literal('snapshot'), at }),
  z.looseObject({ type: z.literal('member'), at, id: z.string(), status: Liveness, previous: z.string().nullable(), node: NodeSummarySchema.nullable() }),
  z.looseObject({ type: z.literal('record'), at, id: z.string(), changed: z.array(z.string()), node: NodeSummarySchema.nullable() }),
  z.looseObject({ type: z.literal('dropped'), at, from: z.string(), reason: z.string(), detail: z.string() }),
  z.looseObject({ type: z.literal('heartbeat'), at }),
])

export { MeshFingerprintList as FingerprintsSchema } from '../fingerprint/mesh-fingerprints.js'

export { HealthSummary, InventorySummary, Phase }

/** GET /v1/nodes/{id}/inventory: the inventory, who answered and how old it is. */
export const InventoryAnswerSchema = InventoryResponse.extend({
  id: NodeId,
  stale: z.boolean().optional().describe('the owner could not be asked; this is the last copy'),
  staleReason: z.string().optional(),
})
