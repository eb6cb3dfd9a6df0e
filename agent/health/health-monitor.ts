/**
 * HealthMonitor: the agent's health loop. Every `intervalMs` it runs one round of probes,
 * folds it into the HealthModel and, when the summary changed, logs the change and calls
 * `onChange` (the agent republishes its NodeRecord). Rounds never overlap: the next one is
 * started `intervalMs` after the previous one started (or at once, if that one took longer). Owns its timer; start/close are idempotent.
 */
import type { HealthSummary } from '../protocol/node-record.js'
import type { Clock, Logger } from '../protocol/ports.js'
import { silentLogger } from '../protocol/ports.js'
import type { HealthObserver, Round } from './health-observer.js'
import { HealthModel } from './health-model.js'

export interface HealthMonitorOptions {
  /** 5 s: a NotReady node or a down OSD shows in the mesh within one gossip wave of that. */
  intervalMs?: number
  clock: Clock
  logger?: Logger
  onChange?: (summary: HealthSummary, round: Round) => void
}

export class HealthMonitor {
  readonly model = new HealthModel()
  private timer?: NodeJS.Timeout
  private running = false
  private lastKey = ''
  private readonly intervalMs: number
  private readonly log: Logger
  /** Rounds completed, for /v1/self and the benchmark. */
  rounds = 0
  last?: Round

  constructor(
    readonly observer: HealthObserver,
    readonly options: HealthMonitorOptions,
  ) {
    this.intervalMs = options.intervalMs ?? 5000
    this.log = options.logger ?? silentLogger
  }

  start(): void {
    if (this.running) return
    this.running = true
    void this.tick()
  }

  close(): void {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }

  /** One round now (also used by tests and the benchmark). */
  async runOnce(): Promise<HealthSummary> {
    const round = await this.observer.observe('health')
    this.rounds++
    this.last = round
    const summary = this.model.update(round.obs, this.options.clock.now())
    const key = JSON.stringify([summary.status, summary.conditions.map((c) => [c.id, c.severity, c.message])])
    if (key !== this.lastKey) {
      this.lastKey = key
      this.log.info({ component: 'health', node: this.observer.node, status: summary.status, conditions: summary.conditions.map((c) => c.id) }, 'health changed')
      this.options.onChange?.(summary, round)
    }
    return summary
  }

  private async tick(): Promise<void> {
    if (!this.running) return
    const started = this.options.clock.now()
    try {
      await this.runOnce()
    } catch (err) {
      this.log.error({ component: 'health', node: this.observer.node, err: (err as Error).message }, 'health round failed')
    }
    const wait = Math.max(0, this.intervalMs - (this.options.clock.now() - started))
    if (this.running) this.timer = setTimeout(() => void this.tick(), wait)
  }
}
