/**
 * Watching a live wave from outside, as the operator's promise is stated: how many workers
 * are unavailable and whether any placement group is inactive, sampled on timers in the
 * test process (sampling, not sleeping) while the wave runs.
 *
 * - Workers (every `everyMs`, default 150 ms): a worker is unavailable when its agent
 *   process is not running, its agent's last answered phase is not `ready` (joining,
 *   draining, rebooting, verifying, failed; nothing answered yet since its start counts as
 *   not ready), its Kubernetes node is cordoned or NotReady, or any OSD of its CRUSH host
 *   is down — by the harness (process stopped) or by Ceph's own osdmap. Each agent's phase
 *   is polled by a loop of its own, so a sample itself never waits on the network: a slow
 *   answer under load delays only that agent's phase, never the sample's cadence.
 * - Ceph (its own loop, same cadence): `ceph status` (PG states as the mgr reports them,
 *   up to ~1 s behind the osdmap) and `ceph osd dump` (which OSDs are down), over one
 *   librados session.
 *
 * Also helpers every live wave test needs: an agent's GET /v1/self, and a condition wait
 * with a deadline.
 */
import { appendFileSync } from 'node:fs'
import { CephOsdDump, CephStatus } from '../../agent/health/ceph-schemas.js'
import type { CephSession } from '../../agent/health/ceph-session.js'
import { pgStatesOf, type CephCluster } from '../../harness/ceph-cluster.js'
import type { LiveCluster, LiveWorker } from './live-cluster.js'

export interface AgentWave {
  wave?: string
  abstaining: boolean
  phase: string
  lease?: { wave: string; slot: number; term: number }
  held: { held: boolean; reason?: string; halted: boolean }
  gates?: { pre: boolean; post: boolean }
}

/** An agent's GET /v1/self (`wave` part), or undefined when it does not answer within 2 s. */
export async function agentSelf(api: string | undefined): Promise<{ wave?: AgentWave } | undefined> {
  if (!api) return undefined
  try {
    const r = await fetch(`http://${api}/v1/self`, { signal: AbortSignal.timeout(2000) })
    return (await r.json()) as { wave?: AgentWave }
  } catch {
    return undefined
  }
}

/** Re-checks `pred` every 150 ms until it holds; throws with `what()` at the deadline (and at once on a harness error). */
export async function until(live: LiveCluster, pred: () => boolean | Promise<boolean>, deadlineMs: number, what: () => string | Promise<string>): Promise<void> {
  const end = Date.now() + deadlineMs
  for (;;) {
    if (live.errors.length) throw live.errors[0]
    if (await pred()) return
    if (Date.now() > end) throw new Error(`not within ${deadlineMs} ms: ${await what()}`)
    await new Promise<void>((r) => setTimeout(r, 150))
  }
}

/** A log line of the live cluster (an agent's or the coordinator's), as the tests keep them. */
export interface LiveLog {
  id: string
  t: number
  msg: string
  j: Record<string, any>
}

/** Keeps every log line of `live` in the returned array (and appends it to $WAVE_LIVE_LOG when set). Call before live.start(). */
export function keepLogs(live: LiveCluster): LiveLog[] {
  const logs: LiveLog[] = []
  live.on('log', (id: string, j: Record<string, any>) => {
    if (typeof j.msg === 'string') logs.push({ id, t: typeof j.time === 'number' ? j.time : Date.now(), msg: j.msg, j })
    if (process.env.WAVE_LIVE_LOG) appendFileSync(process.env.WAVE_LIVE_LOG, JSON.stringify({ src: id, ...j }) + '\n')
  })
  return logs
}

/** Every worker's id, image, process state and wave status, for a failure message. */
export async function agentsNow(live: LiveCluster): Promise<string> {
  return JSON.stringify(await Promise.all(live.workers.map(async (w) => [w.id, w.image, live.running(w), (await agentSelf(w.api))?.wave])))
}

/**
 * Before a wave: every worker judges itself ready to go down (its pre gate) and up (post),
 * and its vote has finished the after-boot quiet period (a node that boots within the
 * clock-skew bound of a wave's start must relearn promises from others that are relearning
 * too: docs/waves-agent.md, "cold start").
 */
export function untilReadyForWave(live: LiveCluster, deadlineMs: number): Promise<void> {
  return until(
    live,
    async () => (await Promise.all(live.workers.map((w) => agentSelf(w.api)))).every((s) => s?.wave?.phase === 'ready' && s.wave.gates?.pre === true && s.wave.gates.post === true && s.wave.abstaining === false),
    deadlineMs,
    async () => `every worker publishing pre and post gates passing, its vote out of the after-boot quiet period: ${await agentsNow(live)}`,
  )
}

/** Starts a wave through the waves API (POST /v1/waves); throws with the coordinator's answer unless it is 201. Its id. */
export async function startWave(live: LiveCluster, body: Record<string, unknown>): Promise<string> {
  const r = await live.coordinator.call('POST', '/v1/waves', body)
  if (r.status !== 201) throw new Error(`POST /v1/waves ${JSON.stringify(body)}: ${r.status} ${JSON.stringify(r.json)}`)
  return r.json.id as string
}

/**
 * Until wave `id` is over everywhere: every worker runs `target`, its agent says it is ready
 * in that wave without a lease, no node is cordoned, `extra()` holds, and the coordinator
 * says done.
 */
