/**
 * A real iPXE finds the coordinator through the coordinator's own DHCP (`--dhcp range` and
 * `--dhcp proxy`): a QEMU machine (TCG) whose virtio NIC ROM is iPXE powers on in a
 * namespace LAN that has no other PXE setup, takes the filename dnsmasq hands it — the boot
 * script URL with `${netX/mac}` — and asks the coordinator for its boot script. The test
 * ends there (the images are placeholders): booting on is the boot e2e's job.
 * In npm run e2e only (a TCG machine for each mode).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { promisify } from 'node:util'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { smallImage, writeImages } from '../../coordinator/testing.js'
import { startCoordinator, type CoordinatorProcess } from './harness/e2e-cluster.js'
import { NetnsLan } from './harness/netns-lan.js'
import { has, netnsLanMissing } from './harness/requirements.js'
import { QemuVm } from './harness/qemu-vm.js'

const run = promisify(execFile)
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const SUBNET = '10.98.0'
const MAC = '52:54:00:d4:00:01'

function missing(): string | undefined {
  if (process.env.SHOAL_E2E !== '1') return 'run it with npm run e2e (a TCG machine per DHCP mode)'
  const lan = netnsLanMissing('for a network namespace with a bridge and a tap')
  if (lan) return lan
  if (!has('qemu-system-x86_64', ['--version'])) return 'qemu-system-x86_64 not installed (npm run setup)'
  if (!['/usr/lib/ipxe/qemu/pxe-virtio.rom', '/usr/share/qemu/pxe-virtio.rom'].some(existsSync)) return 'no iPXE ROM for virtio-net (ipxe-qemu)'
  return undefined
}
const why = missing()
if (why) console.log(`skipping test/e2e/dhcp-ipxe.test.ts: ${why}`)

describe.skipIf(!!why)("a QEMU machine's iPXE boots from the coordinator's own DHCP", () => {
  let lan: NetnsLan | undefined
  let coordinator: CoordinatorProcess | undefined
  let vm: QemuVm | undefined
  let workDir = ''
  let site: ChildProcess | undefined
  let siteLog = ''
  const siteNs = `shoal-e2e-dhcp-site-${process.pid}`

  afterEach(async () => {
    site?.kill('SIGKILL')
    site = undefined
    siteLog = ''
    try {
      execFileSync('ip', ['netns', 'del', siteNs], { stdio: 'ignore' })
    } catch {
      /* not made (range) */
    }
    await vm?.stop()
    if (coordinator) await lan?.kill(coordinator.child)
    coordinator?.log.close()
    await lan?.close()
    rmSync(workDir, { recursive: true, force: true })
    ;[vm, coordinator, lan] = [undefined, undefined, undefined]
  })

  for (const mode of ['range', 'proxy'] as const) {
    it(`--dhcp ${mode}: iPXE takes the boot script URL from DHCP and fetches its own boot script`, async () => {
      workDir = mkdtempSync(join(tmpdir(), `shoal-e2e-dhcp-${mode}-`))
      await writeImages(join(workDir, 'images'), { v1: smallImage })
      lan = await NetnsLan.create({ name: `shoal-e2e-dhcp-${process.pid}`, subnet: SUBNET, hosts: [{ mac: MAC }], workDir, ipxeScript: '', dhcp: false })
      if (mode === 'proxy') {
        // The site's DHCP server (addresses only, no boot options) on its own machine: a
        // namespace of its own, cabled to the LAN's bridge. (Two DHCP servers bound to one
        // interface of one machine do not both see a broadcast.)
        await run('ip', ['netns', 'add', siteNs])
        await run('ip', ['netns', 'exec', lan.opts.name, 'ip', 'link', 'add', 'site0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', siteNs])
        await run('ip', ['netns', 'exec', lan.opts.name, 'ip', 'link', 'set', 'site0', 'master', 'br0', 'up'])
        await run('ip', ['netns', 'exec', siteNs, 'ip', 'addr', 'add', `${SUBNET}.2/24`, 'dev', 'eth0'])
        await run('ip', ['netns', 'exec', siteNs, 'ip', 'link', 'set', 'eth0', 'up'])
        site = spawn('ip', ['netns', 'exec', siteNs, 'dnsmasq', '--log-dhcp', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--pid-file', '--log-facility=-', '--interface=eth0', '--bind-interfaces', `--dhcp-range=${SUBNET}.150,${SUBNET}.199,1h`, '--leasefile-ro'], { stdio: ['ignore', 'ignore', 'pipe'] })
        site.stderr!.on('data', (b: Buffer) => (siteLog += b.toString()))
      }
      const t0 = performance.now()
      coordinator = await startCoordinator(lan, {
        shoalBundle: join(repoRoot, 'bin/shoal.js'),
        workDir,
        defaultImage: 'v1',
        kernelArgs: 'console=ttyS0',
        extraArgs: ['--dhcp', mode, '--dhcp-interface', 'br0', ...(mode === 'range' ? ['--dhcp-range', `${SUBNET}.100-${SUBNET}.120`] : [])],
        // tsx rather than the CLI bundle cache shared with other checkouts; info: the DHCP and boot lines.
        env: { SHOAL_CLI_BUNDLE: '0', SHOAL_LOG_LEVEL: 'info' },
      })
      await coordinator.log.waitFor(/^DHCP \(dnsmasq\) on br0/, 10_000, 'the DHCP banner')
      vm = new QemuVm({ name: `dhcp-${mode}`, tap: lan.hosts[0]!.tap, mac: MAC, serial: 'SHOAL-DHCP-1', uuid: '5a3e0d2c-8f61-4c8e-9d0b-2f1c3b4a5d60', diskSerial: 'SHOALDHCP1', memMb: 256, timeoutS: 300, boot: { kind: 'pxe' } }, lan, workDir)
      vm.start()
      // The boot script was asked for with this machine's MAC: iPXE expanded ${netX/mac} in the DHCP filename.
      const served = await coordinator.log.waitFor(new RegExp(`"component":"boot","mac":"${MAC}".*"msg":"boot script served"`), 150_000, 'the boot script served to the VM').catch((err: Error) => {
        throw new Error(`${err.message}\nthe machine's console:\n${vm!.console.tail(25)}${siteLog ? `\nthe site's DHCP server:\n${siteLog}` : ''}`)
      })
      const seconds = (served.at - t0) / 1000
      // iPXE's "Configuring (net0 …)" waits for DHCP and for IPv6 autoconfiguration (no router advertises here).
      // The line ends with its "ok", so it is timed against the line before it ("[Link:up …]").
      const i = vm.console.lines.findIndex((l) => /Configuring \(net0/.test(l.text))
      const dhcpWait = i > 0 ? `; iPXE "Configuring" ${((vm.console.lines[i]!.at - vm.console.lines[i - 1]!.at) / 1000).toFixed(1)} s` : ''
      console.log(`e2e dhcp ${mode}: power-on to boot script in ${((served.at - (vm.startedAt || t0)) / 1000).toFixed(1)} s (coordinator start included: ${seconds.toFixed(1)} s)${dhcpWait}`)
      const dhcpLines = coordinator.log.lines.map((l) => l.text).filter((t) => t.includes('"component":"dhcp"'))
      if (mode === 'range') expect(dhcpLines.some((t) => new RegExp(`DHCPACK\\(br0\\) ${SUBNET.replace(/\./g, '\\.')}\\.1[0-2]\\d ${MAC}`).test(t))).toBe(true)
      else expect(dhcpLines.some((t) => t.includes(`PXE(br0) ${MAC} proxy`))).toBe(true)
    }, 300_000)
  }
})
