/**
 * GateRounds: this node's gate loop and what it publishes. Every gateIntervalMs (and at once
 * on kick(): another node's phase or image changed, or its joint set did, so a freed slot is
 * seen within one probe round) one probe round is judged by preReboot and postReboot and
 * published as the record's health with health.gates — the verdicts every voter judges this
 * node by. The pre round asks the joint question (agent/protocol/joint-safety.ts):
 * ok-to-stop for this node plus every node it sees down, holding a slot or rebooting,
 * published as gates.preWith. Alongside: the stop facts (HealthSummary.stop) and the
 * ranking's workload inputs.
 *
 * The wave runtime (upgrade-agent.ts) owns the phase and the vote; it hears of changed
 * verdicts (onVerdictsChanged), does its own work after every round (afterRound), and
 * re-judges its vote when the record was published (onPublished).
 */
import type { HealthObserver, Purpose, Round } from '../health/health-observer.js'
import { HealthMonitor } from '../health/health-monitor.js'
import { postReboot, preReboot } from '../health/gates.js'
import { stopFactsOf, type OkAloneStreak } from '../health/stop-observations.js'
import type { StopFacts } from '../protocol/stop-facts.js'
import type { HealthCondition, HealthSummary, Phase, Workload } from '../protocol/node-record.js'
import { loadPerCore, workChanged, workloadOf } from '../health/workload.js'
import type { SelfPatch } from '../protocol/mesh-types.js'
import type { Clock, Logger } from '../protocol/ports.js'
import { WAITING_CONDITION } from '../protocol/wave-control.js'
import { MAINTENANCE_CONDITION } from '../protocol/node-verbs.js'
import { verdictOf } from './real-steps.js'

export interface GateStatus {
  pre: boolean
  post: boolean
  at: number
  /** The joint set the pre verdict was computed with (hosts counted as stopped with this one). */
  preWith: string[]
  preReasons: string[]
  postReasons: string[]
}

/** The wave runtime's state that the published record carries (its conditions). */
export interface UpgradeState {
  phase: Phase
  reason: string | undefined
  /** In maintenance since (a node verb), or undefined. */
  maintenanceSince: number | undefined
}

export interface GateRoundsOptions {
  nodeId: string
  observer: HealthObserver
  mesh: { updateSelf(patch: SelfPatch): void }
  clock: Clock
  logger: Logger
  gateIntervalMs: number
  /** The joint set now (asked at the start of every round). */
  jointWith: () => string[]
  /** The phase, its reason and maintenance, as the record shows them. */
  state: () => UpgradeState
  /** The load figure the ranking reads (default: 1-minute load average per core). */
  load?: (() => number) | undefined
  /** Where gate rounds are reported for /metrics (agent/api AgentMetrics). */
  metrics?: { observeRound(ms: Round['ms']): void; observeGates(pre: boolean, post: boolean): void } | undefined
  /** What Ceph says changed: a waiting gate may pass now. */
  onVerdictsChanged: () => void
  /** After every round, published or not: the wave runtime's own work. */
  afterRound: () => void
  /** Our own record was published (no mesh event says so): the vote judges us by it. */
  onPublished: () => void
  count: (name: string) => void
}

/**
 * A HealthObserver whose routine rounds are pre-gate rounds (joint ok-to-stop, drain plan)
 * too; `joint()` gives the round's joint set (and remembers it for the published verdict).
 */
function gateRounds(observer: HealthObserver, joint: () => readonly string[]): HealthObserver {
  return new Proxy(observer, {
    get(target, prop, receiver) {
      if (prop === 'observe') return (_purpose?: Purpose): Promise<Round> => target.observe('pre', { jointWith: joint() })
      return Reflect.get(target, prop, receiver)
    },
  })
}

export class GateRounds {
  private readonly monitor: HealthMonitor
  private gateStatus: GateStatus | undefined
  private stopFacts: StopFacts | undefined
  /** "Not ok to stop even alone" rounds in a row: published only once confirmed (stop-observations.ts). */
  private readonly okAloneStreak: OkAloneStreak = { no: 0 }
  private summary: HealthSummary = { status: 'unknown', conditions: [] }
  /** The ranking's inputs from the last round, and the ones last published (agent/health/workload.ts). */
  private work: Workload | undefined
  private publishedWork: Workload | undefined
  private lastPublished = ''
  private timer: NodeJS.Timeout | undefined
  private rounding = false
  private again = false
  private closed = false
  /** The joint set the running gate round asks with, and the one the last finished round asked with. */
  private roundJoint: string[] = []
  private lastJointKey = ''

  constructor(private readonly o: GateRoundsOptions) {
    this.monitor = new HealthMonitor(
      gateRounds(o.observer, () => (this.roundJoint = o.jointWith())),
      { clock: o.clock, logger: o.logger },
    )
  }

  /** The last round's verdicts (undefined before the first). */
  get gates(): GateStatus | undefined {
    return this.gateStatus
  }

