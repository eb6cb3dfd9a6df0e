import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkDhcpFields, dnsmasqArgs, networkOf, parseDhcpRange, planDhcp, type MachineFacts, type PlanInputs } from './dhcp-plan.js'
import { DhcpServer } from './dhcp-server.js'
import { silentLogger } from '../agent/protocol/ports.js'

const lan0 = { address: '10.0.0.1', netmask: '255.255.255.0', family: 'IPv4', internal: false }
const machine = (over: Partial<MachineFacts> = {}): MachineFacts => ({
  interfaces: { lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', internal: true }], lan0: [lan0] },
  httpPort: 8080,
  ipxeFiles: [],
  join,
  ...over,
})
const range = (over: Partial<PlanInputs> = {}): PlanInputs => ({
  dhcp: 'range',
  dhcpInterface: 'lan0',
  dhcpRange: '10.0.0.100-10.0.0.200',
  httpHost: '0.0.0.0',
  dataDir: '/var/lib/shoal/coordinator',
  dhcpLeaseSeconds: 3600,
  dhcpIpxeDir: '/usr/lib/ipxe',
  ...over,
})
const arg = (args: string[], prefix: string) => args.filter((a) => a.startsWith(prefix))

describe('the DHCP plan', () => {
  it('range: leases inside the interface subnet; iPXE gets the boot script URL of this coordinator; no gateway or DNS unless given', () => {
    const p = planDhcp(range(), machine())
    expect(p).toMatchObject({ mode: 'range', interface: 'lan0', address: '10.0.0.1', range: { start: '10.0.0.100', end: '10.0.0.200' }, leaseFile: '/var/lib/shoal/coordinator/dhcp.leases' })
    expect(p.bootUrl).toBe('http://10.0.0.1:8080/boot/ipxe?mac=${netX/mac}')
    const a = dnsmasqArgs(p)
    expect(arg(a, '--dhcp-range=')).toEqual(['--dhcp-range=10.0.0.100,10.0.0.200,255.255.255.0,3600'])
    expect(arg(a, '--dhcp-boot=')).toEqual(['--dhcp-boot=tag:ipxe,http://10.0.0.1:8080/boot/ipxe?mac=${netX/mac}'])
    expect(a).toEqual(expect.arrayContaining(['--interface=lan0', '--bind-interfaces', '--port=0', '--conf-file=/dev/null', '--dhcp-option=option:router', '--dhcp-option=option:dns-server']))
    // No iPXE binaries found: no TFTP at all. No IPv6 prefix: no router advertisements.
    expect(a.some((x) => x.includes('tftp'))).toBe(false)
    expect(p.ra).toBe(false)
    expect(a).not.toContain('--enable-ra')

    const withGw = dnsmasqArgs(planDhcp(range({ dhcpRouter: '10.0.0.254', dhcpDns: '10.0.0.53, 10.0.0.54' }), machine()))
    expect(withGw).toEqual(expect.arrayContaining(['--dhcp-option=option:router,10.0.0.254', '--dhcp-option=option:dns-server,10.0.0.53,10.0.0.54']))
  })

  it('range on an interface with an IPv6 prefix: router advertisements (SLAAC, not a default router), so iPXE does not wait ~16 s for IPv6', () => {
    const v6 = (address: string) => ({ address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', internal: false })
    const withUla = planDhcp(range(), machine({ interfaces: { lan0: [lan0, v6('fd00:5e::1'), v6('fe80::1')] } }))
    expect(withUla.ra).toBe(true)
    expect(dnsmasqArgs(withUla)).toEqual(expect.arrayContaining(['--enable-ra', '--dhcp-range=::,constructor:lan0,ra-only', '--ra-param=lan0,60,0']))
    expect(planDhcp(range(), machine({ interfaces: { lan0: [lan0, v6('fe80::1')] } })).ra).toBe(false)
    // Proxy mode: the site's LAN, not ours to advertise on.
    expect(planDhcp(range({ dhcp: 'proxy', dhcpRange: undefined }), machine({ interfaces: { lan0: [lan0, v6('fd00:5e::1')] } })).ra).toBe(false)
  })

  it('plain PXE ROMs get the iPXE binaries found (BIOS undionly.kpxe, UEFI snponly.efi before ipxe.efi) by TFTP', () => {
    const a = dnsmasqArgs(planDhcp(range(), machine({ ipxeFiles: ['ipxe.efi', 'undionly.kpxe', 'snponly.efi', 'ipxe.lkrn'] })))
    expect(a).toEqual(expect.arrayContaining(['--enable-tftp', '--tftp-root=/usr/lib/ipxe', '--dhcp-boot=tag:!ipxe,tag:bios,undionly.kpxe', '--dhcp-boot=tag:!ipxe,tag:efi,snponly.efi']))
    const efiOnly = dnsmasqArgs(planDhcp(range(), machine({ ipxeFiles: ['ipxe.efi'] })))
    expect(arg(efiOnly, '--dhcp-boot=tag:!ipxe')).toEqual(['--dhcp-boot=tag:!ipxe,tag:efi,ipxe.efi'])
  })

  it('proxy: the interface network unless given, no leases, iPXE gets the URL in the proxy offer, PXE ROMs a menu entry', () => {
    const p = planDhcp(range({ dhcp: 'proxy', dhcpRange: undefined }), machine({ ipxeFiles: ['undionly.kpxe'] }))
    expect(p).toMatchObject({ mode: 'proxy', network: '10.0.0.0', range: undefined })
    const a = dnsmasqArgs(p)
    expect(arg(a, '--dhcp-range=')).toEqual(['--dhcp-range=10.0.0.0,proxy,255.255.255.0'])
    expect(arg(a, '--dhcp-boot=')).toEqual(['--dhcp-boot=tag:ipxe,http://10.0.0.1:8080/boot/ipxe?mac=${netX/mac}'])
    const url = 'http://10.0.0.1:8080/boot/ipxe?mac=${netX/mac}'
    expect(arg(a, '--pxe-service=')).toEqual([`--pxe-service=tag:ipxe,x86PC,shoal,${url}`, `--pxe-service=tag:ipxe,X86-64_EFI,shoal,${url}`, `--pxe-service=tag:ipxe,BC_EFI,shoal,${url}`, '--pxe-service=tag:!ipxe,x86PC,iPXE,undionly.kpxe'])
    // Without iPXE binaries dnsmasq still has a PXE service for iPXE clients (with none it would not answer a proxy DISCOVER at all).
    expect(arg(dnsmasqArgs({ ...p, ipxe: undefined }), '--pxe-service=tag:ipxe,')).toHaveLength(3)
    expect(a).not.toContain('--dhcp-authoritative')
    expect(planDhcp(range({ dhcp: 'proxy', dhcpRange: '10.0.0.0' }), machine()).network).toBe('10.0.0.0')
  })

  it('the boot URL: --public-url when set, else the interface address (0.0.0.0) or the bound address; loopback only is refused', () => {
    expect(planDhcp(range({ publicUrl: 'http://boot.example:80' }), machine()).bootUrl).toBe('http://boot.example:80/boot/ipxe?mac=${netX/mac}')
    expect(planDhcp(range({ httpHost: '10.0.0.1' }), machine({ httpPort: 9000 })).bootUrl).toBe('http://10.0.0.1:9000/boot/ipxe?mac=${netX/mac}')
    expect(() => planDhcp(range({ httpHost: '127.0.0.1' }), machine())).toThrow(/listens on 127\.0\.0\.1 only: set --http-host 0\.0\.0\.0/)
    expect(() => planDhcp(range({ publicUrl: `http://${'x'.repeat(120)}` }), machine())).toThrow(/127-byte filename field/)
  })

  it('says what is wrong with the machine: no such interface, no IPv4 address, a range outside its subnet or over its own address', () => {
    expect(() => planDhcp(range({ dhcpInterface: 'eth9' }), machine())).toThrow(/--dhcp-interface eth9: no such interface on this machine \(have: lo, lan0\)/)
    expect(() => planDhcp(range(), machine({ interfaces: { lan0: [{ address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', internal: false }] } }))).toThrow(/has no IPv4 address/)
    expect(() => planDhcp(range({ dhcpRange: '10.0.1.100-10.0.1.200' }), machine())).toThrow(/not inside lan0's subnet 10\.0\.0\.0\/24/)
    expect(() => planDhcp(range({ dhcpRange: '10.0.0.1-10.0.0.20' }), machine())).toThrow(/contains the controller's own address 10\.0\.0\.1/)
    expect(() => planDhcp(range({ dhcp: 'proxy', dhcpRange: '192.168.0.0' }), machine())).toThrow(/is not lan0's network 10\.0\.0\.0\/24/)
    expect(() => planDhcp(range({ dhcpInterface: 'eth9' }), machine())).toThrow(expect.objectContaining({ code: 'dhcp' }))
  })

  it('config checks without the machine: what each mode needs and the syntax of each field', () => {
    expect(() => checkDhcpFields({ dhcp: 'off', dhcpRange: 'nonsense' })).not.toThrow()
    expect(() => checkDhcpFields({ dhcp: 'range', dhcpRange: '10.0.0.2-10.0.0.9' })).toThrow(/needs dhcpInterface \(--dhcp-interface NAME\)/)
    expect(() => checkDhcpFields({ dhcp: 'range', dhcpInterface: 'lan0' })).toThrow(/needs dhcpRange \(--dhcp-range FIRST-LAST/)
    expect(() => checkDhcpFields({ dhcp: 'proxy', dhcpInterface: 'lan0', dhcpRange: '10.0.0.2-10.0.0.9' })).toThrow(/the network the site's DHCP server serves/)
    expect(() => checkDhcpFields({ dhcp: 'range', dhcpInterface: 'lan0', dhcpRange: '10.0.0.2-10.0.0.9', dhcpRouter: 'gw' })).toThrow(/dhcpRouter: "gw" is not an IPv4/)
    expect(() => checkDhcpFields({ dhcp: 'range', dhcpInterface: 'lan0', dhcpRange: '10.0.0.2-10.0.0.9', dhcpDns: '10.0.0.53,x' })).toThrow(/dhcpDns: "x"/)
    expect(parseDhcpRange(' 10.0.0.2 - 10.0.0.9 ')).toEqual({ start: '10.0.0.2', end: '10.0.0.9' })
    for (const bad of ['10.0.0.2', '10.0.0.2-10.0.0.300', '10.0.0.9-10.0.0.2', 'a-b', '10.0.0.2,10.0.0.9']) expect(() => parseDhcpRange(bad)).toThrow(/dhcpRange/)
    expect(networkOf('10.1.2.3', '255.255.0.0')).toBe('10.1.0.0')
    expect(networkOf('192.168.7.200', '255.255.255.128')).toBe('192.168.7.128')
  })

  it('dnsmasq not installed: a clear error naming the package', async () => {
    const s = new DhcpServer({ args: [], command: ['/nonexistent/dnsmasq'], log: silentLogger, rng: { next: () => 0.5, int: () => 0 } })
    await expect(s.start()).rejects.toMatchObject({ code: 'missing-tool', message: expect.stringMatching(/apt-get install dnsmasq-base/) })
    await s.close()
  })
})
