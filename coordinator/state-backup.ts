/**
 * Backups of the coordinator state: every entry as stored (still sealed by its HMAC), read
 * from one LevelDB snapshot, so a backup taken while the coordinator runs is consistent.
 * Format (JSON lines):
 *
 *   {"format":"shoal-coordinator-backup","v":1,"cluster":ID,"clusterKey":HEX,"createdAt":MS}
 *   [KEY, STORED_TEXT]                       one line per entry, in key order
 *   {"end":true,"entries":N,"sha256":HEX}    sha256 of every line before this one
 *
 * The file holds the cluster seed: it is written 0600 and is as secret as the data dir.
 * `restoreBackup` writes it onto a fresh data dir only after every entry verified, so nodes
 * keep their ids, keys and certificates, and the restored coordinator signs with the same key.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { ShoalError } from '../agent/protocol/errors.js'
import { ed25519Keyring } from '../agent/protocol/ed25519.js'
import { checkStore, formatCheck } from './state-check.js'
import { ClusterMeta, RosterMeta, StateStore, keys } from './state-store.js'

const Header = z.object({ format: z.literal('shoal-coordinator-backup'), v: z.literal(1), cluster: z.string(), clusterKey: z.string(), createdAt: z.number() }).strict()
const Trailer = z.object({ end: z.literal(true), entries: z.number().int().nonnegative(), sha256: z.string() }).strict()
const Line = z.tuple([z.string(), z.string()])

/** Yields the backup's lines (each without its newline) from one snapshot of `store`. */
export async function* backupLines(store: StateStore, cluster: { id: string; publicKey: string }, now: number): AsyncGenerator<string> {
  const hash = createHash('sha256')
  const emit = (line: string) => {
    hash.update(line).update('\n')
    return line
  }
  yield emit(JSON.stringify({ format: 'shoal-coordinator-backup', v: 1, cluster: cluster.id, clusterKey: cluster.publicKey, createdAt: now } satisfies z.infer<typeof Header>))
  let n = 0
  for await (const entry of store.raw()) {
    n++
    yield emit(JSON.stringify(entry))
  }
  yield JSON.stringify({ end: true, entries: n, sha256: hash.digest('hex') } satisfies z.infer<typeof Trailer>)
}

export interface ParsedBackup {
  cluster: string
  clusterKey: string
  createdAt: number
  entries: [string, string][]
}

/** Parses and checks a backup's text: header, every line, count and checksum. */
export function parseBackup(text: string, name: string): ParsedBackup {
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  const bad = (why: string) => new ShoalError('usage', `${name} is not a usable coordinator backup: ${why}`)
  if (lines.length < 2) throw bad('too short (no header or no end line: was it cut off?)')
  const json = (l: string, i: number) => {
    try {
      return JSON.parse(l) as unknown
    } catch {
      throw bad(`line ${i + 1} is not JSON`)
    }
  }
  const header = Header.safeParse(json(lines[0]!, 0))
  if (!header.success) throw bad('the first line is not a shoal-coordinator-backup header')
  const trailer = Trailer.safeParse(json(lines[lines.length - 1]!, lines.length - 1))
  if (!trailer.success) throw bad('no end line: the file was cut off')
  const hash = createHash('sha256')
  for (const l of lines.slice(0, -1)) hash.update(l).update('\n')
  if (hash.digest('hex') !== trailer.data.sha256) throw bad('its checksum does not match: the file was changed or damaged')
  const entries = lines.slice(1, -1).map((l, i) => {
    const r = Line.safeParse(json(l, i + 1))
    if (!r.success) throw bad(`line ${i + 2} is not a [key, value] entry`)
    return r.data
  })
  if (entries.length !== trailer.data.entries) throw bad(`${entries.length} entries, the end line says ${trailer.data.entries}`)
  return { cluster: header.data.cluster, clusterKey: header.data.clusterKey, createdAt: header.data.createdAt, entries }
}

/**
 * Writes a backup onto a fresh data dir (none there yet), verifies every entry with the
 * cluster key the backup holds, and writes the seal file for the restored roster.
 */
export async function restoreBackup(text: string, name: string, dataDir: string): Promise<{ cluster: string; entries: number; nodes: number; rosterVersion: number }> {
  const b = parseBackup(text, name)
  if (existsSync(join(dataDir, 'CURRENT'))) throw new ShoalError('usage', `${dataDir} already holds a coordinator state; restore onto a fresh data dir (--data-dir NEW_DIR) on a stopped controller`)
  const metaText = b.entries.find(([k]) => k === keys.cluster)?.[1]
  if (!metaText) throw new ShoalError('usage', `${name} holds no cluster entry (${keys.cluster}); it cannot be restored`)
  const existed = existsSync(dataDir)
  const store = await StateStore.open(dataDir)
  try {
    await store.putRaw(b.entries)
    const report = await checkStore(store)
    const meta = await store.readCluster(ClusterMeta)
    if (report.problems.filter((p) => p.key !== 'state-seal.json').length || !meta) {
      throw new ShoalError('state-corrupt', `${name} holds damaged entries, not restored:\n${formatCheck(report).slice(1).join('\n')}`)
    }
    if (ed25519Keyring(Buffer.from(meta.seedHex, 'hex')).publicKey !== b.clusterKey) throw new ShoalError('state-corrupt', `${name}: its header names another cluster key than its cluster entry`)
    const roster = (await store.get(keys.roster, RosterMeta)) ?? { version: 0, issuedAt: 0 }
    const serial = (await store.get(keys.serial, z.number().int().nonnegative())) ?? 0
    await store.writeSeal({ v: 1, cluster: meta.id, clusterKey: b.clusterKey, rosterVersion: roster.version, members: report.nodes, serial, at: b.createdAt })
    return { cluster: meta.id, entries: b.entries.length, nodes: report.nodes, rosterVersion: roster.version }
  } catch (err) {
    await store.close()
    if (!existed) await rm(dataDir, { recursive: true, force: true })
    throw err
  } finally {
    await store.close().catch(() => undefined)
  }
}

/** The line shapes, for the API description (coordinator/openapi.ts). */
export { Header as BackupHeader, Trailer as BackupTrailer, Line as BackupLine }