  /** The stop facts this node publishes (HealthSummary.stop). */
  get stop(): StopFacts | undefined {
    return this.stopFacts
  }

  /** The joint set the published pre verdict was computed with, comma-joined. */
  get jointKey(): string {
    return this.lastJointKey
  }

  /** The first round; each schedules the next. */
  start(): void {
    void this.round()
  }

  /** A gate round as soon as possible (coalesced with one running). */
  kick(): void {
    if (this.closed) return
    if (this.rounding) {
      this.again = true
      return
    }
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    void this.round()
  }

  /** No more rounds; the probes close. Idempotent. */
  close(): void {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.monitor.close()
  }

  private async round(): Promise<void> {
    if (this.closed || this.rounding) return
    this.rounding = true
    try {
      do {
        this.again = false
        await this.evaluate()
      } while (this.again && !this.closed)
    } finally {
      this.rounding = false
    }
    if (!this.closed) {
      this.timer = setTimeout(() => void this.round(), this.o.gateIntervalMs)
      this.timer.unref?.()
    }
  }

  private async evaluate(): Promise<void> {
    const o = this.o
    try {
      this.summary = await this.monitor.runOnce()
      const obs = this.monitor.last!.obs
      const pre = verdictOf(preReboot(obs))
      const post = verdictOf(postReboot(obs))
      const prev = this.gateStatus
      const preWith = [...this.roundJoint]
      this.lastJointKey = preWith.join(',')
      this.gateStatus = { pre: pre.pass, post: post.pass, at: o.clock.now(), preWith, preReasons: pre.reasons, postReasons: post.reasons }
      this.stopFacts = stopFactsOf(obs, this.stopFacts, this.okAloneStreak)
      this.work = workloadOf(obs, (o.load ?? loadPerCore)(), this.work)
      o.metrics?.observeRound(this.monitor.last!.ms)
      o.metrics?.observeGates(pre.pass, post.pass)
      if (prev?.pre !== pre.pass || prev?.post !== post.pass || prev?.preWith.join(',') !== this.lastJointKey) {
        o.onVerdictsChanged()
        o.logger.info({ component: 'upgrade', node: o.nodeId, pre: pre.pass, post: post.pass, preWith, preReasons: pre.reasons, postReasons: post.reasons }, 'gate verdicts changed')
      }
    } catch (err) {
      o.count('gate-round-errors')
      this.gateStatus = { pre: false, post: false, at: o.clock.now(), preWith: [], preReasons: [(err as Error).message], postReasons: [(err as Error).message] }
    }
    this.publish(false)
    o.afterRound()
  }

  /** Publishes health + gate verdicts when they changed (or `force`). */
  publish(force: boolean): void {
    const o = this.o
    const g = this.gateStatus
    const s = o.state()
    const conditions: HealthCondition[] = [...this.summary.conditions]
    if (s.phase === 'failed' && s.reason) {
      conditions.unshift({ id: 'upgrade-failed', severity: 'critical', since: o.clock.now(), message: s.reason.slice(0, 256), source: 'upgrade' })
    } else if (s.maintenanceSince !== undefined && s.reason) {
      conditions.unshift({ id: MAINTENANCE_CONDITION, severity: 'info', since: s.maintenanceSince, message: s.reason.slice(0, 256), source: 'upgrade' })
    } else if (s.reason) {
      // A holder waiting (pre gate, joint check): why, for every agent's `shoal status`.
      conditions.unshift({ id: WAITING_CONDITION, severity: 'info', since: o.clock.now(), message: s.reason.slice(0, 256), source: 'upgrade' })
    }
    // Bounded for the record (gossiped to every node): the first 4 reasons, 160 characters each.
    const why = g && !g.pre ? g.preReasons.slice(0, 4).map((r) => r.slice(0, 160)) : []
    const gates = g ? { pre: g.pre, post: g.post, at: g.at, ...(g.preWith.length ? { preWith: g.preWith.slice(0, 1024) } : {}), ...(why.length ? { why } : {}) } : undefined
    const health: HealthSummary = { ...this.summary, conditions: conditions.slice(0, 16), ...(gates ? { gates } : {}), ...(this.stopFacts ? { stop: this.stopFacts } : {}) }
    const key = JSON.stringify([health.status, g?.pre, g?.post, g?.preWith, why, this.stopFacts, conditions.map((c) => [c.id, c.severity, c.message])])
    // The ranking's inputs ride along with every record published anyway, and on their own
    // only when they moved enough to reorder the queue (workChanged: load by a step).
    const workDue = this.work !== undefined && workChanged(this.publishedWork, this.work)
    if (!force && key === this.lastPublished && !workDue) return
    this.lastPublished = key
    if (this.work) this.publishedWork = this.work
    o.mesh.updateSelf({ health, ...(this.work ? { work: this.work } : {}) })
    o.onPublished()
  }
}
