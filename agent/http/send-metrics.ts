/**
 * Answers a scrape with an exposition (agent/http/metrics-registry.ts makes it). A file of its
 * own, without prom-client: the agent's API server answers /metrics with it, and loads
 * prom-client only on the first scrape (agent/main.ts).
 */
import type { ServerResponse } from 'node:http'

/** Answers a scrape with an exposition. */
export function sendMetrics(res: ServerResponse, e: { contentType: string; text: string }): void {
  res.writeHead(200, { 'content-type': e.contentType, 'content-length': Buffer.byteLength(e.text) })
  res.end(e.text)
}
