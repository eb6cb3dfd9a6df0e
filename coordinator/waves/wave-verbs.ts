/**
 * The operator's verbs on a wave: start (with its dry run and start check), pause, resume,
 * abort, roll back, force-release a slot. Each runs inside the WaveService's lock on a
 * WaveCore (wave-core.ts) and says in its refusal what the operator can do instead.
 */
import { HttpError } from '../../agent/http/index.js'
import type { DryRun, WaveCreate, WaveStatus } from './wave-api.js'
import { refusalText, startVerdict } from './wave-blockers.js'
import type { WaveCore } from './wave-core.js'
import { rollbackRequest, servable, validateCreate } from './wave-create.js'
import { candidates, dryRun, fixRoster, previousVersion, selectRoster } from './wave-dry-run.js'
import { ACTIVE } from './wave-store.js'

/** Starts a wave (or answers its dry run). */
export async function createWave(c: WaveCore, body: WaveCreate, by: string): Promise<WaveStatus | DryRun> {
  await validateCreate(body, c.images, c.state, c.clock.now())
  const roster = fixRoster(c.state)
  const previous = previousVersion(c.view, c.state, roster.map((r) => r.id), body.target)
  const chosen = selectRoster(c.view, body, roster.map((r) => r.id))
  if (body.dryRun) return dryRun(c.view, body, chosen, previous)
  startCheck(c, body, chosen)
  // A wave whose last node just finished is done, even if the tick has not written it yet:
  // status already says so, and the operator's next wave must not be refused for it.
  const active = await c.settled(c.active())
  if (active) throw new HttpError(409, 'conflict', `wave ${active.id} (to ${active.target}) is ${active.state}; only one wave runs at a time — wait for it, or: shoal upgrade abort ${active.id}`)
  const w = await c.startWave(body, roster, previous, by, undefined, body.selector ? chosen : undefined)
  return c.status(w)
}

/** Refuses (409 never-finishes) a wave that could never finish, unless forced. */
function startCheck(c: WaveCore, b: WaveCreate, ids: readonly string[]): void {
  const cands = candidates(c.view, ids, b.target)
  const v = startVerdict(cands, (id) => c.view.member(id))
  if (v.never.length === 0) return
  const text = refusalText(v, cands.length)
  if (!b.force) {
    c.log.warn({ component: 'waves', target: b.target, never: v.never }, 'wave refused: it could never finish')
    throw new HttpError(409, 'never-finishes', text)
  }
  c.log.warn({ component: 'waves', target: b.target, never: v.never }, 'wave forced over a start check that says it can never finish')
}

export async function pauseWave(c: WaveCore, id: string, by: string): Promise<WaveStatus> {
  const w = c.find(id)
  c.refresh(w)
  if (w.state !== 'running') throw new HttpError(409, 'conflict', `wave ${w.id} is ${w.state}; only a running wave can be paused`)
  await c.setState(w, 'paused', `paused by ${by}`, by)
  return c.status(w)
}

/** Ends a pause or a stall halt, or writes off the nodes that halted a running wave. */
export async function resumeWave(c: WaveCore, id: string, by: string): Promise<WaveStatus> {
  const w = c.find(id)
  c.refresh(w)
  if (w.state === 'paused') {
    // A stall halt paused on top ends with the pause: the stall clock starts again.
    delete w.halt
    c.restartStallClock()
    await c.setState(w, 'running', `resumed by ${by}`, by)
    return c.status(w)
  }
  if (w.state === 'running' && w.halt) {
    // The operator changed what stalled it (or wants another 30 min): the clock starts again.
    delete w.halt
    c.restartStallClock()
    await c.setState(w, 'running', `resumed by ${by} after a stall halt`, by)
    return c.status(w)
  }
  const hold = c.hold()
  if (w.state === 'running' && hold.halted) {
    // The operator decides to go on without the node that halted the wave: write it off.
    const culprits = w.roster.map((r) => r.id).filter((n) => ['failed'].includes(w.nodes[n]?.state ?? '') || (hold.reason ?? '').includes(`node ${n} `))
    for (const n of culprits) await c.runVote({ type: 'retire', node: n })
    await c.state.audit({ kind: 'wave', detail: { wave: w.id, op: 'resume', retired: culprits, by } })
    c.publishControl(w)
    return c.status(w)
  }
  throw new HttpError(409, 'conflict', `wave ${w.id} is ${w.state}${w.state === 'running' ? ' and not halted' : ''}; only a paused (or halted) wave can be resumed`)
}

export async function abortWave(c: WaveCore, id: string, by: string): Promise<WaveStatus> {
  const w = c.find(id)
  c.refresh(w)
  if (!ACTIVE.has(w.state)) throw new HttpError(409, 'conflict', `wave ${w.id} is already ${w.state}; nothing to abort`)
  await c.setState(w, 'aborted', `aborted by ${by}`, by)
  return c.status(w)
}

/** Abort (if still active) and start a wave back to the version the nodes ran before. */
export async function rollbackWave(c: WaveCore, id: string, by: string): Promise<WaveStatus> {
  const w = c.find(id)
  if (!w.previous) throw new HttpError(409, 'conflict', `wave ${w.id} has no previous version to roll back to (the nodes' version was unknown when it started)`)
  if (!(await servable(c.images, w.previous))) throw new HttpError(409, 'conflict', `the previous version ${w.previous} is no longer servable from the images directory; restore it first`)
  const other = await c.settled(c.active())
  if (other && other.id !== w.id) throw new HttpError(409, 'conflict', `wave ${other.id} is ${other.state}; abort it first (shoal upgrade abort ${other.id})`)
  if (ACTIVE.has(w.state)) await c.setState(w, 'aborted', `rolled back by ${by}`, by)
  const body = rollbackRequest(w, w.previous)
  const roster = fixRoster(c.state)
  const nw = await c.startWave(body, roster, w.target, by, w.id)
  return c.status(nw)
}

/** Frees the slot `node` holds (or was promised) in the running wave, fencing its term. */
export async function forceReleaseSlot(c: WaveCore, id: string, node: string, by: string): Promise<{ wave: string; node: string; slot: number; term: number }> {
  const w = c.find(id)
  await c.voteRuntime.idle()
  const snap = c.vote.snapshot()
  if (snap.wave?.id !== w.id) throw new HttpError(409, 'conflict', `wave ${w.id} is not the wave the mesh runs now`)
  const s = snap.slots.find((x) => x.grant?.holder === node || x.promises.some((p) => p.cand === node))
  if (!s) throw new HttpError(404, 'not-found', `node ${node} holds no slot in wave ${w.id} (see: shoal upgrade status ${w.id})`)
  await c.runVote({ type: 'force-release', slot: s.slot, node })
  const term = c.vote.snapshot().slots[s.slot]!.forcedUpTo
  await c.state.audit({ kind: 'lease', node, detail: { wave: w.id, op: 'force-release', slot: s.slot, term, by } })
  c.log.warn({ component: 'waves', wave: w.id, node, slot: s.slot, term, by }, 'slot force-released')
  return { wave: w.id, node, slot: s.slot, term }
}
