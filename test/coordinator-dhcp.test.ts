/**
 * `shoal coordinator serve --dhcp range|proxy` for real: the coordinator (and the dnsmasq it
 * runs) in one network namespace, PXE/iPXE clients in another, a site's own DHCP server in a
 * third, joined by a bridge — all namespaces this test creates, so nothing touches the
 * machine's own networks. The clients are busybox's udhcpc (a real DHCP client) and
 * test/support/dhcp-discover.ts (a PXE ROM's DISCOVER, collecting every offer).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../cli/commands/coordinator.js'
import { smallImage, writeImages } from '../coordinator/testing.js'
import type { Offer } from './support/dhcp-discover.js'
import { has, netnsLanMissing } from './e2e/harness/requirements.js'

const run = promisify(execFile)
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function missing(): string | undefined {
  const lan = netnsLanMissing('to create network namespaces')
  if (lan) return lan
  if (!has('busybox', ['udhcpc', '--help'])) return 'busybox (udhcpc, wget, tftp) not installed (npm run setup)'
  return undefined
}
const why = missing()
if (why) console.log(`skipping test/coordinator-dhcp.test.ts: ${why}`)

const SUBNET = '10.77.0'
const CONTROLLER = `${SUBNET}.1`
const SITE_SERVER = `${SUBNET}.2`
const HTTP_PORT = 8080
const BOOT_URL = `http://${CONTROLLER}:${HTTP_PORT}/boot/ipxe?mac=\${netX/mac}`

/** Namespaces <prefix>-ctl (bridge lan0 = the controller), -cli (a worker), -site (the site's DHCP server). */
class Lan {
  readonly ctl: string
  readonly cli: string
  readonly site: string
  private readonly names: string[]
  constructor(prefix: string) {
    this.ctl = `${prefix}-ctl`
    this.cli = `${prefix}-cli`
    this.site = `${prefix}-site`
    this.names = [this.ctl, this.cli, this.site]
  }

