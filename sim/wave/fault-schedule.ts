/**
 * A seeded fault schedule for one wave: which faults strike, when, and when they heal.
 * Every choice draws from the world's scenario RNG, so the seed alone reproduces it.
 *
 * Faults (the list): a node that never returns; one that returns unhealthy; a
 * crash mid-drain; a holder dying mid-reboot; the coordinator down; partitions (halves,
 * with or without the coordinator, or a small group cut off); instant agent restarts of
 * voters; plus per-run message loss, duplication and reordering, and clock drift, set up
 * by the world itself. At `healAt` everything heals and the operator retires nodes that
 * never came back (force-releasing their slots).
 */
import { syncAnswersNeeded } from '../../agent/protocol/vote/quorum.js'
import { lowerBoundMs } from './wave-config.js'
import type { SimNode, WaveWorld } from './wave-world.js'

const KINDS = ['crash', 'never-returns', 'returns-unhealthy', 'crash-mid-drain', 'die-mid-reboot', 'coordinator-down', 'partition-halves', 'partition-small', 'voter-restart'] as const
export type FaultKind = (typeof KINDS)[number]

export function scheduleFaults(w: WaveWorld): void {
  const f = w.cfg.faults
  if (!f.enabled) return
  const rng = w.rng
  const start = w.waveStartAt
  const window = Math.max(60_000, f.windowFraction * lowerBoundMs(w.cfg))
  w.healAt = start + window
  const count = rng.int(f.maxFaults + 1)
  for (let i = 0; i < count; i++) {
    const kind = rng.pick(KINDS)
    const at = start + rng.uniform(0, window * 0.9)
    const param = rng.next()
    const pick = rng.int(1 << 30)
    w.faults.push(`${kind}@${Math.round((at - start) / 1000)}s`)
    w.at(at, () => inject(w, kind, param, pick))
  }
  w.at(w.healAt, () => w.heal())
}

function upNodes(w: WaveWorld): SimNode[] {
  return w.order.filter((n) => n.up && !n.permanentlyDead)
}

/**
 * The liveness envelope: a member that lost its memory votes again only after enough
 * members with whole memory describe their promises (quorum.ts syncAnswersNeeded). Faults
 * that take memory (crashes, deaths) are skipped when they would leave fewer whole members
 * than that, counting the K holders whose reboots take theirs. Inside the envelope the
 * wave must finish; outside it, it halts safely (docs/vote.md).
 */
function withinEnvelope(w: WaveWorld): boolean {
  const n = w.order.length
  const impaired = w.order.filter((x) => !x.up || x.permanentlyDead || (x.vote?.abstaining ?? false)).length
  const wholeNeeded = syncAnswersNeeded(n, true) + 1
  return n - (impaired + 1) - w.cfg.maxUnavailable >= wholeNeeded
}

const MEMORY_FAULTS = new Set<FaultKind>(['crash', 'never-returns', 'crash-mid-drain', 'die-mid-reboot'])

function inject(w: WaveWorld, kind: FaultKind, param: number, pick: number): void {
  if (w.t >= w.healAt) return
  const ups = upNodes(w)
  if (ups.length === 0) return
  if (MEMORY_FAULTS.has(kind) && !withinEnvelope(w)) {
    w.checker.trace(`fault ${kind} skipped: outside the liveness envelope`)
    return
  }
  const any = ups[pick % ups.length]!
  const downMs = 20_000 + param * 300_000
  switch (kind) {
    case 'crash':
      return w.crash(any, downMs, 'power loss')
    case 'never-returns':
      // Keep liveness meaningful: at most a quarter of the nodes written off.
      if (w.order.filter((n) => n.permanentlyDead).length >= Math.floor(w.order.length / 4)) return
      return w.crash(any, Infinity, 'hardware failure')
    case 'returns-unhealthy': {
      // The next node to reboot for the wave comes back NotReady until the faults heal.
      const victim = w.inPhase('draining')[0] ?? w.inPhase('idle').find((n) => n.image !== 'v2') ?? any
      victim.returnsUnhealthy = true
      w.checker.trace(`FAULT ${victim.id} will return unhealthy`)
      return
    }
    case 'crash-mid-drain': {
      const d = w.inPhase('draining')
      if (d.length === 0) return w.crash(any, downMs, 'power loss')
      return w.crash(d[pick % d.length]!, downMs, 'crash mid-drain')
    }
    case 'die-mid-reboot': {
      // A holder that is down for its reboot fails to come back for a long while.
      const r = w.order.filter((n) => !n.up && n.waveReboot && !n.permanentlyDead)
      if (r.length === 0) return w.crash(any, downMs, 'power loss')
      const n = r[pick % r.length]!
      n.returnsUnhealthy = param < 0.5
      if (param >= 0.5) {
        n.permanentlyDead = true
        w.checker.trace(`FAULT ${n.id} dies mid-reboot, never returns`)
      } else w.checker.trace(`FAULT ${n.id} dies mid-reboot, returns unhealthy`)
      return
    }
    case 'coordinator-down': {
      const c = w.coord
      if (!c.up) return
      w.checker.trace(`FAULT coordinator down for ${(downMs / 1000).toFixed(1)} s`)
      c.up = false
      c.vote = undefined
      c.inst++
      // Its Store is on the controller's disk: it survives.
      w.after(downMs, () => w.restartCoordinator())
      return
    }
    case 'partition-halves': {
      const ids = w.order.map((n) => n.id)
      const cut = Math.floor(ids.length / 2)
      const a = ids.slice(0, cut)
      const b = ids.slice(cut)
      // With or without the coordinator on the first side.
      w.partition(param < 0.5 ? [[...a, 'coord'], b] : [a, [...b, 'coord']])
      w.after(downMs, () => w.healPartition())
      return
    }
    case 'partition-small': {
      const size = 1 + Math.floor(param * Math.max(1, Math.floor(w.order.length / 10)))
      const group: string[] = []
      for (let i = 0; i < size; i++) group.push(w.order[(pick + i * 7) % w.order.length]!.id)
      w.partition([[...new Set(group)]])
      w.after(downMs, () => w.healPartition())
      return
    }
    case 'voter-restart':
      return w.restartProcess(any)
  }
}
