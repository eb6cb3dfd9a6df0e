/**
 * The waves' gauges on the coordinator's /metrics, read at scrape time:
 *   shoal_wave_blocked_nodes{reason}  waiting nodes of the active wave by their first reason
 *     (never, not-ready, hold, budget, gate — wave-blockers.ts); all 0 without an active wave.
 *   shoal_wave_halted                 1 while the active wave is halted (stall, failed or overdue node)
 * Labels are a fixed set: no node ids, so the series count stays bounded whatever N is.
 */
import { Gauge, type Registry } from 'prom-client'
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
