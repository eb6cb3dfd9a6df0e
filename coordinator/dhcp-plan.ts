/**
 * What the coordinator's optional DHCP server says, as dnsmasq arguments: pure functions from
 * the coordinator's config and the machine's interfaces to a plan, and from a plan to argv.
 *
 * Two kinds of client ask. iPXE (QEMU's NIC ROMs, iPXE flashed on a NIC, or iPXE chained
 * from a PXE ROM) sends option 175 and user class "iPXE": it gets the coordinator's boot
 * script URL as its filename and fetches it over HTTP (iPXE expands `${netX/mac}` in the
 * filename, so the script is made for the MAC that booted). A plain PXE ROM cannot speak
 * HTTP: it gets an iPXE binary by TFTP from dnsmasq (undionly.kpxe for BIOS, snponly.efi or
 * ipxe.efi for UEFI, from Debian's `ipxe` package), which then asks again as iPXE.
 *
 * 'range': dnsmasq hands out leases from a range on one interface and the boot options in
 * the same offer. 'proxy': the site's DHCP server keeps handing out addresses; dnsmasq only
 * answers PXE clients with the boot options (proxyDHCP, PXE spec 2.1).
 */
import { ShoalError } from '../agent/protocol/errors.js'
import { routes } from '../agent/protocol/enroll/enroll-api.js'

export type DhcpMode = 'off' | 'proxy' | 'range'

/** Where the machine's interface stands: name, IPv4 address and netmask (os.networkInterfaces()'s shape). */
export interface InterfaceAddress {
  address: string
  netmask: string
  family: string | number
  internal: boolean
}

export interface DhcpPlan {
  mode: 'proxy' | 'range'
  interface: string
  /** The interface's IPv4 address (dnsmasq's own address: next-server and TFTP). */
  address: string
  netmask: string
  /** range: the addresses handed out. */
  range?: { start: string; end: string }
  /** proxy: the network dnsmasq serves PXE clients on. */
  network?: string
  leaseSeconds: number
  /** The filename iPXE clients get: the coordinator's boot script for the MAC that booted. */
  bootUrl: string
  /** Default gateway handed out in range mode (unset: none). */
  router?: string
  /** DNS servers handed out in range mode (unset: none). */
  dns?: string[]
  /** iPXE binaries for plain PXE ROMs, served by dnsmasq's TFTP from `dir` (absent: iPXE clients only). */
  ipxe?: { dir: string; bios?: string; efi?: string }
  leaseFile: string
  /**
   * Range mode on an interface with an IPv6 prefix (not only link-local): send router
   * advertisements for it (SLAAC only, not a default router). iPXE's "Configuring" waits for
   * IPv6 autoconfiguration too, ~16 s on a LAN where no router advertises.
   */
  ra: boolean
}

/** The iPXE builds looked for in dhcpIpxeDir, best first (snponly.efi uses the firmware's own NIC driver). */
export const IPXE_FILES = { bios: ['undionly.kpxe'], efi: ['snponly.efi', 'ipxe.efi'] } as const

// --- IPv4 -------------------------------------------------------------------------------

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

export function isIpv4(s: string): boolean {
  return IPV4.test(s)
}

function toInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0)
}

function toIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.')
}

/** The network address of `ip` under `netmask`. */
export function networkOf(ip: string, netmask: string): string {
  const mask = toInt(netmask)
  return toIp(((toInt(ip) & mask) >>> 0))
}

function prefixOf(netmask: string): number {
  return toInt(netmask).toString(2).replace(/0+$/, '').length
}

// --- config checks (no machine needed) ----------------------------------------------------

/** "10.0.0.100-10.0.0.200" -> its ends; a clear error for anything else. */
export function parseDhcpRange(text: string, source = 'dhcpRange'): { start: string; end: string } {
  const m = /^\s*([\d.]+)\s*-\s*([\d.]+)\s*$/.exec(text)
  if (!m || !isIpv4(m[1]!) || !isIpv4(m[2]!)) throw new ShoalError('config', `${source}: "${text}" is not FIRST-LAST of IPv4 addresses (e.g. 10.0.0.100-10.0.0.200)`)
  const [start, end] = [m[1]!, m[2]!]
  if (toInt(start) > toInt(end)) throw new ShoalError('config', `${source}: ${start} comes after ${end}; write the lower address first`)
  return { start, end }
}

export interface DhcpFields {
  dhcp: DhcpMode
  dhcpInterface?: string
  dhcpRange?: string
  dhcpRouter?: string
  dhcpDns?: string
}

