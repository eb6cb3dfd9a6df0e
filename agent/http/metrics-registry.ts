/**
 * What every shoal server's GET /metrics shares (the agent's and the coordinator's): a
 * registry of its own with the process and Node runtime series, and one way to answer
 * the scrape. Each server adds its own series (agent/api/agent-metrics.ts,
 * coordinator/coordinator-metrics.ts).
 */
import { collectDefaultMetrics, Registry } from 'prom-client'

/**
 * prom-client's process and Node runtime series, minus three it names against the
 * Prometheus rules (gauges called `_total`, which `promtool check metrics` rejects); their
 * per-type siblings (nodejs_active_handles{type}, ...) carry the same numbers.
 */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry })
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name)
}

/** A registry of one server (tests and several instances in one process never mix), with the process series in it. */
export function serverRegistry(): Registry {
  const registry = new Registry()
  collectProcessMetrics(registry)
  return registry
}

/** The exposition of a registry, as GET /metrics answers it. */
export async function exposition(registry: Registry): Promise<{ contentType: string; text: string }> {
  return { contentType: registry.contentType, text: await registry.metrics() }
}

export { sendMetrics } from './send-metrics.js'
