/**
 * `shoal.mesh=key:value,...` on the kernel command line: mesh timing overrides the boot
 * agent writes into the run-mode agent's config (agent/protocol/mesh-config.ts fields, whole
 * numbers). For machines far slower than the `lan` preset assumes — an emulated (TCG) worker
 * runs node 20-100x slower, and 200 ms probes then keep its one CPU busy — e.g.
 * `shoal.mesh=probeIntervalMs:1000,probeTimeoutMs:2000`. Absent: the preset as is.
 */
import { isMeshTimingName, MESH_TIMINGS, MeshConfig, meshTimingPairs } from '../mesh-config.js'
import { ShoalError } from '../errors.js'

export interface MeshParam {
  mesh: Partial<MeshConfig>
  /** `silentLinkMs:N` in the same list: the transport's silent-link close (agent config silentLinkMs). */
  silentLinkMs?: number
}

/** The named timings (the coordinator's --mesh-timing) live in one table: agent/protocol/mesh-config.ts. */
export { MESH_TIMINGS }

/** A timing as the operator wrote it (a name of MESH_TIMINGS, or key:number,...) -> the pairs, validated. */
export function parseMeshTiming(text: string): MeshParam {
  return parsePairs(isMeshTimingName(text) ? meshTimingPairs(text) : text) ?? { mesh: {} }
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
