/**
 * Known fingerprints as the mesh serves them: any agent answers `GET /v1/fingerprints`
 * with one entry per node it holds a record of (id, component digest, liveness, record
 * version), so a rebooting worker that reaches ANY peer can resolve its old id. The wire
 * entry is defined once here; the API builds it (`meshFingerprints`), the boot agent and
 * `shoal fingerprint --known-from` parse it (`parseMeshFingerprints`), and answers of
 * several peers are merged (`mergeKnownFingerprints`). Pure: zod only, no IO.
 */
import { z } from 'zod'
import type { MemberView } from '../protocol/mesh-types.js'
import { knownFromRecords } from './known-fingerprints.js'
import type { KnownFingerprint } from './resolve-identity.js'

/** One entry of GET /v1/fingerprints. Unknown fields are ignored (a newer agent may add some). */
export const MeshFingerprint = z.object({
  id: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'node id: letters, digits, . _ - only'),
  /** The node's component digest, as in its NodeRecord ("kind:hash" entries). */
  comps: z.array(z.string().min(1).max(80)).max(64),
  /**
   * True when the answering agent holds that node alive right now (probes answered) and
   * the node did not announce a reboot (phase 'rebooting'). A rebooting machine's old
   * self is suspect within ~0.5 s and dead within ~2.5 s of going down (lan preset),
   * long before its boot agent runs; a clone's original stays alive.
   */
  alive: z.boolean(),
  /** Incarnation and version of the record the digest came from: of two answers for one id, the higher is newer. */
  inc: z.number().int().nonnegative(),
  ver: z.number().int().nonnegative(),
})
export type MeshFingerprint = z.infer<typeof MeshFingerprint>

/** The whole answer: a bare array, so `curl .../v1/fingerprints > known.json` is a valid `--known` file. */
export const MeshFingerprintList = z.array(MeshFingerprint).max(100_000)

/** What an agent serves from its mesh view: every member with a record that carries a digest. Sorted by id. */
export function meshFingerprints(view: readonly MemberView[]): MeshFingerprint[] {
  const withDigest = view.filter((m) => m.record !== undefined && m.record.comps.length > 0)
  const byId = new Map(withDigest.map((m) => [m.id, m]))
  const isAlive = (id: string) => {
    const m = byId.get(id)!
    return m.status === 'alive' && m.record!.phase !== 'rebooting'
  }
  const known = knownFromRecords(
    withDigest.map((m) => ({ id: m.id, comps: m.record!.comps })),
    isAlive,
  )
  return known
    .map((k) => {
      const r = byId.get(k.id)!.record!
      return { id: k.id, comps: [...k.comps], alive: k.alive === true, inc: r.inc, ver: r.ver }
    })
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

export type ParsedMeshFingerprints = { ok: true; entries: MeshFingerprint[] } | { ok: false; reason: 'schema'; detail: string }

/** Parses an answer of GET /v1/fingerprints (already JSON-decoded). Never throws. */
export function parseMeshFingerprints(json: unknown): ParsedMeshFingerprints {
  const r = MeshFingerprintList.safeParse(json)
  if (r.success) return { ok: true, entries: r.data }
  const issue = r.error.issues[0]!
  return { ok: false, reason: 'schema', detail: `${issue.path.length ? `at ${issue.path.join('.')}: ` : ''}${issue.message}` }
}

/**
 * Merges the answers of several agents into one known fleet. For one id, the entry from
 * the newest record wins (highest incarnation, then version); it is `alive` when ANY
 * answer says so — a peer that still hears the node is reason enough not to take its id
 * (every doubt goes to a new id; the coordinator settles it at enrollment).
 * Deterministic: the result does not depend on the order of the answers. Sorted by id.
 */
export function mergeKnownFingerprints(answers: Iterable<readonly MeshFingerprint[]>): KnownFingerprint[] {
  const best = new Map<string, MeshFingerprint>()
  const alive = new Set<string>()
  for (const entries of answers) {
    for (const e of entries) {
      if (e.alive) alive.add(e.id)
      const cur = best.get(e.id)
      if (!cur || newer(e, cur)) best.set(e.id, e)
    }
  }
  return [...best.values()]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((e) => (alive.has(e.id) ? { id: e.id, comps: e.comps, alive: true } : { id: e.id, comps: e.comps }))
}

/** a is newer than b; equal (inc, ver) with different digests: the smaller digest text wins, so order never matters. */
function newer(a: MeshFingerprint, b: MeshFingerprint): boolean {
  if (a.inc !== b.inc) return a.inc > b.inc
  if (a.ver !== b.ver) return a.ver > b.ver
  return a.comps.join(',') < b.comps.join(',')
}
