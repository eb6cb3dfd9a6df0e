/**
 * Keeps a worker's roster file current: the roster the node got at enrollment lists only
 * the machines enrolled before it, so the first worker of a rack would refuse every later
 * one. This polls the coordinator's signed roster (GET /v1/roster), verifies it offline
 * against the cluster key, and rewrites the roster file (atomically) whenever a newer
 * version arrives; the agent picks the file up (roster-file-watch.ts). A coordinator that
 * is down changes nothing: the last good roster stays, and the mesh keeps working.
 */
import { rename, writeFile } from 'node:fs/promises'
import { ShoalError } from '../protocol/errors.js'
import { verifyRoster } from '../../coordinator/certificate.js'
import { routes, type SignedRoster } from '../../coordinator/enroll-api.js'

export interface RosterPin {
  coordinator: string
  cluster: string
  clusterKey: string
}

/** Fetches and verifies the coordinator's roster. Throws ShoalError saying what was wrong. */
export async function fetchRoster(pin: RosterPin, timeoutMs: number): Promise<SignedRoster> {
  let body: unknown
  try {
    const res = await fetch(`${pin.coordinator}${routes.roster}`, { signal: AbortSignal.timeout(timeoutMs) })
    if (!res.ok) throw new ShoalError('unreachable', `GET ${routes.roster} answered ${res.status}`)
    body = await res.json()
  } catch (err) {
    if (err instanceof ShoalError) throw err
    throw new ShoalError('unreachable', `cannot fetch the roster from ${pin.coordinator}: ${(err as Error).message}`, { cause: err })
  }
  const r = verifyRoster(body, pin.clusterKey, pin.cluster)
  if (!r.ok) throw new ShoalError('bad-roster', `roster from ${pin.coordinator} refused (${r.reason}): ${r.detail}`)
  return r.value
}

/** Writes the agent's RosterFile and the signed original beside it, each via a rename. */
export async function writeRosterFiles(path: string, roster: SignedRoster): Promise<void> {
  const signedPath = path.replace(/\.json$/, '') + '.signed.json'
  await writeFile(`${signedPath}.tmp`, JSON.stringify(roster, null, 2) + '\n')
  await rename(`${signedPath}.tmp`, signedPath)
  await writeFile(`${path}.tmp`, JSON.stringify({ cluster: roster.cluster, members: roster.members }, null, 2) + '\n')
  await rename(`${path}.tmp`, path)
}

export interface RosterSyncOptions {
  pin: RosterPin
  rosterFile: string
  /** Version already on disk (from enrollment). */
  version: number
  /** Poll period: 2 s makes a newly enrolled worker admitted within a few seconds. */
  intervalMs: number
  timeoutMs: number
  log: (line: string) => void
}

/** Polls until stop() is called. Returns stop. */
export function startRosterSync(o: RosterSyncOptions): () => void {
  let version = o.version
  let stopped = false
  let failing = false
  let timer: NodeJS.Timeout | undefined
  const tick = async () => {
    try {
      const r = await fetchRoster(o.pin, o.timeoutMs)
      if (failing) o.log('coordinator reachable again')
      failing = false
      if (r.version > version) {
        await writeRosterFiles(o.rosterFile, r)
        o.log(`roster v${r.version}: ${r.members.length} members (${r.members.map((m) => m.id).join(', ')})`)
        version = r.version
      }
    } catch (err) {
      if (!failing) o.log(`roster refresh failed: ${(err as Error).message}; keeping roster v${version}`)
      failing = true
    }
    if (!stopped) timer = setTimeout(tick, o.intervalMs)
  }
  void tick()
  return () => {
    stopped = true
    if (timer) clearTimeout(timer)
  }
}
