/**
 * Coordinator configuration: every field documented with its unit and reason, frozen
 * defaults, strict parsing (unknown keys are an error), and one pure merge of
 * file < environment < flags.
 */
import { z } from 'zod'
import { ShoalError } from '../agent/protocol/errors.js'
import { ClusterId, HostPort } from '../agent/protocol/enroll/index.js'
import { ImageVersion } from '../agent/protocol/image-version.js'
import { checkDhcpFields } from './dhcp-plan.js'
import { formatMeshParam, hasKernelParam, parseLayersParam, MESH_TIMINGS, parseMeshParam, parseMeshTiming, type MeshParam } from '../agent/protocol/kernel-params/index.js'

export const CoordinatorConfig = z
  .object({
    /** Where the level database and the admin-token file live. */
    dataDir: z.string().min(1),
    /** Image versions, one directory each: `<imagesDir>/<version>/{vmlinuz,initramfs.img,*.squashfs,manifest.json}`. */
    imagesDir: z.string().min(1),
    /** HTTP bind address. Loopback by default: exposing it is a decision. */
    httpHost: z.string().min(1),
    /** HTTP port (0 = pick a free one; tests). */
    httpPort: z.number().int().min(0).max(65535),
    /**
     * Base URL as workers reach the coordinator (e.g. http://10.0.2.2:8080 under QEMU
     * user-net, where the host sees the guest's connections arrive on 127.0.0.1). Unset: the
     * local address the request's TCP connection arrived on — never the Host header, which
     * the client writes.
     */
    publicUrl: z.string().regex(/^https?:\/\/[^\s/]+$/, 'publicUrl: http(s)://host[:port], no path').optional(),
    /** UDP bind address of the mesh's DHT bootstrap node (an IPv4 address, not 0.0.0.0). */
    dhtHost: z.string().min(1),
    /** UDP port of the bootstrap node; 0 = pick a free one; -1 = do not run one (tests). */
    dhtPort: z.number().int().min(-1).max(65535),
    /** Bootstrap `host:port`s handed to workers. Unset: the public URL's host with dhtPort. */
    bootstrapAdvertise: z.array(HostPort).optional(),
    /** Cluster id, used only when the data dir is new (it is stored from then on). */
    clusterId: ClusterId.optional(),
    /** Image version for nodes with no assignment. Unset: the highest version directory. */
    defaultImage: ImageVersion.optional(),
    /** A MAC the coordinator has never seen (not enrolled, not assigned): boot it with the default image, or refuse. */
    unknownMac: z.enum(['default', 'refuse']),
    /** 'new-fingerprints': a machine that resolves to no known node waits for `shoal coordinator approve`. */
    approval: z.enum(['off', 'new-fingerprints']),
    /** Join token lifetime: a TCG boot reaches enrollment in ~20 s; 15 min covers slow BIOSes without leaving tokens lying around. */
    joinTokenTtlMs: z.number().int().positive(),
    /** How long the same enrollment may be re-sent with a used token (lost responses, approval waits). */
    enrollRetryWindowMs: z.number().int().positive(),
    /** Unused tokens kept per MAC; older ones are dropped, so a noisy client cannot grow the database. */
    maxTokensPerMac: z.number().int().positive(),
    /** Unused join tokens kept in all: past it new MACs get 429 until tokens are used or expire; nobody's token is evicted for another MAC. */
    maxJoinTokens: z.number().int().positive(),
    /** Join tokens (boot scripts and GET /v1/join-token) one source address may take at once: a rack behind one NAT boots together. */
    joinTokenBurst: z.number().int().positive(),
    /** ... and per minute after the burst, per source address. */
    joinTokensPerMinute: z.number().int().positive(),
    /** Extra kernel command line words before the shoal.* parameters. */
    kernelArgs: z.string(),
    /**
     * Mesh timing of the coordinator's own mesh peer AND of every worker it boots (handed
     * over as shoal.mesh= on the kernel command line), so both sides probe and wait alike:
     * 'lan' (the preset: 200 ms probes, 250 ms answers), 'emulated' (TCG workers, 20-100x
     * slower: 1 s probes, 2 s answers) or key:number pairs of agent/protocol/mesh-config.ts
     * plus silentLinkMs (e.g. probeIntervalMs:500,probeTimeoutMs:1000).
     */
    meshTiming: z.string().superRefine((text, ctx) => {
      try {
        parseMeshTiming(text)
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `${(err as Error).message.replace(/^shoal\.mesh: /, '')} (or one of: ${Object.keys(MESH_TIMINGS).join(', ')})` })
      }
    }),
    /** Admin bearer token for write operations. Unset: generated at first start and written to `<dataDir>/admin-token`. */
    adminToken: z.string().min(16).optional(),
    /** Largest JSON request body; an enrollment with a full inventory is a few KB. */
    maxBodyBytes: z.number().int().positive(),
    /** Read size for image files: 1 MiB chunks keep per-chunk JS overhead negligible at GB/s. */
    fileChunkBytes: z.number().int().min(16 * 1024),
    /** Keep-alive idle time: workers fetch layer after layer on one connection. */
    keepAliveTimeoutMs: z.number().int().positive(),
    /** Audit entries kept; older ones are pruned. */
    auditMaxEntries: z.number().int().positive(),
    /** Log every image response in the audit log (off only for benchmarks that measure the server alone). */
    auditImages: z.boolean(),
    /**
     * Run dnsmasq beside the coordinator so machines with no PXE setup find it (docs/boot.md):
     * 'range' hands out leases from dhcpRange on dhcpInterface with the boot options; 'proxy'
     * answers only the boot question beside the site's own DHCP server (proxyDHCP); 'off'
     * (default): the site's DHCP/TFTP points iPXE at the coordinator itself.
     */
    dhcp: z.enum(['off', 'proxy', 'range']),
    /** The interface on the workers' LAN that dnsmasq serves (needs an IPv4 address; dnsmasq binds only it). */
    dhcpInterface: z.string().min(1).optional(),
    /** range: the addresses handed out, FIRST-LAST inside the interface's subnet; proxy: the site's network (unset: the interface's). */
    dhcpRange: z.string().min(1).optional(),
    /** Lease time in range mode: an hour, so a dead worker's address comes back soon; a running worker renews at half of it. */
    dhcpLeaseSeconds: z.number().int().min(120),
    /** Default gateway handed out in range mode. Unset: none (the controller is not a router). */
    dhcpRouter: z.string().optional(),
    /** DNS servers handed out in range mode, comma-separated. Unset: none. */
    dhcpDns: z.string().optional(),
    /** Where iPXE binaries for plain PXE ROMs are (undionly.kpxe, snponly.efi or ipxe.efi; Debian's `ipxe` package puts them here). Served by dnsmasq's TFTP. */
    dhcpIpxeDir: z.string().min(1),
  })
  .strict()
