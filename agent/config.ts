/**
 * The agent's configuration: one strict zod schema, frozen defaults with a reason each,
 * and one pure merge of file < environment < flags. Unknown keys are errors, so a typo
 * in a config file is reported instead of silently ignored.
 */
import { z } from 'zod'
import { ShoalError } from './protocol/errors.js'
import { MeshConfig } from './protocol/mesh-config.js'
import { ImageVersion } from './protocol/image-version.js'
import { InventorySummary, NodeId, Phase } from './protocol/node-record.js'
import { UpgradeConfigInput } from './protocol/upgrade-config.js'

const HostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port')

export const AgentConfig = z
  .object({
    /** Cluster id: names the DHT topic, so two clusters on one LAN never meet. */
    cluster: z.string().min(1).max(64),
    /** This node's id (normally the hardware fingerprint, agent/fingerprint). */
    nodeId: NodeId,
    /** File holding the 32-byte node seed as 64 hex characters; created (mode 0600) if missing. */
    seedFile: z.string().min(1).optional(),
    /** The seed itself, hex; for the demo and tests. Wins over seedFile. */
    seedHex: z.string().regex(/^[0-9a-f]{64}$/, 'seedHex: 64 hex characters').optional(),
    /** Roster file (agent/protocol/roster.ts RosterFile, JSON): who may join. */
    rosterFile: z.string().min(1),
    /** Private DHT bootstrap nodes, host:port. Never empty: we do not use the public network. */
    bootstrap: z.array(HostPort).min(1),
    /** Address the DHT binds and announces: the provisioning LAN address (127.0.0.1 on one machine). */
    meshHost: z.string().min(1).optional(),
    /** HTTP API bind address. 127.0.0.1 by default: the API is unauthenticated, open it on purpose. */
    apiHost: z.string().min(1),
    /** HTTP API port; 0 picks a free one (logged, and published in the node record). */
    apiPort: z.number().int().min(0).max(65535),
    /** host:port other agents and the CLI use to reach this API; defaults to apiHost:actual port. */
    apiAdvertise: HostPort.optional(),
    /** Image version this node booted (the coordinator assigns it). */
    image: ImageVersion,
    /** Failure domain (rack / host group): upgrade waves finish one before the next. */
    domain: z.string().min(1).max(64),
    /** Phase published at start. */
    phase: Phase,
    /** Hardware summary to publish instead of collecting it (synthetic machines in the demo). */
    inventory: InventorySummary.optional(),
    /** This machine's component digest (agent/fingerprint), published in the record so peers can give a rebooted machine its id back. Written by the boot agent. */
    comps: z.array(z.string().max(80)).max(64).optional(),
    /** Mesh tuning overrides onto the `lan` preset (agent/protocol/mesh-config.ts). */
    mesh: MeshConfig.partial().optional(),
    /** A new mesh link that has received nothing for this long is closed; 0 never. Default 10 s (agent/mesh/swarm-transport.ts); longer for emulated workers whose handshakes take seconds. */
    silentLinkMs: z.number().int().nonnegative().optional(),
    /** Collect this machine's full inventory (agent/inventory, in a child process) after start and on request. Off for synthetic machines. */
    collectInventory: z.boolean(),
    /** Re-collect the own inventory when older than this. 10 min: hardware rarely changes; a swapped disk shows within it. */
    inventoryRefreshMs: z.number().int().positive(),
    /** Another node's inventory fetched less than this ago is served from cache. 30 s: hardware rarely changes. */
    inventoryCacheMs: z.number().int().nonnegative(),
    /** Timeout of one forwarded request to another agent. 2 s: a LAN answers in ms; a dead peer must not stall the CLI. */
    forwardTimeoutMs: z.number().int().positive(),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    /** Exit when stdin closes: a supervisor (the demo) that dies takes its agents with it. */
    exitWithStdin: z.boolean(),
    /** Join the mesh only after a `start` line on stdin: lets a benchmark start many loaded agents at one instant. */
    holdUntilStartLine: z.boolean(),
    /** Upgrade waves (agent/protocol/upgrade-config.ts): coordinator key and URL, Ceph/Kubernetes sources, rebooter. Absent: the agent takes no part in waves. */
    upgrade: UpgradeConfigInput.optional(),
    /**
     * Layer chunks this node serves to booting workers of its image on the API (docs/layers.md,
     * agent/api/layer-chunk-route.ts). Written by the boot agent when it fetched its layers in
     * chunks; absent: the node serves none.
     */
    layerChunks: z
      .object({
        /** The signed manifest with chunk hashes the boot agent verified and kept (in RAM). */
        manifestFile: z.string().min(1),
        /** The layer files, in RAM since boot. */
        layerDir: z.string().min(1),
        /** The cluster key the manifest must be signed with. */
        clusterKey: z.string().regex(/^[0-9a-f]{64}$/, 'clusterKey: 64 hex characters'),
        /** Upload cap in bytes/s; absent: 25 MiB/s (RUNNING_UPLOAD_BYTES_PER_SEC); 0: serve nothing. */
        uploadBytesPerSec: z.number().int().nonnegative().optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
export type AgentConfig = z.infer<typeof AgentConfig>

export const agentDefaults = Object.freeze({
  apiHost: '127.0.0.1',
  apiPort: 7400,
  image: 'dev',
  domain: 'default',
  phase: 'ready',
  collectInventory: true,
  inventoryRefreshMs: 600_000,
  inventoryCacheMs: 30_000,
  forwardTimeoutMs: 2_000,
  logLevel: 'info',
  exitWithStdin: false,
  holdUntilStartLine: false,
} satisfies Partial<AgentConfig>)

/** Environment variables read, and the field each one sets. */
export const envFields: Record<string, { key: keyof AgentConfig; kind: 'string' | 'number' | 'list' | 'bool' }> = {
  SHOAL_CLUSTER: { key: 'cluster', kind: 'string' },
  SHOAL_NODE_ID: { key: 'nodeId', kind: 'string' },
  SHOAL_SEED_FILE: { key: 'seedFile', kind: 'string' },
  SHOAL_ROSTER: { key: 'rosterFile', kind: 'string' },
  SHOAL_BOOTSTRAP: { key: 'bootstrap', kind: 'list' },
  SHOAL_MESH_HOST: { key: 'meshHost', kind: 'string' },
  SHOAL_API_HOST: { key: 'apiHost', kind: 'string' },
  SHOAL_API_PORT: { key: 'apiPort', kind: 'number' },
  SHOAL_API_ADVERTISE: { key: 'apiAdvertise', kind: 'string' },
  SHOAL_IMAGE: { key: 'image', kind: 'string' },
  SHOAL_DOMAIN: { key: 'domain', kind: 'string' },
  SHOAL_LOG_LEVEL: { key: 'logLevel', kind: 'string' },
}

/** Command-line flags of `shoal agent` (besides --config) and the field each one sets. */
export const flagFields: Record<string, { key: keyof AgentConfig; kind: 'string' | 'number' | 'list' | 'bool' }> = {
  cluster: { key: 'cluster', kind: 'string' },
  'node-id': { key: 'nodeId', kind: 'string' },
  'seed-file': { key: 'seedFile', kind: 'string' },
  roster: { key: 'rosterFile', kind: 'string' },
  bootstrap: { key: 'bootstrap', kind: 'list' },
  'mesh-host': { key: 'meshHost', kind: 'string' },
  'api-host': { key: 'apiHost', kind: 'string' },
  'api-port': { key: 'apiPort', kind: 'number' },
  'api-advertise': { key: 'apiAdvertise', kind: 'string' },
  image: { key: 'image', kind: 'string' },
  domain: { key: 'domain', kind: 'string' },
  'log-level': { key: 'logLevel', kind: 'string' },
  'exit-with-stdin': { key: 'exitWithStdin', kind: 'bool' },
  'hold-until-start-line': { key: 'holdUntilStartLine', kind: 'bool' },
}

function convert(name: string, kind: 'string' | 'number' | 'list' | 'bool', raw: string | boolean): unknown {
  if (kind === 'bool') return raw === true || raw === 'true' || raw === '1'
  const s = String(raw)
  if (kind === 'number') {
    if (!/^\d+$/.test(s)) throw new ShoalError('config', `${name} must be a whole number, not "${s}"`)
    return Number(s)
  }
  if (kind === 'list') return s.split(',').map((x) => x.trim()).filter(Boolean)
  return s
}

export function fromEnv(env: Record<string, string | undefined>): Partial<Record<keyof AgentConfig, unknown>> {
  const out: Partial<Record<keyof AgentConfig, unknown>> = {}
  for (const [name, f] of Object.entries(envFields)) {
    const v = env[name]
    if (v !== undefined && v !== '') out[f.key] = convert(name, f.kind, v)
  }
  return out
}

export function fromFlags(flags: Record<string, string | boolean | undefined>): Partial<Record<keyof AgentConfig, unknown>> {
  const out: Partial<Record<keyof AgentConfig, unknown>> = {}
  for (const [name, f] of Object.entries(flagFields)) {
    const v = flags[name]
    if (v !== undefined) out[f.key] = convert(`--${name}`, f.kind, v)
  }
  return out
}

/**
 * The one merge: defaults < file < env < flags, then strict validation. Throws
 * ShoalError('config') naming every bad field and where to fix it.
 */
export function resolveAgentConfig(file: unknown, env: Record<string, string | undefined> = {}, flags: Record<string, string | boolean | undefined> = {}): AgentConfig {
  if (file !== undefined && (typeof file !== 'object' || file === null || Array.isArray(file))) {
    throw new ShoalError('config', 'the config file must hold one JSON object')
  }
  const merged = { ...agentDefaults, ...(file as object | undefined), ...fromEnv(env), ...fromFlags(flags) }
  const parsed = AgentConfig.safeParse(merged)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')
    throw new ShoalError('config', `invalid agent config: ${problems}`)
  }
  if (!parsed.data.seedHex && !parsed.data.seedFile) throw new ShoalError('config', 'invalid agent config: set seedFile (created if missing) or seedHex')
  return parsed.data
}