/** The checks that need no machine: which fields each mode needs, and their syntax. Throws ShoalError('config'). */
export function checkDhcpFields(c: DhcpFields): void {
  if (c.dhcp === 'off') return
  if (!c.dhcpInterface) throw new ShoalError('config', `dhcp ${c.dhcp} needs dhcpInterface (--dhcp-interface NAME): the interface on the workers' LAN`)
  if (c.dhcp === 'range') {
    if (!c.dhcpRange) throw new ShoalError('config', 'dhcp range needs dhcpRange (--dhcp-range FIRST-LAST, e.g. 10.0.0.100-10.0.0.200): the addresses it hands out')
    parseDhcpRange(c.dhcpRange)
  } else if (c.dhcpRange !== undefined && !isIpv4(c.dhcpRange)) {
    throw new ShoalError('config', `dhcp proxy: dhcpRange is the network the site's DHCP server serves (e.g. 10.0.0.0), not "${c.dhcpRange}"; leave it unset to take the interface's`)
  }
  if (c.dhcpRouter !== undefined && !isIpv4(c.dhcpRouter)) throw new ShoalError('config', `dhcpRouter: "${c.dhcpRouter}" is not an IPv4 address`)
  for (const d of c.dhcpDns?.split(',') ?? []) if (!isIpv4(d.trim())) throw new ShoalError('config', `dhcpDns: "${d}" is not an IPv4 address (a comma-separated list)`)
}

// --- the plan (needs the machine's interfaces, passed in) ---------------------------------

export interface PlanInputs extends DhcpFields {
  httpHost: string
  publicUrl?: string
  dataDir: string
  dhcpLeaseSeconds: number
  dhcpIpxeDir: string
}

export interface MachineFacts {
  /** os.networkInterfaces() */
  interfaces: Record<string, InterfaceAddress[] | undefined>
  /** The port the HTTP server listens on. */
  httpPort: number
  /** Which names exist in dhcpIpxeDir (an empty list when it does not exist). */
  ipxeFiles: string[]
  /** Joins a directory and a file name (node:path's join). */
  join: (dir: string, file: string) => string
}

const LOOPBACK = /^(127\.|::1$|localhost$)/
const WILDCARD = new Set(['0.0.0.0', '::', ''])

/**
 * Resolves the config against the machine: the interface's IPv4 address, the range inside
 * its subnet, the URL workers reach the coordinator at, the iPXE binaries found. Each
 * failure is a ShoalError('dhcp') that says what to change.
 */
export function planDhcp(c: PlanInputs, m: MachineFacts): DhcpPlan {
  checkDhcpFields(c)
  if (c.dhcp === 'off') throw new ShoalError('internal', 'planDhcp with dhcp off')
  const name = c.dhcpInterface!
  const addrs = m.interfaces[name]
  if (!addrs) throw new ShoalError('dhcp', `--dhcp-interface ${name}: no such interface on this machine (have: ${Object.keys(m.interfaces).join(', ') || 'none'})`)
  const v4 = addrs.find((a) => (a.family === 'IPv4' || a.family === 4) && !a.internal) ?? addrs.find((a) => a.family === 'IPv4' || a.family === 4)
  if (!v4) throw new ShoalError('dhcp', `--dhcp-interface ${name} has no IPv4 address: give it the controller's address on the workers' LAN (ip addr add 10.0.0.1/24 dev ${name})`)
  const network = networkOf(v4.address, v4.netmask)
  const inSubnet = (ip: string) => networkOf(ip, v4.netmask) === network
  const subnet = `${network}/${prefixOf(v4.netmask)}`

  let range: DhcpPlan['range']
  let proxyNetwork: string | undefined
  if (c.dhcp === 'range') {
    range = parseDhcpRange(c.dhcpRange!, '--dhcp-range')
    if (!inSubnet(range.start) || !inSubnet(range.end)) throw new ShoalError('dhcp', `--dhcp-range ${c.dhcpRange} is not inside ${name}'s subnet ${subnet}: dnsmasq would never answer; pick addresses in ${subnet}`)
    if (toInt(range.start) <= toInt(v4.address) && toInt(v4.address) <= toInt(range.end)) throw new ShoalError('dhcp', `--dhcp-range ${c.dhcpRange} contains the controller's own address ${v4.address}: leave it out of the range`)
  } else {
    proxyNetwork = c.dhcpRange ?? network
    if (!inSubnet(proxyNetwork)) throw new ShoalError('dhcp', `--dhcp-range ${proxyNetwork} is not ${name}'s network ${subnet}`)
    proxyNetwork = networkOf(proxyNetwork, v4.netmask)
  }

  let base = c.publicUrl
  if (!base) {
    if (LOOPBACK.test(c.httpHost)) throw new ShoalError('dhcp', `--dhcp hands workers the coordinator's URL, but it listens on ${c.httpHost} only: set --http-host 0.0.0.0 (or ${v4.address})`)
    const host = WILDCARD.has(c.httpHost) ? v4.address : c.httpHost
    base = `http://${host.includes(':') ? `[${host}]` : host}:${m.httpPort}`
  }
  const bootUrl = `${base}${routes.bootScript}?mac=\${netX/mac}`
  // The BOOTP file field holds 127 bytes and a NUL.
  if (bootUrl.length > 127) throw new ShoalError('dhcp', `the boot URL ${bootUrl} is longer than DHCP's 127-byte filename field: use a shorter --public-url`)

  const pick = (names: readonly string[]) => names.find((n) => m.ipxeFiles.includes(n))
  const bios = pick(IPXE_FILES.bios)
  const efi = pick(IPXE_FILES.efi)
  return {
    mode: c.dhcp,
    interface: name,
    address: v4.address,
    netmask: v4.netmask,
    range,
    network: proxyNetwork,
    leaseSeconds: c.dhcpLeaseSeconds,
    bootUrl,
    router: c.dhcpRouter,
    dns: c.dhcpDns?.split(',').map((s) => s.trim()),
    ipxe: bios || efi ? { dir: c.dhcpIpxeDir, bios, efi } : undefined,
    leaseFile: m.join(c.dataDir, 'dhcp.leases'),
    ra: c.dhcp === 'range' && addrs.some((a) => (a.family === 'IPv6' || a.family === 6) && !/^fe80:/i.test(a.address)),
  }
}

