/**
 * Prometheus counters for the coordinator (GET /metrics): what was served and what was
 * refused, so a refused token or a broken download is counted, not just logged. One
 * registry per Coordinator, so tests and several instances in one process never mix.
 */
import { Counter, Gauge } from 'prom-client'
import { serverRegistry } from '../agent/http/metrics-registry.js'

export class CoordinatorMetrics {
  // Process and Node runtime series (CPU, RSS, heap, event loop lag, GC) included, as on every agent.
  readonly registry = serverRegistry()
  readonly enrollments = new Counter({
    name: 'shoal_coordinator_enrollments_total',
    help: 'Enrollment answers by outcome (enrolled, pending, refused) and refusal code',
    labelNames: ['outcome', 'code'] as const,
    registers: [this.registry],
  })
  readonly bootScripts = new Counter({
    name: 'shoal_coordinator_boot_scripts_total',
    help: 'Boot script requests by outcome (served, refused, unavailable, bad-request)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  })
  readonly imageResponses = new Counter({
    name: 'shoal_coordinator_image_responses_total',
    help: 'Image file responses by HTTP status, and whether the client went away mid-body',
    labelNames: ['status', 'aborted'] as const,
    registers: [this.registry],
  })
  readonly imageBytes = new Counter({
    name: 'shoal_coordinator_image_body_bytes_total',
    help: 'Body bytes of image responses that completed',
    registers: [this.registry],
  })
  readonly httpErrors = new Counter({
    name: 'shoal_coordinator_http_errors_total',
    help: 'Error answers (4xx/5xx) by status and code',
    labelNames: ['status', 'code'] as const,
    registers: [this.registry],
  })
  readonly dhcpRestarts = new Counter({ name: 'shoal_coordinator_dhcp_restarts_total', help: 'Times the DHCP server (dnsmasq) died and was started again', registers: [this.registry] })
  readonly rosterMembers = new Gauge({ name: 'shoal_coordinator_roster_members', help: 'Nodes on the roster', registers: [this.registry] })
  readonly rosterVersion = new Gauge({ name: 'shoal_coordinator_roster_version', help: 'Current roster version', registers: [this.registry] })
  readonly pendingApprovals = new Gauge({ name: 'shoal_coordinator_pending_approvals', help: 'Enrollments waiting for an operator', registers: [this.registry] })
}