export type CoordinatorConfig = z.infer<typeof CoordinatorConfig>

export const defaultCoordinatorConfig: Readonly<CoordinatorConfig> = Object.freeze({
  dataDir: '.shoal/coordinator',
  imagesDir: '.shoal/images',
  httpHost: '127.0.0.1',
  httpPort: 8080,
  dhtHost: '127.0.0.1',
  dhtPort: 49737,
  unknownMac: 'default',
  approval: 'off',
  joinTokenTtlMs: 15 * 60_000,
  enrollRetryWindowMs: 24 * 3600_000,
  maxTokensPerMac: 8,
  maxJoinTokens: 10_000,
  joinTokenBurst: 60,
  joinTokensPerMinute: 120,
  kernelArgs: 'console=ttyS0,115200 panic=-1',
  meshTiming: 'lan',
  maxBodyBytes: 256 * 1024,
  fileChunkBytes: 1024 * 1024,
  keepAliveTimeoutMs: 65_000,
  auditMaxEntries: 100_000,
  auditImages: true,
  dhcp: 'off',
  dhcpLeaseSeconds: 3600,
  dhcpIpxeDir: '/usr/lib/ipxe',
} satisfies CoordinatorConfig)

export type PartialConfig = Partial<CoordinatorConfig>

/** Environment variables: SHOAL_COORDINATOR_<FIELD IN UPPER_SNAKE>. */
export function configFromEnv(env: Record<string, string | undefined>): PartialConfig {
  const out: Record<string, unknown> = {}
  const shape = CoordinatorConfig.shape
  for (const key of Object.keys(shape) as (keyof CoordinatorConfig)[]) {
    const name = `SHOAL_COORDINATOR_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    out[key] = coerce(key, raw, name)
  }
  return out as PartialConfig
}

/** Turns a string (env or flag) into the field's type. */
export function coerce(key: keyof CoordinatorConfig, raw: string, source: string): unknown {
  const sample = (defaultCoordinatorConfig as Record<string, unknown>)[key]
  if (key === 'bootstrapAdvertise') return raw.split(',').map((s) => s.trim()).filter(Boolean)
  if (typeof sample === 'number' || /Ms$|Bytes$|Port$|Entries$/.test(key)) {
    const n = Number(raw)
    if (!Number.isFinite(n)) throw new ShoalError('usage', `${source} must be a number, not "${raw}"`)
    return n
  }
  if (typeof sample === 'boolean') {
    if (raw === 'true' || raw === '1') return true
    if (raw === 'false' || raw === '0') return false
    throw new ShoalError('usage', `${source} must be true or false, not "${raw}"`)
  }
  return raw
}

/** defaults < file < env < flags, validated; the error names the bad field and its source. */
export function mergeConfig(...layers: PartialConfig[]): CoordinatorConfig {
  const merged: Record<string, unknown> = { ...defaultCoordinatorConfig }
  for (const l of layers) for (const [k, v] of Object.entries(l)) if (v !== undefined) merged[k] = v
  const r = CoordinatorConfig.safeParse(merged)
  if (!r.success) {
    throw new ShoalError('config', `invalid coordinator config: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`)
  }
  try {
    checkDhcpFields(r.data)
  } catch (err) {
    throw new ShoalError('config', `invalid coordinator config: ${(err as Error).message}`)
  }
  // One source of mesh timing, or the coordinator and its workers could disagree: shoal.mesh=
  // in kernelArgs is taken as the timing (see meshTimingOf), unless meshTiming says otherwise.
  if (hasKernelParam(r.data.kernelArgs, 'mesh')) {
    if (r.data.meshTiming !== 'lan') {
      throw new ShoalError('config', `invalid coordinator config: kernelArgs has shoal.mesh= and meshTiming is ${r.data.meshTiming}: set the timing once, with meshTiming (--mesh-timing); the coordinator's mesh peer uses it and hands it to the workers it boots`)
    }
    try {
      parseMeshParam(r.data.kernelArgs)
    } catch (err) {
      throw new ShoalError('config', `invalid coordinator config: kernelArgs: ${(err as Error).message}`)
    }
  }
  try {
    parseLayersParam(r.data.kernelArgs)
  } catch (err) {
    throw new ShoalError('config', `invalid coordinator config: kernelArgs: ${(err as Error).message}`)
  }
  return r.data
}

/** Parses a config file's JSON (partial config, strict). */
export function parseConfigFile(text: string, path: string): PartialConfig {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ShoalError('config', `${path} is not valid JSON: ${(err as Error).message}`)
  }
  const r = CoordinatorConfig.partial().strict().safeParse(json)
  if (!r.success) throw new ShoalError('config', `${path}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`)
  return r.data
}

/**
 * The mesh timing a coordinator runs and hands its workers, and the kernel words that hand
 * it over: meshTiming, or a shoal.mesh= already in kernelArgs (then kernelArgs stays as is).
 */
export function meshTimingOf(c: Pick<CoordinatorConfig, 'kernelArgs' | 'meshTiming'>): { timing: MeshParam; kernelArgs: string } {
  const inArgs = parseMeshParam(c.kernelArgs)
  if (inArgs) return { timing: inArgs, kernelArgs: c.kernelArgs.trim() }
  const timing = parseMeshTiming(c.meshTiming)
  return { timing, kernelArgs: [c.kernelArgs.trim(), formatMeshParam(timing)].filter(Boolean).join(' ') }
}
