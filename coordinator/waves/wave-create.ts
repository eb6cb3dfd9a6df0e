/**
 * Creating a wave: the request's checks (400/409 before anything is written), `--at`, and
 * the StoredWave record a request becomes (and the request a rollback repeats).
 */
import { parseStartTime } from '../../agent/protocol/maintenance-window.js'
import { HttpError } from '../../agent/http/index.js'
import type { ClusterState } from '../cluster-state.js'
import type { ImageStore } from '../image-store.js'
import { FAILURE_DOMAIN_KEYS, type StoredWave, type WaveCreate } from './wave-api.js'
import { DEFAULT_STALL_MS } from './wave-store.js'

/** 400/409 for a request no wave can come from (unknown domain key or image, no nodes, unreadable --at). */
export async function validateCreate(b: WaveCreate, images: ImageStore, state: ClusterState, now: number): Promise<void> {
  if (!(FAILURE_DOMAIN_KEYS as readonly string[]).includes(b.failureDomain)) {
    throw new HttpError(400, 'bad-request', `unknown failure-domain key "${b.failureDomain}"; known keys: ${FAILURE_DOMAIN_KEYS.join(', ')} (domain = the node's gossiped domain)`)
  }
  if (!(await images.hasVersion(b.target))) {
    const have = await images.versions()
    throw new HttpError(400, 'bad-request', `no image version "${b.target}" on this coordinator (have: ${have.join(', ') || 'none'}); build it first: npm run layers`)
  }
  try {
    await images.manifest(b.target)
  } catch (err) {
    throw new HttpError(400, 'bad-request', `image version ${b.target} is not servable: ${(err as Error).message}`)
  }
  if (state.nodes.size === 0) throw new HttpError(409, 'conflict', 'no enrolled nodes: nothing to upgrade')
  if (b.at !== undefined) startAt(b, now)
}

/** `--at`, resolved on this coordinator's clock (400 with the accepted forms when unreadable). */
export function startAt(b: WaveCreate, now: number): number | undefined {
  if (b.at === undefined) return undefined
  try {
    return parseStartTime(b.at, now)
  } catch (err) {
    throw new HttpError(400, 'bad-request', (err as Error).message)
  }
}

/** Whether `version` is in the images directory with a readable manifest. */
export async function servable(images: ImageStore, version: string): Promise<boolean> {
  if (!(await images.hasVersion(version))) return false
  return images.manifest(version).then(
    () => true,
    () => false,
  )
}

export interface NewWave {
  id: string
  now: number
  by: string
  roster: { id: string; key: string }[]
  previous: string | undefined
  nodes: StoredWave['nodes']
  canary: StoredWave['canary']
  rollbackOf?: string
  selected?: string[]
}

/** The record a create request becomes. */
export function newStoredWave(b: WaveCreate, n: NewWave): StoredWave {
  const { id, now, by, roster, previous, nodes, canary, rollbackOf, selected } = n
  return {
    id,
    target: b.target,
    ...(previous ? { previous } : {}),
    maxUnavailable: b.maxUnavailable,
    failureDomain: b.failureDomain,
    ...(b.window ? { window: b.window } : {}),
    ...(b.windows?.length ? { windows: b.windows } : {}),
    ...(b.at !== undefined ? { startAt: startAt(b, now) } : {}),
    ...(b.settleMs ? { settleMs: b.settleMs } : {}),
    ...(selected ? { selector: b.selector, selected } : {}),
    ...(canary ? { canary } : {}),
    ...(b.alertSource ? { alertSource: b.alertSource } : {}),
    ...(b.alertMatchers?.length ? { alertMatchers: b.alertMatchers } : {}),
    drainPolicy: b.drainPolicy,
    nodeTimeoutMs: b.nodeTimeoutMs,
    stallTimeoutMs: b.stallTimeoutMs,
    ...(b.force ? { forced: true } : {}),
    roster,
    createdAt: now,
    createdBy: by,
    state: 'running',
    stateAt: now,
    ...(rollbackOf ? { rollbackOf } : {}),
    nodes,
  }
}

/** The request that rolls `w` back: its settings, to `previous` (the version it started from). */
export function rollbackRequest(w: StoredWave, previous: string): WaveCreate {
  return { target: previous, maxUnavailable: w.maxUnavailable, failureDomain: w.failureDomain, drainPolicy: w.drainPolicy, nodeTimeoutMs: w.nodeTimeoutMs, stallTimeoutMs: w.stallTimeoutMs ?? DEFAULT_STALL_MS, force: false, dryRun: false, ...(w.window ? { window: w.window } : {}), ...(w.windows ? { windows: w.windows } : {}), ...(w.settleMs ? { settleMs: w.settleMs } : {}), ...(w.alertSource ? { alertSource: w.alertSource } : {}), ...(w.alertMatchers ? { alertMatchers: w.alertMatchers } : {}) }
}