/** Client architectures (option 93, RFC 4578) the iPXE binaries fit: 0 BIOS, 7 and 9 x86-64 UEFI. */
const BIOS_ARCH = 0
const EFI_ARCHES = [7, 9]

/**
 * The dnsmasq command line for a plan. dnsmasq stays in the foreground (the coordinator
 * supervises it), logs to stderr (the coordinator's log), serves no DNS, reads no
 * /etc/dnsmasq.conf and writes no pid file, binds only the given interface (so a DHCP
 * server elsewhere on the machine is left alone), and drops root to nobody after binding.
 */
export function dnsmasqArgs(p: DhcpPlan): string[] {
  const a = [
    '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--pid-file', '--log-facility=-',
    `--interface=${p.interface}`, '--bind-interfaces', `--dhcp-leasefile=${p.leaseFile}`,
    // Tags: iPXE (by its option 175 or its user class); BIOS and x86-64 UEFI PXE ROMs by client architecture.
    '--dhcp-match=set:ipxe,175', '--dhcp-userclass=set:ipxe,iPXE',
    `--dhcp-match=set:bios,option:client-arch,${BIOS_ARCH}`,
    ...EFI_ARCHES.map((n) => `--dhcp-match=set:efi,option:client-arch,${n}`),
  ]
  if (p.ipxe) a.push('--enable-tftp', `--tftp-root=${p.ipxe.dir}`)
  if (p.mode === 'range') {
    const r = p.range!
    a.push(
      `--dhcp-range=${r.start},${r.end},${p.netmask},${p.leaseSeconds}`,
      // The only DHCP server on this LAN: answer a rebooting worker's old lease at once.
      '--dhcp-authoritative',
      `--dhcp-boot=tag:ipxe,${p.bootUrl}`,
      // iPXE option 175.176 (no-pxedhcp): no proxyDHCP here, so iPXE need not wait for one.
      '--dhcp-option=tag:ipxe,encap:175,176,1',
      // No gateway or DNS unless given: the controller is not a router.
      p.router ? `--dhcp-option=option:router,${p.router}` : '--dhcp-option=option:router',
      p.dns?.length ? `--dhcp-option=option:dns-server,${p.dns.join(',')}` : '--dhcp-option=option:dns-server',
    )
    // Router lifetime 0: announce the prefix for autoconfiguration, not the controller as a router.
    if (p.ra) a.push('--enable-ra', `--dhcp-range=::,constructor:${p.interface},ra-only`, `--ra-param=${p.interface},60,0`)
    if (p.ipxe?.bios) a.push(`--dhcp-boot=tag:!ipxe,tag:bios,${p.ipxe.bios}`)
    if (p.ipxe?.efi) a.push(`--dhcp-boot=tag:!ipxe,tag:efi,${p.ipxe.efi}`)
  } else {
    a.push(
      `--dhcp-range=${p.network},proxy,${p.netmask}`,
      // The filename in the proxy offer itself, for an iPXE that takes it from there.
      `--dhcp-boot=tag:ipxe,${p.bootUrl}`,
    )
    // dnsmasq answers a proxy DISCOVER only when a PXE service fits the client: one menu
    // entry per client type, no prompt, so it is booted at once. iPXE (the QEMU ROM, 2019)
    // then asks dnsmasq's boot server (port 4011) and gets the boot script URL there; a
    // plain PXE ROM gets the iPXE binary the same way.
    for (const csa of ['x86PC', 'X86-64_EFI', 'BC_EFI']) a.push(`--pxe-service=tag:ipxe,${csa},shoal,${p.bootUrl}`)
    if (p.ipxe?.bios) a.push(`--pxe-service=tag:!ipxe,x86PC,iPXE,${p.ipxe.bios}`)
    if (p.ipxe?.efi) for (const csa of ['X86-64_EFI', 'BC_EFI']) a.push(`--pxe-service=tag:!ipxe,${csa},iPXE,${p.ipxe.efi}`)
  }
  return a
}
