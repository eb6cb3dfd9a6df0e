/**
 * Offline verification of a coordinator data dir (`shoal coordinator check`): every entry
 * authenticated and parsed by the schema of its kind, every node agreeing with its
 * certificate, MAC bindings pointing at enrolled nodes, and the database against the seal
 * file (the roster last signed). It reads only; every problem is listed, by entry.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { OperatorRecord } from './operator-record.js'
import { z } from 'zod'
import { ShoalError } from '../agent/protocol/errors.js'
import { ed25519Keyring } from '../agent/protocol/ed25519.js'
import { verifyCertificate } from '../agent/protocol/enroll/index.js'
import { Assignment, AuditEntry, NodeLabels, ClusterMeta, HashEntry, NodeEntry, PendingEntry, RetiredEntry, RosterMeta, StateStore, TokenEntry, keys, type StateSeal } from './state-store.js'

export interface StateProblem {
  key: string
  problem: string
}

export interface StateCheckReport {
  dir: string
  cluster?: string
  entries: number
  nodes: number
  rosterVersion?: number
  seal?: StateSeal
  problems: StateProblem[]
}

/** The schema each key kind is stored with (kinds not listed are only authenticated). */
const SCHEMAS: [prefix: string, schema: z.ZodType<unknown>][] = [
  [keys.cluster, ClusterMeta],
  [keys.roster, RosterMeta],
  [keys.serial, z.number().int().nonnegative()],
  [keys.admin, z.string().regex(/^[0-9a-f]{64}$/)],
  ['node!', NodeEntry],
  ['mac!', z.string()],
  ['token!', TokenEntry],
  ['assign!', Assignment],
  ['label!', NodeLabels],
  ['pending!', PendingEntry],
  ['retired!', RetiredEntry],
  ['audit!', AuditEntry],
  ['hash!', HashEntry],
  ['operator!', OperatorRecord],
]

export async function checkStateDir(dir: string): Promise<StateCheckReport> {
  // Opening would create an empty database: a check never writes.
  if (!existsSync(join(dir, 'CURRENT'))) throw new ShoalError('usage', `${dir} holds no coordinator state (no LevelDB CURRENT file); pass the coordinator's --data-dir`)
  const store = await StateStore.open(dir)
  try {
    return await checkStore(store)
  } finally {
    await store.close()
  }
}

export async function checkStore(store: StateStore): Promise<StateCheckReport> {
  const report: StateCheckReport = { dir: store.dir, entries: 0, nodes: 0, problems: [] }
  const problem = (key: string, text: string) => report.problems.push({ key, problem: text })
  let meta: ClusterMeta | undefined
  try {
    meta = await store.readCluster(ClusterMeta)
  } catch (err) {
    problem(keys.cluster, (err as Error).message)
  }
  try {
    report.seal = await store.readSeal()
  } catch (err) {
    problem('state-seal.json', (err as Error).message)
  }
  if (!meta) {
    if (!report.problems.length) problem(keys.cluster, report.seal ? 'missing: the cluster entry is gone (entries were lost)' : 'missing: this is not a coordinator data dir, or it was never started')
    return report
  }
  report.cluster = meta.id
  store.useKey(meta.seedHex)
  const clusterKey = ed25519Keyring(Buffer.from(meta.seedHex, 'hex')).publicKey
  const nodes = new Set<string>()
  const macs: [string, string][] = []
  for await (const [k, text] of store.raw()) {
    report.entries++
    const v = store.verifyRaw(k, text)
    if (v.problem) {
      problem(k, v.problem)
      continue
    }
    const schema = SCHEMAS.find(([p]) => k === p || (p.endsWith('!') && k.startsWith(p)))?.[1]
    let value: unknown
    try {
      value = JSON.parse(v.json!)
    } catch {
      problem(k, 'not valid JSON')
      continue
    }
    if (schema) {
      const r = schema.safeParse(value)
      if (!r.success) {
        problem(k, `${r.error.issues[0]?.path.join('.') || 'value'}: ${r.error.issues[0]?.message}`)
        continue
      }
      value = r.data
    }
    if (k.startsWith('node!')) {
      const n = value as NodeEntry
      const c = verifyCertificate(n.certificate, clusterKey, { cluster: meta.id, id: n.id, key: n.key })
      if (k !== keys.node(n.id)) problem(k, `holds node ${n.id}`)
      else if (!c.ok) problem(k, `its key or id does not match its certificate (${c.reason})`)
      else nodes.add(n.id)
    } else if (k.startsWith('mac!')) {
      macs.push([k, value as string])
    } else if (k === keys.roster) {
      report.rosterVersion = (value as RosterMeta).version
    }
  }
  report.nodes = nodes.size
  for (const [k, id] of macs) if (!nodes.has(id) && !report.problems.some((p) => p.key === keys.node(id))) problem(k, `points at node ${id}, which is not enrolled`)
  const seal = report.seal
  if (seal) {
    if (seal.cluster !== meta.id) problem('state-seal.json', `written for cluster ${seal.cluster}, the database holds ${meta.id}`)
    const version = report.rosterVersion ?? 0
    if (version < seal.rosterVersion || (version === seal.rosterVersion && nodes.size < seal.members)) {
      problem('state-seal.json', `entries lost: roster version ${seal.rosterVersion} with ${seal.members} node(s) was signed, the database holds version ${version} with ${nodes.size}`)
    }
  }
  return report
}

/** One line per problem, or the all-clear; for the CLI. */
export function formatCheck(r: StateCheckReport): string[] {
  const head = `${r.dir}: cluster ${r.cluster ?? '?'}, ${r.entries} entries, ${r.nodes} node(s), roster version ${r.rosterVersion ?? 0}${r.seal ? ` (last signed: ${r.seal.rosterVersion})` : ''}`
  if (!r.problems.length) return [head, 'ok: every entry is authenticated and consistent']
  return [head, ...r.problems.map((p) => `damaged: ${p.key}: ${p.problem}`), `${r.problems.length} problem(s): restore from a backup (shoal coordinator restore FILE --data-dir NEW_DIR)`]
}

export function assertClean(r: StateCheckReport): void {
  if (r.problems.length) throw new ShoalError('state-corrupt', formatCheck(r).slice(1).join('\n'))
}
