/**
 * The coordinator's optional DHCP server: dnsmasq run as a child and supervised. start()
 * resolves once dnsmasq has bound its sockets and said "started", or fails with dnsmasq's
 * own words (port 67 taken, permission denied, …) plus what to do. Its log lines go to the
 * coordinator's log (component "dhcp"). If it dies later it is started again after a capped
 * backoff; close() stops it (TERM, then KILL), and an exit hook kills it if the coordinator's
 * process ends without close().
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { networkInterfaces } from 'node:os'
import { createInterface } from 'node:readline'
import type { InterfaceAddress } from './dhcp-plan.js'
import { ShoalError } from '../agent/protocol/errors.js'
import { Backoff, type BackoffConfig } from '../agent/protocol/backoff.js'
import type { Logger, Rng } from '../agent/protocol/ports.js'
import { stopChild } from '../agent/stop-child.js'

export interface DhcpServerOptions {
  /** dnsmasq's arguments (./dhcp-plan.ts dnsmasqArgs). */
  args: string[]
  /** The program and any words before the arguments; tests run it in a network namespace (`ip netns exec NS dnsmasq`). */
  command?: string[]
  log: Logger
  rng: Rng
  /** How long dnsmasq may take to bind and say "started". */
  startTimeoutMs?: number
  /** Between restarts after it died: 1 s growing to 30 s, so a dnsmasq that dies at once does not spin. */
  backoff?: BackoffConfig
  /** A run at least this long resets the backoff. */
  healthyRunMs?: number
  /** Called on each restart after a death (a metric). */
  onRestart?: () => void
}

const DEFAULT_BACKOFF: BackoffConfig = { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 }

/** What an operator does about dnsmasq's startup complaints. */
function hint(line: string): string {
  if (/Address (already )?in use/i.test(line)) return ': another DHCP server runs on this machine (systemctl status dnsmasq isc-dhcp-server; ss -ulpn sport = :67). Stop it, or run shoal\'s beside the site\'s with --dhcp proxy'
  if (/Permission denied|Operation not permitted/i.test(line)) return ': a DHCP server needs root (or CAP_NET_BIND_SERVICE and CAP_NET_RAW)'
  if (/unknown interface/i.test(line)) return ': check --dhcp-interface (ip -br link)'
  return ''
}

/** Resolves true when `cmd --version` runs (dnsmasq is installed). */
export function hasProgram(cmd: string[]): Promise<boolean> {
  return new Promise((resolve) => execFile(cmd[0]!, [...cmd.slice(1), '--version'], { timeout: 10_000 }, (err) => resolve(!err)))
}

/**
 * The machine's interfaces with their addresses, including `name` when it has no link yet:
 * os.networkInterfaces() leaves out an interface that is not running (a bridge with no
 * port up, a NIC whose cable is out), so that one is read with `ip -j addr`. Interfaces
 * that exist without an address are listed with none.
 */
export async function interfacesWith(name: string): Promise<Record<string, InterfaceAddress[]>> {
  const all: Record<string, InterfaceAddress[]> = {}
  for (const [n, addrs] of Object.entries(networkInterfaces())) all[n] = addrs ?? []
  for (const n of await readdir('/sys/class/net').catch(() => [] as string[])) all[n] ??= []
  if (all[name]?.length) return all
  const json = await new Promise<string>((resolve) => execFile('ip', ['-j', 'addr', 'show', 'dev', name], { timeout: 10_000 }, (err, out) => resolve(err ? '' : out)))
  try {
    const parsed = JSON.parse(json) as { addr_info?: { family?: string; local?: string; prefixlen?: number }[] }[]
    const found = parsed.flatMap((i) => i.addr_info ?? []).filter((a) => (a.family === 'inet' || a.family === 'inet6') && a.local && typeof a.prefixlen === 'number')
    if (found.length) {
      all[name] = found.map((a) => (a.family === 'inet' ? { address: a.local!, netmask: maskOf(a.prefixlen!), family: 'IPv4', internal: false } : { address: a.local!, netmask: '', family: 'IPv6', internal: false }))
    }
  } catch {
    /* no such interface, or no iproute2: planDhcp says which */
  }
  return all
}

function maskOf(prefix: number): string {
  const n = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')
}

export class DhcpServer {
  private child: ChildProcess | undefined
  private closing = false
  private restartTimer: NodeJS.Timeout | undefined
  private readonly backoff: Backoff
  private readonly command: string[]
  private readonly onExit = () => this.killSync()
  /** Restarts after dnsmasq died. */
  restarts = 0

