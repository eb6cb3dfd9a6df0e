/**
 * LldpDomain: the run-time half of the LLDP domain source (agent/health/lldp.ts). A worker
 * booted without `shoal.domain=` publishes `default`; lldpd hears its switch ~30 s after it
 * starts, so the agent asks `lldpcli -f json show neighbors` every `intervalMs` until a
 * switch answers, then reports the domain once (the agent publishes it and moves its CRUSH
 * host). Never throws: no lldpcli, a daemon not running or bad output are logged and
 * counted, and it asks again. Owns its timer; start/close are idempotent.
 */
import { execFile } from 'node:child_process'
import type { Logger } from '../protocol/ports.js'
import { silentLogger } from '../protocol/ports.js'
import { lldpDomain, parseLldpNeighbors, type LldpNeighbor } from './lldp.js'

/** Runs lldpcli and resolves with its stdout (rejects on a failure). */
export type LldpRun = () => Promise<string>

export const runLldpcli: LldpRun = () =>
  new Promise((resolve, reject) => {
    execFile('lldpcli', ['-f', 'json', 'show', 'neighbors'], { timeout: 5000, maxBuffer: 4 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout)))
  })

export interface LldpDomainOptions {
  run?: LldpRun
  /** 30 s: lldpd's default transmit interval; a neighbour appears within one. */
  intervalMs?: number
  logger?: Logger
  onDomain: (domain: string, via: LldpNeighbor) => void
}

export class LldpDomain {
  private timer: NodeJS.Timeout | undefined
  private running = false
  /** Failed asks (no lldpcli, daemon down, bad output), for /metrics and tests. */
  errors = 0
  found: string | undefined

  constructor(private readonly o: LldpDomainOptions) {}

  start(): void {
    if (this.running || this.found) return
    this.running = true
    void this.ask()
  }

  close(): void {
    this.running = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
  }

  /** One ask now; resolves with the domain when a switch answered. */
  async ask(): Promise<string | undefined> {
    const log = this.o.logger ?? silentLogger
    try {
      const got = lldpDomain(parseLldpNeighbors(await (this.o.run ?? runLldpcli)()))
      if (got) {
        this.found = got.domain
        this.close()
        log.info({ component: 'domain', domain: got.domain, iface: got.via.iface, port: got.via.port }, 'failure domain from LLDP')
        this.o.onDomain(got.domain, got.via)
        return got.domain
      }
    } catch (err) {
      this.errors++
      if (this.errors === 1) log.warn({ component: 'domain', err: (err as Error).message }, 'no LLDP answer yet (lldpd installed and running?); asking again')
    }
    if (this.running) this.timer = setTimeout(() => void this.ask(), this.o.intervalMs ?? 30_000)
    return undefined
  }
}
