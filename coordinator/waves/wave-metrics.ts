/**
 * The waves' gauges on the coordinator's /metrics, read at scrape time:
 *   shoal_wave_blocked_nodes{reason}  waiting nodes of the active wave by their first reason
 *     (never, not-ready, hold, budget, gate — wave-blockers.ts); all 0 without an active wave.
 *   shoal_wave_halted                 1 while the active wave is halted (stall, failed or overdue node)
 * Labels are a fixed set: no node ids, so the series count stays bounded whatever N is.
 *
 * And (waveMetrics, below): nodes of the newest wave by state, slots held, waves by state,
 * how long finished waves took, and halts by reason (node-failed, node-timeout, other).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { NodeWaveState, OverallState, type WaveStatus } from './wave-api.js'
import { BLOCK_CODES } from './wave-blockers.js'
import type { WaveService } from './wave-service.js'

export function registerWaveMetrics(registry: Registry, service: WaveService): void {
  new Gauge({
    name: 'shoal_wave_blocked_nodes',
    help: 'Waiting nodes of the active upgrade wave that cannot go now, by first reason (never = a cause that cannot clear by itself)',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      const counts = service.blockedNodes()
      for (const r of BLOCK_CODES) this.set({ reason: r }, counts?.[r] ?? 0)
    },
  })
  new Gauge({
    name: 'shoal_wave_halted',
    help: '1 while the active upgrade wave is halted (stalled, or a node failed or overran its timeout)',
    registers: [registry],
    collect() {
      this.set(service.haltedNow() ? 1 : 0)
    },
  })
}

/** Why a wave halted, as a bounded label (agent/protocol/wave-control.ts WaveGate.hold wording). */
export function haltReason(reason: string | undefined): string {
  if (!reason) return 'unknown'
  if (/failed its wave step/.test(reason)) return 'node-failed'
  if (/past the wave's node timeout/.test(reason)) return 'node-timeout'
  return 'other'
}

export function waveMetrics(registry: Registry, list: () => WaveStatus[], startedAt: number, now: () => number): void {
  const r = [registry]
  const duration = new Histogram({
    name: 'shoal_coordinator_wave_duration_seconds',
    help: 'Start to end of finished waves (done or aborted), by outcome',
    labelNames: ['outcome'] as const,
    buckets: [60, 300, 600, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600],
    registers: [],
  })
  const halts = new Counter({ name: 'shoal_coordinator_wave_halts_total', help: 'Waves that halted by themselves, by reason (node-failed, node-timeout, other)', labelNames: ['reason'] as const, registers: [] })
  for (const reason of ['node-failed', 'node-timeout']) halts.inc({ reason }, 0)
  const ended = new Set<string>()
  const halted = new Set<string>()
  let first = true
  // One collector reads the service once per scrape and feeds the series below; registered first (prom-client reads in order).
  new Gauge({
    name: 'shoal_coordinator_wave_nodes',
    help: 'Nodes of the newest wave by their wave state',
    labelNames: ['state'] as const,
    registers: r,
    collect() {
      const waves = list()
      const latest = waves[0]
      for (const s of NodeWaveState.options) this.set({ state: s }, latest ? latest.nodes.filter((n) => n.state === s).length : 0)
      slots.set(latest && latest.state !== 'done' && latest.state !== 'aborted' ? latest.nodes.filter((n) => n.slot !== undefined).length : 0)
      for (const s of OverallState.options) byState.set({ state: s }, waves.filter((w) => w.state === s).length)
      for (const w of waves) {
        if ((w.state === 'done' || w.state === 'aborted') && !ended.has(w.id)) {
          ended.add(w.id)
          const end = w.state === 'done' ? Math.max(w.stateAt, ...w.nodes.map((n) => n.doneAt ?? 0)) : w.stateAt
          // Waves that ended before this coordinator started were counted by its predecessor.
          if (!(first && end < startedAt)) duration.observe({ outcome: w.state }, Math.max(0, (Math.min(end, now()) - w.createdAt) / 1000))
        }
        if (w.state === 'halted' && !halted.has(w.id)) {
          halted.add(w.id)
          halts.inc({ reason: haltReason(w.reason) })
        } else if (w.state !== 'halted') halted.delete(w.id)
      }
      first = false
    },
  })
  const slots = new Gauge({ name: 'shoal_coordinator_wave_slots_held', help: 'Reboot slots held in the newest wave', registers: r })
  const byState = new Gauge({ name: 'shoal_coordinator_waves', help: 'Waves known to this coordinator, by state', labelNames: ['state'] as const, registers: r })
  registry.registerMetric(duration)
  registry.registerMetric(halts)
}