  constructor(private readonly opts: DhcpServerOptions) {
    this.command = opts.command ?? ['dnsmasq']
    this.backoff = new Backoff(opts.backoff ?? DEFAULT_BACKOFF, opts.rng)
  }

  /** dnsmasq's pid while it runs. */
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined
  }

  async start(): Promise<void> {
    if (!(await hasProgram(this.command))) {
      throw new ShoalError('missing-tool', `--dhcp needs dnsmasq, which is not installed: apt-get install dnsmasq-base (or run without --dhcp and serve DHCP yourself, see docs/boot.md)`)
    }
    process.once('exit', this.onExit)
    await this.run()
  }

  /** Spawns dnsmasq and waits for "started" or its exit. */
  private run(): Promise<void> {
    const [cmd, ...pre] = this.command
    const child = spawn(cmd!, [...pre, ...this.opts.args], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    const startedAt = Date.now()
    const said: string[] = []
    let ready = false
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        fail(new ShoalError('dhcp', `dnsmasq did not start within ${this.opts.startTimeoutMs ?? 10_000} ms${said.length ? `; it said: ${said.slice(-3).join(' | ')}` : ''}`))
        child.kill('SIGKILL')
      }, this.opts.startTimeoutMs ?? 10_000)
      const fail = (err: Error) => {
        clearTimeout(timer)
        if (!ready) reject(err)
      }
      const onLine = (raw: string) => {
        // "dnsmasq-dhcp[123]: DHCPACK(lan0) 10.0.0.101 52:54:…" -> source dnsmasq-dhcp, the rest.
        const m = /^(dnsmasq[\w-]*)(?:\[\d+\])?: (.*)$/.exec(raw.trim())
        const [from, text] = m ? [m[1]!, m[2]!] : ['dnsmasq', raw.trim()]
        if (!text) return
        said.push(text)
        if (said.length > 20) said.shift()
        const bad = /fail|error|cannot|denied|illegal|bad |unknown/i.test(text)
        this.opts.log[bad ? 'warn' : 'info']({ component: 'dhcp', from, pid: child.pid }, text)
        if (!ready && /^started, version/.test(text)) {
          ready = true
          clearTimeout(timer)
          resolve()
        }
      }
      createInterface({ input: child.stdout! }).on('line', onLine)
      createInterface({ input: child.stderr! }).on('line', onLine)
      child.once('error', (err) => fail(new ShoalError('dhcp', `cannot run ${cmd}: ${err.message}`, { cause: err })))
      child.once('exit', (code, signal) => {
        if (!ready) {
          const last = said.at(-1) ?? `exit ${code ?? signal}`
          fail(new ShoalError('dhcp', `dnsmasq could not start: ${last}${hint(said.join('\n'))}`))
          return
        }
        if (this.closing) return
        if (Date.now() - startedAt >= (this.opts.healthyRunMs ?? 60_000)) this.backoff.reset()
        const delay = this.backoff.next()
        this.opts.log.error({ component: 'dhcp', code, signal, restartInMs: delay }, `dnsmasq exited (${code ?? signal}); starting it again in ${delay} ms`)
        this.restartTimer = setTimeout(() => this.restart(), delay)
        this.restartTimer.unref()
      })
    })
  }

  private restart(): void {
    this.restartTimer = undefined
    if (this.closing) return
    this.restarts++
    this.opts.onRestart?.()
    this.run().then(
      () => this.opts.log.info({ component: 'dhcp', restarts: this.restarts }, 'dnsmasq running again'),
      (err: Error) => {
        if (this.closing) return
        const delay = this.backoff.next()
        this.opts.log.error({ component: 'dhcp', err: err.message, restartInMs: delay }, 'dnsmasq could not start again; retrying')
        this.restartTimer = setTimeout(() => this.restart(), delay)
        this.restartTimer.unref()
      },
    )
  }

  /** Stops dnsmasq (TERM, KILL after graceMs) and any pending restart. Idempotent. */
  async close(graceMs = 3000): Promise<void> {
    this.closing = true
    if (this.restartTimer) clearTimeout(this.restartTimer)
    this.restartTimer = undefined
    process.removeListener('exit', this.onExit)
    if (this.child) await stopChild(this.child, graceMs)
  }

  private killSync(): void {
    try {
      this.child?.kill('SIGKILL')
    } catch {
      /* gone */
    }
  }
}