export function untilWaveDone(live: LiveCluster, id: string, target: string, deadlineMs: number, extra: () => boolean = () => true, detail: () => string = () => ''): Promise<void> {
  return until(
    live,
    async () => {
      if (!live.workers.every((w) => w.image === target && live.running(w) && w.api)) return false
      const s = await Promise.all(live.workers.map((w) => agentSelf(w.api)))
      if (!s.every((x) => x?.wave?.wave === id && x.wave.phase === 'ready' && !x.wave.lease) || !live.workers.every((w) => live.kube.nodes.get(w.id)?.spec.unschedulable !== true)) return false
      if (!extra()) return false
      return (await live.coordinator.call('GET', `/v1/waves/${id}`)).json.state === 'done'
    },
    deadlineMs,
    async () => `every worker on ${target}, released, uncordoned, and the wave done; coordinator ${JSON.stringify((await live.coordinator.call('GET', `/v1/waves/${id}`)).json)}; agents ${await agentsNow(live)}${detail()}`,
  )
}

export interface WaveFigures {
  /** Worker samples and Ceph samples taken. */
  samples: number
  cephSamples: number
  /** Longest time between two consecutive samples of each loop (the cadence under load). */
  maxGapMs: number
  maxCephGapMs: number
  maxUnavailable: number
  /** Samples with more than `limit` unavailable: "time ids". */
  overLimit: string[]
  /** Most PGs Ceph reported inactive (not active, not peering/activating) in one sample. */
  maxInactive: number
  /** Samples with an inactive PG: "time states". */
  inactiveSamples: string[]
  /** Most PGs in a sub-second peering/activating transition in one sample. */
  maxTransient: number
  /** Most CRUSH hosts with an OSD down at once (harness or Ceph's osdmap). */
  maxHostsDown: number
}

export class WaveWatch {
  private running = false
  private loops: Promise<void>[] = []
  private downInCeph = new Set<number>()
  /** Each agent's last answered phase, for the process it belongs to (a restart forgets it). */
  private phases = new Map<string, { proc: unknown; phase: string }>()
  f: WaveFigures = WaveWatch.empty()

  constructor(private readonly o: { live: LiveCluster; ceph: CephCluster; session: CephSession; limit: number; everyMs?: number }) {}

  static empty(): WaveFigures {
    return { samples: 0, cephSamples: 0, maxGapMs: 0, maxCephGapMs: 0, maxUnavailable: 0, overLimit: [], maxInactive: 0, inactiveSamples: [], maxTransient: 0, maxHostsDown: 0 }
  }

  /** Starts both loops (idempotent). */
  start(): void {
    if (this.running) return
    this.running = true
    this.loops = [
      this.loop(async () => this.sampleWorkers(), 'maxGapMs'),
      this.loop(() => this.sampleCeph(), 'maxCephGapMs'),
      ...this.o.live.workers.map((w) => this.loop(() => this.pollPhase(w), undefined)),
    ]
  }

  /** Figures since the last reset, and a fresh start. */
  reset(): WaveFigures {
    const f = this.f
    this.f = WaveWatch.empty()
    return f
  }

  async stop(): Promise<void> {
    this.running = false
    await Promise.all(this.loops)
  }

  /** Hosts unavailable now, by the rule in the file comment. */
  unavailableNow(): string[] {
    const { live, ceph } = this.o
    return live.workers
      .filter((w) => {
        const node = live.kube.nodes.get(w.id)
        const ready = node?.status.conditions.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True')
        const p = this.phases.get(w.id)
        return (
          !live.running(w) ||
          !p ||
          p.proc !== w.proc ||
          p.phase !== 'ready' ||
          node?.spec.unschedulable === true ||
          !ready ||
          ceph.osdsOf(w.id).some((id) => !ceph.osdRunning(id) || this.downInCeph.has(id))
        )
      })
      .map((w) => w.id)
  }

  private async pollPhase(w: LiveWorker): Promise<void> {
    const proc = w.proc
    if (!this.o.live.running(w) || !w.api) return
    const s = await agentSelf(w.api)
    if (s?.wave?.phase && proc === w.proc) this.phases.set(w.id, { proc, phase: s.wave.phase })
  }

  private sampleWorkers(): void {
    const down = this.unavailableNow()
    const f = this.f
    f.samples++
    f.maxUnavailable = Math.max(f.maxUnavailable, down.length)
    if (down.length > this.o.limit) f.overLimit.push(`${new Date().toISOString()} ${down.join(',')}`)
    const { ceph } = this.o
    const hostsDown = ceph.hosts.filter((h) => ceph.osdsOf(h).some((id) => !ceph.osdRunning(id) || this.downInCeph.has(id)))
    f.maxHostsDown = Math.max(f.maxHostsDown, hostsDown.length)
  }

  private async sampleCeph(): Promise<void> {
    const { session } = this.o
    try {
      const [st, dump] = await Promise.all([session.json(['status'], CephStatus), session.json(['osd', 'dump'], CephOsdDump)])
      this.downInCeph = new Set(dump.osds.filter((o) => o.up === 0).map((o) => o.osd))
      const pg = pgStatesOf(st.pgmap.pgs_by_state)
      const f = this.f
      f.cephSamples++
      f.maxInactive = Math.max(f.maxInactive, pg.inactive)
      f.maxTransient = Math.max(f.maxTransient, pg.transient)
      if (pg.inactive > 0) f.inactiveSamples.push(`${new Date().toISOString()} ${pg.inactive} PGs ${pg.inactiveStates.join(',')} (OSDs down: ${[...this.downInCeph].join(',')})`)
    } catch {
      // A command that timed out under load is a missed sample (counted by the gap).
    }
  }

  private async loop(sample: () => Promise<void>, gap: 'maxGapMs' | 'maxCephGapMs' | undefined): Promise<void> {
    const every = this.o.everyMs ?? 150
    let last = Date.now()
    while (this.running) {
      const t = Date.now()
      await sample()
      const now = Date.now()
      if (gap) this.f[gap] = Math.max(this.f[gap], now - last)
      last = now
      await new Promise<void>((r) => setTimeout(r, Math.max(0, every - (now - t))))
    }
  }
}