  async create(): Promise<void> {
    for (const n of this.names) {
      await run('ip', ['netns', 'add', n])
      await this.exec(n, 'ip', 'link', 'set', 'lo', 'up')
    }
    await this.exec(this.ctl, 'ip', 'link', 'add', 'lan0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0')
    await this.exec(this.ctl, 'ip', 'addr', 'add', `${CONTROLLER}/24`, 'dev', 'lan0')
    await this.exec(this.ctl, 'ip', 'link', 'set', 'lan0', 'up')
    for (const [i, n] of [this.cli, this.site].entries()) {
      await this.exec(this.ctl, 'ip', 'link', 'add', `port${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n)
      await this.exec(this.ctl, 'ip', 'link', 'set', `port${i}`, 'master', 'lan0', 'up')
      await this.exec(n, 'ip', 'link', 'set', 'eth0', 'up')
    }
    // The probe broadcasts from an interface with no address yet: it needs a route to send on.
    await this.exec(this.cli, 'ip', 'route', 'replace', 'default', 'dev', 'eth0')
    await this.exec(this.site, 'ip', 'addr', 'add', `${SITE_SERVER}/24`, 'dev', 'eth0')
  }

  async exec(ns: string, cmd: string, ...args: string[]): Promise<string> {
    return (await run('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: 30_000 })).stdout
  }

  mac(ns: string): string {
    return execFileSync('ip', ['netns', 'exec', ns, 'cat', '/sys/class/net/eth0/address'], { encoding: 'utf8' }).trim()
  }

  /** A PXE ROM's (or iPXE's) DISCOVER from the worker namespace: the offers of `want` distinct servers. */
  async discover(opts: { ipxe?: boolean; arch?: number; want?: number } = {}): Promise<Offer[]> {
    const args = ['--import', 'tsx', join(repoRoot, 'test/support/dhcp-discover.ts'), '--mac', this.mac(this.cli), '--want', String(opts.want ?? 1), '--wait-ms', '20000']
    if (opts.ipxe) args.push('--ipxe')
    if (opts.arch !== undefined) args.push('--arch', String(opts.arch))
    return JSON.parse(await this.exec(this.cli, process.execPath, ...args)) as Offer[]
  }

  close(): void {
    for (const n of this.names) {
      try {
        execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' })
      } catch {
        /* already gone */
      }
    }
  }
}

/** `shoal coordinator serve` in the controller namespace, its stdout (pino) and stderr (banner) kept as lines. */
class CoordinatorProcess {
  readonly lines: string[] = []
  readonly exited: Promise<number | null>
  private readonly waiters = new Set<() => void>()
  constructor(readonly child: ChildProcess) {
    let buf = ''
    const take = (chunk: Buffer) => {
      buf += chunk.toString()
      const parts = buf.split('\n')
      buf = parts.pop()!
      this.lines.push(...parts)
      for (const w of this.waiters) w()
    }
    child.stdout!.on('data', take)
    child.stderr!.on('data', take)
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)))
  }

  /** pino lines of component dhcp. */
  dhcpLog(): { msg: string; pid?: number; from?: string }[] {
    return this.lines.flatMap((l) => {
      try {
        const j = JSON.parse(l) as { component?: string; msg: string; pid?: number; from?: string }
        return j.component === 'dhcp' ? [j] : []
      } catch {
        return []
      }
    })
  }

  /** Resolves with the first line matching, or fails at the deadline or when the process exits. */
  waitFor(re: RegExp, ms = 60_000, from = 0): Promise<string> {
    return new Promise((found, fail) => {
      const check = () => {
        const hit = this.lines.slice(from).find((l) => re.test(l))
        if (hit !== undefined) done(() => found(hit))
      }
      const timer = setTimeout(() => done(() => fail(new Error(`no line matching ${re} in ${ms} ms; output:\n${this.lines.join('\n')}`))), ms)
      const done = (f: () => void) => {
        clearTimeout(timer)
        this.waiters.delete(check)
        f()
      }
      void this.exited.then((code) => setImmediate(() => done(() => fail(new Error(`coordinator exited ${code} before ${re}; output:\n${this.lines.join('\n')}`)))))
      this.waiters.add(check)
      check()
    })
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM')
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
    const code = await this.exited
    clearTimeout(killer)
    return code
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe.skipIf(why)('shoal coordinator serve --dhcp (dnsmasq on a LAN of network namespaces)', () => {
  const lan = new Lan(`shoal-dhcp-${process.pid}`)
  const dir = mkdtempSync(join(tmpdir(), 'shoal-dhcp-'))
  const ipxeDir = join(dir, 'ipxe')
  let coord: CoordinatorProcess | undefined
  const others: ChildProcess[] = []

  beforeAll(async () => {
    // dnsmasq drops root for nobody once its sockets are bound: its TFTP root must be readable.
    chmodSync(dir, 0o755)
    mkdirSync(ipxeDir, { mode: 0o755 })
    writeFileSync(join(ipxeDir, 'undionly.kpxe'), 'an iPXE build for BIOS PXE ROMs\n', { mode: 0o644 })
    writeFileSync(join(ipxeDir, 'snponly.efi'), 'an iPXE build for UEFI\n', { mode: 0o644 })
    await writeImages(join(dir, 'images'), { v1: smallImage })
    await lan.create()
  }, 60_000)
  afterEach(async () => {
    await coord?.stop()
    coord = undefined
    for (const c of others.splice(0)) c.kill('SIGKILL')
    // The next test's worker starts without the address an earlier lease gave it.
    await lan.exec(lan.cli, 'ip', '-4', 'addr', 'flush', 'dev', 'eth0')
    // Removing the last address took the interface's routes with it.
    await lan.exec(lan.cli, 'ip', 'route', 'replace', 'default', 'dev', 'eth0')
  })
  afterAll(() => {
    lan.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** The coordinator in the controller namespace; without a DHT node unless `dht` (then on its default, loopback). */
  function serve(name: string, dhcp: string[], dht = false): CoordinatorProcess {
    const argv = [
      join(repoRoot, 'bin/shoal.js'), 'coordinator', 'serve', '--data-dir', join(dir, name), '--images-dir', join(dir, 'images'),
      '--http-host', '0.0.0.0', '--http-port', String(HTTP_PORT), ...(dht ? [] : ['--dht-port=-1']), '--dhcp-interface', 'lan0', '--dhcp-ipxe-dir', ipxeDir, ...dhcp,
    ]
    // SHOAL_CLI_BUNDLE=0: tsx, so this test never rebuilds the CLI bundle shared with other checkouts.
    const child = spawn('ip', ['netns', 'exec', lan.ctl, process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SHOAL_CLI_BUNDLE: '0', SHOAL_LOG_LEVEL: 'info' } })
    return (coord = new CoordinatorProcess(child))
  }

  it('range: a worker gets an address and the boot script URL, fetches its boot script; PXE ROMs get iPXE by TFTP; dnsmasq is restarted when it dies and stopped with the coordinator', async () => {
    const c = serve('range', ['--dhcp', 'range', '--dhcp-range', `${SUBNET}.100-${SUBNET}.120`])
    const banner = await c.waitFor(/^DHCP \(dnsmasq\) on lan0/)
    expect(banner).toContain(`leases ${SUBNET}.100-${SUBNET}.120; iPXE boots ${BOOT_URL}; plain PXE ROMs get undionly.kpxe / snponly.efi by TFTP`)

    // iPXE (option 175, user class iPXE): an address in the range and the coordinator's boot script URL; no gateway, no DNS.
    const [ipxe] = await lan.discover({ ipxe: true })
    expect(ipxe).toMatchObject({ type: 2, serverId: CONTROLLER, siaddr: CONTROLLER, file: BOOT_URL })
    expect(ipxe!.yiaddr).toMatch(new RegExp(`^${SUBNET.replace(/\./g, '\\.')}\\.(1[01]\\d|120)$`))
    expect(ipxe!.router).toBeUndefined()
    expect(ipxe!.dns).toBeUndefined()
    // Plain PXE ROMs: BIOS gets undionly.kpxe, x86-64 UEFI snponly.efi, from dnsmasq's TFTP (next-server = the controller).
    expect(await lan.discover({ arch: 0 })).toMatchObject([{ file: 'undionly.kpxe', siaddr: CONTROLLER }])
    expect(await lan.discover({ arch: 7 })).toMatchObject([{ file: 'snponly.efi', siaddr: CONTROLLER }])

    // A real DHCP client takes the lease; with it the worker fetches what iPXE would: the boot script, and over TFTP the iPXE binary.
    const env = join(dir, 'udhcpc.env')
    const script = join(dir, 'udhcpc.sh')
    writeFileSync(script, `#!/bin/sh\nif [ "$1" = bound ]; then ip addr add "$ip/$mask" dev "$interface"; env > ${env}; fi\n`, { mode: 0o755 })
    await lan.exec(lan.cli, 'busybox', 'udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '20', '-T', '1', '-s', script, '-x', '0x4d:69505845')
    const lease = Object.fromEntries(readFileSync(env, 'utf8').split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
    expect(lease).toMatchObject({ boot_file: BOOT_URL, siaddr: CONTROLLER, serverid: CONTROLLER })
    const mac = lan.mac(lan.cli)
    const bootScript = await lan.exec(lan.cli, 'busybox', 'wget', '-q', '-O', '-', lease.boot_file!.replace('${netX/mac}', mac))
    expect(bootScript).toMatch(/^#!ipxe/)
    expect(bootScript).toContain(`kernel http://${CONTROLLER}:${HTTP_PORT}/images/v1/vmlinuz`)
    await lan.exec(lan.cli, 'busybox', 'tftp', '-g', '-r', 'undionly.kpxe', '-l', join(dir, 'got.kpxe'), CONTROLLER)
    expect(readFileSync(join(dir, 'got.kpxe'), 'utf8')).toBe('an iPXE build for BIOS PXE ROMs\n')

    // dnsmasq's own lines are in the coordinator's log.
    await c.waitFor(new RegExp(`"component":"dhcp".*"msg":"DHCPACK\\(lan0\\) ${lease.ip!.replace(/\./g, '\\.')} ${mac}`))
    await c.waitFor(/"component":"boot".*"msg":"boot script served"/)

    // Killed, dnsmasq comes back (after the backoff's first ~1 s) and answers again.
    const first = c.dhcpLog().find((l) => l.from === 'dnsmasq' && l.msg.startsWith('started'))!.pid!
    const mark = c.lines.length
    process.kill(first, 'SIGKILL')
    await c.waitFor(/dnsmasq exited \(SIGKILL\); starting it again in \d+ ms/, 30_000, mark)
    await c.waitFor(/"msg":"dnsmasq running again"/, 30_000, mark)
    const second = c.dhcpLog().filter((l) => l.from === 'dnsmasq' && l.msg.startsWith('started')).at(-1)!.pid!
    expect(second).not.toBe(first)
    expect(await lan.discover({ ipxe: true })).toMatchObject([{ serverId: CONTROLLER, file: BOOT_URL }])

    // Stopped with the coordinator.
    expect(await c.stop()).toBe(0)
    expect(alive(second)).toBe(false)
    expect(c.lines.join('\n')).toMatch(/exiting on receipt of SIGTERM/)
  }, 180_000)

  it("proxy: beside the site's DHCP server, which keeps handing out the addresses, iPXE is told the boot script URL and PXE ROMs a boot menu", async () => {
    const site = spawn('ip', ['netns', 'exec', lan.site, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--pid-file', '--log-facility=-', '--interface=eth0', '--bind-interfaces', `--dhcp-range=${SUBNET}.150,${SUBNET}.199,1h`, '--leasefile-ro', '--log-dhcp'], { stdio: ['ignore', 'ignore', 'pipe'] })
    others.push(site)
    let siteLog = ''
    site.stderr!.on('data', (b: Buffer) => (siteLog += b.toString()))
    const c = serve('proxy', ['--dhcp', 'proxy'], true)
    expect(await c.waitFor(/^DHCP \(dnsmasq\) on lan0/)).toContain(`proxyDHCP on ${SUBNET}.0 beside the site's DHCP server; iPXE boots ${BOOT_URL}`)
    // The DHT bootstrap node on its default loopback address: the workers would never reach the mesh.
    expect(c.lines).toContain(`warning: the DHT bootstrap node listens on 127.0.0.1: the workers this DHCP boots will not reach it and cannot join the mesh; set --dht-host to the controller's address on lan0 (${CONTROLLER})`)

    const offers = await lan.discover({ ipxe: true, want: 2 })
    const fromSite = offers.find((o) => o.serverId === SITE_SERVER)
    const fromProxy = offers.find((o) => o.serverId === CONTROLLER)
    // The address comes from the site's server, the boot filename from the coordinator's proxy offer (which leases nothing).
    expect(fromSite, `offers ${JSON.stringify(offers)}; site server said:\n${siteLog}`).toBeDefined()
    expect(fromSite?.yiaddr).toMatch(new RegExp(`^${SUBNET.replace(/\./g, '\\.')}\\.1[5-9]\\d$`))
    expect(fromSite?.file).toBe('')
    expect(fromProxy).toMatchObject({ yiaddr: '0.0.0.0', file: BOOT_URL, vendorClass: 'PXEClient' })

    // A plain BIOS PXE ROM: a PXE menu (option 43) naming the controller as boot server and the iPXE entry, booted without a prompt.
    const plain = await lan.discover({ arch: 0, want: 2 })
    const menu = plain.find((o) => o.serverId === CONTROLLER)?.pxeOptions ?? ''
    expect(menu).toContain(`0a4d0001`) // boot server 10.77.0.1
    expect(Buffer.from(menu, 'hex').toString('latin1')).toContain('iPXE')
    expect(plain.find((o) => o.serverId === SITE_SERVER)?.yiaddr).toMatch(/^10\.77\.0\.1[5-9]\d$/)
    expect(await c.stop()).toBe(0)
  }, 120_000)

  it('port 67 taken by another DHCP server on the machine: the coordinator does not start, and says what holds it and what to do', async () => {
    // A DHCP server bound to every interface of the controller's namespace, as a distribution's dnsmasq would be.
    const other = spawn('ip', ['netns', 'exec', lan.ctl, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--pid-file', '--log-facility=-', `--dhcp-range=${SUBNET}.200,${SUBNET}.210`, '--leasefile-ro'], { stdio: ['ignore', 'ignore', 'pipe'] })
    others.push(other)
    await new Promise<void>((ready, fail) => {
      const t = setTimeout(() => fail(new Error('the other dnsmasq did not start')), 20_000)
      other.stderr!.on('data', (b: Buffer) => {
        if (b.toString().includes('started')) {
          clearTimeout(t)
          ready()
        }
      })
    })
    const c = serve('busy', ['--dhcp', 'range', '--dhcp-range', `${SUBNET}.100-${SUBNET}.120`])
    expect(await c.exited).toBe(1)
    expect(c.lines.join('\n')).toMatch(/error: dnsmasq could not start: .*Address (already )?in use: another DHCP server runs on this machine .* or run shoal's beside the site's with --dhcp proxy/)
    coord = undefined
  }, 90_000)
})

describe('shoal coordinator serve --dhcp flags', () => {
  it('bad DHCP flags are usage errors (exit 2), before anything starts', async () => {
    await expect(loadConfig(['--dhcp', 'range', '--dhcp-interface', 'lan0', '--dhcp-range', '10.0.0.9-10.0.0.2'], {})).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/write the lower address first/) })
    await expect(loadConfig(['--dhcp', 'range', '--dhcp-range', '10.0.0.2-10.0.0.9'], {})).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/needs dhcpInterface/) })
    await expect(loadConfig(['--dhcp', 'relay'], {})).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/dhcp/) })
    const c = await loadConfig(['--dhcp', 'proxy'], { SHOAL_COORDINATOR_DHCP_INTERFACE: 'lan0', SHOAL_COORDINATOR_DHCP_LEASE_SECONDS: '600' })
    expect(c).toMatchObject({ dhcp: 'proxy', dhcpInterface: 'lan0', dhcpLeaseSeconds: 600, dhcpIpxeDir: '/usr/lib/ipxe' })
  })
})
