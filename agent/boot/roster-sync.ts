/**
 * Keeps a worker's roster file current: the roster the node got at enrollment lists only
 * the machines enrolled before it, so the first worker of a rack would refuse every later
 * one. This polls the coordinator's signed roster (GET /v1/roster), verifies it offline
 * against the cluster key, and rewrites the roster file (atomically) whenever a newer
 * version arrives; the agent picks the file up (roster-file-watch.ts). A coordinator that
 * is down changes nothing: the last good roster stays, and the mesh keeps working.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ShoalError } from '../protocol/errors.js'
import { httpExchange } from '../http/http-client.js'
import { routes, type SignedRoster, verifyRoster } from '../protocol/enroll/index.js'

export interface RosterPin {
  coordinator: string
  cluster: string
  clusterKey: string
}

/** Fetches and verifies the coordinator's roster. Throws ShoalError saying what was wrong. */
export async function fetchRoster(pin: RosterPin, timeoutMs: number): Promise<SignedRoster> {
  const r = await fetchRosterIfChanged(pin, timeoutMs, undefined)
  return r!.roster
}

/**
 * GET /v1/roster (the bounded node:http client, agent/http) with If-None-Match: an unchanged roster costs a 304 with no
 * body and no signature check (a poll every 2 s must stay cheap on a slow, emulated worker;
 * fetch would also load undici). Resolves undefined when unchanged.
 */
export async function fetchRosterIfChanged(pin: RosterPin, timeoutMs: number, etag: string | undefined): Promise<{ roster: SignedRoster; etag: string | undefined } | undefined> {
  let answer: { status: number; text: string; etag: string | undefined }
  try {
    // ?operators=1: the operators that may sign shell grants come along (older coordinators ignore it).
    const res = await httpExchange(`${pin.coordinator}${routes.roster}?operators=1`, { headers: etag ? { 'if-none-match': etag } : {}, timeoutMs, maxBytes: MAX_ROSTER_BYTES })
    const tag = res.headers.etag
    answer = { status: res.status, text: res.body.toString('utf8'), etag: typeof tag === 'string' ? tag : undefined }
  } catch (err) {
    throw new ShoalError('unreachable', `cannot fetch the roster from ${pin.coordinator}: ${(err as Error).message}`, { cause: err })
  }
  if (answer.status === 304 && etag) return undefined
  if (answer.status !== 200) throw new ShoalError('unreachable', `GET ${routes.roster} answered ${answer.status}`)
  let body: unknown
  try {
    body = JSON.parse(answer.text)
  } catch {
    throw new ShoalError('bad-roster', `roster from ${pin.coordinator} is not JSON`)
  }
  const r = verifyRoster(body, pin.clusterKey, pin.cluster)
  if (!r.ok) throw new ShoalError('bad-roster', `roster from ${pin.coordinator} refused (${r.reason}): ${r.detail}`)
  return { roster: r.value, etag: answer.etag }
}

/** Largest roster answer accepted (~10,000 members is a few MB). */
const MAX_ROSTER_BYTES = 64 * 1024 * 1024

/** Writes the agent's RosterFile and the signed original beside it, each via a rename. */
export async function writeRosterFiles(path: string, roster: SignedRoster): Promise<void> {
  const signedPath = path.replace(/\.json$/, '') + '.signed.json'
  await writeFile(`${signedPath}.tmp`, JSON.stringify(roster, null, 2) + '\n')
  await rename(`${signedPath}.tmp`, signedPath)
  await writeFile(`${path}.tmp`, JSON.stringify({ cluster: roster.cluster, members: roster.members, ...(roster.operators ? { operators: roster.operators } : {}) }, null, 2) + '\n')
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
  /** Delay before the first poll; default 0. The worker's agent waits one period, so its start does not pay for it. */
  firstPollMs?: number
}

/** Polls until stop() is called. Returns stop. */
export function startRosterSync(o: RosterSyncOptions): () => void {
  let version = o.version
  let stopped = false
  let failing = false
  let timer: NodeJS.Timeout | undefined
  let etag: string | undefined
  let operators: string | undefined
  const tick = async () => {
    try {
      const got = await fetchRosterIfChanged(o.pin, o.timeoutMs, etag)
      if (failing) o.log('coordinator reachable again')
      failing = false
      const r = got?.roster
      if (got) etag = got.etag
      // The enrollment answer carries no operators: the first sync writes them even at the same version.
      if (r && (r.version > version || JSON.stringify(r.operators ?? []) !== operators)) {
        operators = JSON.stringify(r.operators ?? [])
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
  if (o.firstPollMs) timer = setTimeout(tick, o.firstPollMs)
  else void tick()
  return () => {
    stopped = true
    if (timer) clearTimeout(timer)
  }
}

/**
 * The worker's roster sync, inside its agent's process (layers/entries/shoal-agent.ts): it was
 * a service of its own, a second node process that started beside the agent and competed with
 * its start and join for an emulated worker's one CPU (docs/boot.md). Reads what the boot agent
 * left in `dir` (/etc/shoal): cluster.json (coordinator URL, cluster, key) and
 * roster.signed.json (version), and keeps `dir`/roster.json current; the agent picks the file
 * up (roster-file-watch.ts). Undefined, and nothing polls, when there is no cluster.json (an
 * agent not booted by a coordinator); a cluster.json it cannot read is said once and skipped.
 */
export async function startWorkerRosterSync(dir: string, log: (line: string) => void, intervalMs = 2000): Promise<(() => void) | undefined> {
  let text: string
  try {
    text = await readFile(join(dir, 'cluster.json'), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    log(`not syncing the roster: cannot read ${join(dir, 'cluster.json')}: ${(err as Error).message}`)
    return undefined
  }
  let pin: RosterPin
  try {
    const c = JSON.parse(text) as Partial<RosterPin>
    if (typeof c.coordinator !== 'string' || typeof c.cluster !== 'string' || typeof c.clusterKey !== 'string') throw new Error('coordinator, cluster and clusterKey must be strings')
    pin = { coordinator: c.coordinator, cluster: c.cluster, clusterKey: c.clusterKey }
  } catch (err) {
    log(`not syncing the roster: ${join(dir, 'cluster.json')} is invalid: ${(err as Error).message}`)
    return undefined
  }
  let version = 0
  try {
    const v = (JSON.parse(await readFile(join(dir, 'roster.signed.json'), 'utf8')) as { version?: unknown }).version
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) version = v
  } catch {
    // none yet, or unreadable: the first poll writes it
  }
  log(`keeping ${join(dir, 'roster.json')} current from ${pin.coordinator} (now v${version})`)
  return startRosterSync({ pin, rosterFile: join(dir, 'roster.json'), version, intervalMs, timeoutMs: 30_000, log, firstPollMs: intervalMs })
}
