/**
 * `shoal.mesh=key:value,...` on the kernel command line: mesh timing overrides the boot
 * agent writes into the run-mode agent's config (agent/protocol/mesh-config.ts fields, whole
 * numbers). For machines far slower than the `lan` preset assumes — an emulated (TCG) worker
 * runs node 20-100x slower, and 200 ms probes then keep its one CPU busy — e.g.
 * `shoal.mesh=probeIntervalMs:1000,probeTimeoutMs:2000`. Absent: the preset as is.
 */
import { MeshConfig } from '../mesh-config.js'
import { ShoalError } from '../errors.js'

export interface MeshParam {
  mesh: Partial<MeshConfig>
  /** `silentLinkMs:N` in the same list: the transport's silent-link close (agent config silentLinkMs). */
  silentLinkMs?: number
}

/**
 * Named timings (what an operator types as the coordinator's --mesh-timing):
 * - lan: the preset as is (nothing on the command line);
 * - emulated: TCG workers on a shared host, where node runs 20-100x slower and a starved
 *   guest answered its HTTP API in up to 20 s: 2 s probes answered within 5 s, suspicion of
 *   at least 8 probe periods (16-48 s: a suspected guest gets time to refute), 5 s
 *   anti-entropy, 50 ms IHAVE batches, and a 60 s silent-link close (a handshake can take
 *   the slow side many seconds). A crash is then noticed in about a minute, not 3 s.
 */
export const MESH_TIMINGS = {
  lan: '',
  emulated: 'silentLinkMs:60000,probeIntervalMs:2000,probeTimeoutMs:5000,suspicionMinMult:8,antiEntropyIntervalMs:5000,ihaveIntervalMs:50,graftTimeoutMs:200,connectTimeoutMs:10000,deadProbeIntervalMs:5000',
} as const

/** A timing as the operator wrote it (a name of MESH_TIMINGS, or key:number,...) -> the pairs, validated. */
export function parseMeshTiming(text: string): MeshParam {
  const pairs = text in MESH_TIMINGS ? MESH_TIMINGS[text as keyof typeof MESH_TIMINGS] : text
  return parsePairs(pairs) ?? { mesh: {} }
}

/** The `shoal.mesh=` word for a kernel command line; '' when nothing differs from the preset. */
export function formatMeshParam(p: MeshParam): string {
  const pairs = [...(p.silentLinkMs !== undefined ? [`silentLinkMs:${p.silentLinkMs}`] : []), ...Object.entries(p.mesh).map(([k, v]) => `${k}:${v}`)]
  return pairs.length ? `shoal.mesh=${pairs.join(',')}` : ''
}

export function parseMeshParam(cmdline: string): MeshParam | undefined {
  const word = cmdline.trim().split(/\s+/).find((w) => w.startsWith('shoal.mesh='))
  if (word === undefined) return undefined
  return parsePairs(word.slice('shoal.mesh='.length))
}

function parsePairs(text: string): MeshParam | undefined {
  if (!text.trim()) return undefined
  const raw: Record<string, unknown> = {}
  for (const pair of text.split(',').filter(Boolean)) {
    const m = /^(\w+):(\d+(?:\.\d+)?)$/.exec(pair)
    if (!m) throw new ShoalError('bad-cmdline', `shoal.mesh: "${pair}" is not key:number (e.g. shoal.mesh=probeIntervalMs:1000,probeTimeoutMs:2000)`)
    raw[m[1]!] = Number(m[2])
  }
  const silentLinkMs = raw.silentLinkMs
  delete raw.silentLinkMs
  if (silentLinkMs !== undefined && !Number.isInteger(silentLinkMs)) throw new ShoalError('bad-cmdline', 'shoal.mesh: silentLinkMs must be a whole number of ms')
  const parsed = MeshConfig.partial().safeParse(raw)
  if (!parsed.success) {
    throw new ShoalError('bad-cmdline', `shoal.mesh: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')} (fields of agent/protocol/mesh-config.ts)`)
  }
  return { mesh: parsed.data, ...(silentLinkMs !== undefined ? { silentLinkMs: silentLinkMs as number } : {}) }
}
