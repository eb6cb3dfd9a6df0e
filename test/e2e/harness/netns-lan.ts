/**
 * A private provisioning LAN inside a network namespace this test creates: a bridge holding
 * the controller's address, one tap per VM, and dnsmasq for DHCP (fixed address per MAC)
 * and TFTP (the iPXE script that chains to the coordinator). Nothing in it can reach the
 * machine's own networks, and nothing outside can reach it. close() kills what it started
 * (by pid) and deletes the namespace; an exit hook does the same if the test process dies.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** ULA prefix of the test LAN (inside the namespace only). */
const IPV6_PREFIX = 'fd00:5e::'

export interface LanHost {
  mac: string
  ip: string
  tap: string
}

export interface NetnsLanOptions {
  /** Namespace name; unique per run. */
  name: string
  /** First three octets of the /24, e.g. "10.99.0". The controller is .1. */
  subnet: string
  hosts: { mac: string }[]
  /** Logs, leases and the TFTP root go here. */
  workDir: string
  /** iPXE script served over TFTP as boot.ipxe (with `dhcp` off: unused). */
  ipxeScript: string
  /** Run the LAN's own dnsmasq (DHCP + TFTP). false: the test brings its DHCP server (the coordinator's --dhcp). Default true. */
  dhcp?: boolean
}

export class NetnsLan {
  readonly controllerIp: string
  readonly hosts: LanHost[]
  private readonly children = new Set<ChildProcess>()
  private closed = false
  private readonly onExit = () => this.closeSync()

  private constructor(readonly opts: NetnsLanOptions) {
    this.controllerIp = `${opts.subnet}.1`
    this.hosts = opts.hosts.map((h, i) => ({ mac: h.mac, ip: `${opts.subnet}.${101 + i}`, tap: `tap${i}` }))
  }

  static async create(opts: NetnsLanOptions): Promise<NetnsLan> {
    const lan = new NetnsLan(opts)
    process.once('exit', lan.onExit)
    try {
      await lan.setUp()
    } catch (err) {
      await lan.close()
      throw err
    }
    return lan
  }

  private async setUp(): Promise<void> {
    const { name, workDir } = this.opts
    await run('ip', ['netns', 'add', name])
    const ns = (...args: string[]) => run('ip', ['netns', 'exec', name, ...args])
    await ns('ip', 'link', 'set', 'lo', 'up')
    // No STP and no forwarding delay: a VM's port forwards from its first frame (iPXE's DHCP).
    await ns('ip', 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0')
    await ns('ip', 'addr', 'add', `${this.controllerIp}/24`, 'dev', 'br0')
    // An IPv6 prefix only so dnsmasq can answer router solicitations: iPXE's "Configuring"
    // waits for IPv6 autoconfiguration too, ~16 s when no router ever advertises.
    await ns('ip', '-6', 'addr', 'add', `${IPV6_PREFIX}1/64`, 'dev', 'br0', 'nodad')
    await ns('ip', 'link', 'set', 'br0', 'up')
    for (const h of this.hosts) {
      await ns('ip', 'tuntap', 'add', 'dev', h.tap, 'mode', 'tap')
      await ns('ip', 'link', 'set', h.tap, 'master', 'br0')
      await ns('ip', 'link', 'set', h.tap, 'up')
    }
    if (this.opts.dhcp === false) return
    const tftp = join(workDir, 'tftp')
    await mkdir(tftp, { recursive: true })
    await writeFile(join(tftp, 'boot.ipxe'), this.opts.ipxeScript)
    const dnsmasq = this.spawn('dnsmasq', [
      '--no-daemon', '--conf-file=/dev/null', '--port=0', '--interface=br0', '--bind-interfaces',
      `--dhcp-range=${this.opts.subnet}.100,${this.opts.subnet}.150,255.255.255.0,1h`,
      ...this.hosts.map((h) => `--dhcp-host=${h.mac},${h.ip}`),
      `--dhcp-leasefile=${join(workDir, 'dnsmasq.leases')}`, '--dhcp-authoritative',
      '--enable-tftp', `--tftp-root=${tftp}`, '--dhcp-boot=boot.ipxe', '--log-dhcp',
      // Router advertisements (SLAAC only, no DHCPv6) end iPXE's IPv6 wait at once.
      '--enable-ra', `--dhcp-range=${IPV6_PREFIX},ra-only`,
      // Log lines with timestamps (where a slow DHCP goes); no ping-before-offer (fixed addresses).
      `--log-facility=${join(workDir, 'dnsmasq.log')}`, '--no-ping',
      // iPXE option 175.176 (no-pxedhcp): do not wait for ProxyDHCP offers that never come.
      '--dhcp-option=encap:175,176,1',
    ], join(workDir, 'dnsmasq.out'))
    await new Promise((r) => setTimeout(r, 300))
    if (dnsmasq.exitCode !== null) throw new Error(`dnsmasq exited with ${dnsmasq.exitCode}; see ${join(workDir, 'dnsmasq.out')} and dnsmasq.log`)
  }

  /** Starts `cmd` inside the namespace in its own process group, output appended to logFile. */
  spawn(cmd: string, args: string[], logFile: string, opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.opts.name, cmd, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...opts })
    const log = createWriteStream(logFile, { flags: 'a' })
    child.stdout?.pipe(log, { end: false })
    child.stderr?.pipe(log, { end: false })
    this.children.add(child)
    child.once('exit', () => this.children.delete(child))
    return child
  }

  /** Runs `cmd` inside the namespace to completion. */
  async exec(cmd: string, args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const { stdout, stderr } = await run('ip', ['netns', 'exec', this.opts.name, cmd, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 })
      return { stdout, stderr, code: 0 }
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; code?: number | string }
      return { stdout: e.stdout ?? '', stderr: e.stderr ?? String(err), code: typeof e.code === 'number' ? e.code : 1 }
    }
  }

  /** Kills one child's process group (TERM, then KILL after graceMs) and waits for it. */
  async kill(child: ChildProcess, graceMs = 3000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
    const exited = new Promise<void>((r) => child.once('exit', () => r()))
    try {
      process.kill(-child.pid, 'SIGTERM')
    } catch {
      return
    }
    const t = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        /* already gone */
      }
    }, graceMs)
    await exited
    clearTimeout(t)
  }

  async close(): Promise<void> {
    if (this.closed) return
    await Promise.all([...this.children].map((c) => this.kill(c)))
    this.closeSync()
  }

  private closeSync(): void {
    if (this.closed) return
    this.closed = true
    process.removeListener('exit', this.onExit)
    for (const c of this.children) {
      try {
        if (c.pid) process.kill(-c.pid, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
    try {
      execFileSync('ip', ['netns', 'del', this.opts.name], { stdio: 'ignore' })
    } catch {
      /* already deleted */
    }
  }
}
