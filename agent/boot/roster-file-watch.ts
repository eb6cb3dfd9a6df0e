/**
 * Lets a running agent admit nodes enrolled after it started: watches the roster file
 * (rewritten by roster-sync.ts) and adds new (id, key) entries to the live Roster, which
 * the transport's firewall and the mesh consult on every connection and record. Entries
 * are only added, never removed, here: removal is an operator action with its own path.
 * A file that does not parse is logged and ignored; the roster in memory stays as it was.
 */
import { readFile } from 'node:fs/promises'
import { unwatchFile, watchFile } from 'node:fs'
import { RosterFile, type Roster } from '../protocol/roster.js'
import type { Logger } from '../protocol/ports.js'

/** Reads the file and adds what is new; returns the ids added. */
export async function mergeRosterFile(path: string, cluster: string, roster: Roster): Promise<string[]> {
  const parsed = RosterFile.safeParse(JSON.parse(await readFile(path, 'utf8')))
  if (!parsed.success) throw new Error(`roster file ${path} is invalid: ${parsed.error.issues[0]?.message}`)
  if (parsed.data.cluster !== cluster) throw new Error(`roster file ${path} is for cluster ${parsed.data.cluster}, not ${cluster}`)
  const added: string[] = []
  roster.operators = parsed.data.operators ?? []
  for (const e of parsed.data.members) {
    if (roster.keyOf(e.id) !== e.key) {
      roster.add(e)
      added.push(e.id)
    }
  }
  return added
}

/** Polls the file's mtime every intervalMs (works on tmpfs and overlayfs). Returns stop. */
export function watchRosterFile(path: string, cluster: string, roster: Roster, log: Logger, intervalMs = 1000): () => void {
  const onChange = () => {
    mergeRosterFile(path, cluster, roster).then(
      (added) => {
        if (added.length) log.info({ component: 'roster', added, size: roster.size }, 'roster grew')
      },
      (err: Error) => log.warn({ component: 'roster', err: err.message }, 'roster file ignored'),
    )
  }
  watchFile(path, { interval: intervalMs, persistent: false }, onChange)
  return () => unwatchFile(path, onChange)
}
