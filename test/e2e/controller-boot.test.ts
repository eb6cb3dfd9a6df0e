/**
 * The controller layer boots (issue 16 item 5): a QEMU machine (TCG) on the test LAN
 * netboots, as a worker does, an image whose root is the controller's stack (base, node,
 * controller: buildControllerVersion) from a seed coordinator; its initramfs enrolls,
 * mounts the verified layers and switches root; busybox init runs the controller layer's
 * inittab, whose respawned service is `shoal coordinator serve` exactly as the layer ships
 * it. The test reaches that coordinator's API on the machine's own address. Prints
 * power-on -> API answering. In `npm run e2e` only (SHOAL_E2E=1): one more TCG boot.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildControllerVersion, buildImages, HTTP_PORT, machines, startCoordinator, SUBNET, TCG_KERNEL_ARGS, type CoordinatorProcess } from './harness/e2e-cluster.js'
import { NetnsLan } from './harness/netns-lan.js'
import { QemuVm } from './harness/qemu-vm.js'
import { missing } from './harness/requirements.js'
import { controllerSiteLayer } from './harness/site-layer.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const why = process.env.SHOAL_E2E !== '1' ? 'not in npm test (npm run e2e runs it)' : process.env.SHOAL_SKIP_QEMU === '1' ? 'SHOAL_SKIP_QEMU=1' : missing(repoRoot)
if (why) console.log(`skipping the QEMU controller boot: ${why}`)

const DEADLINE_MS = Number(process.env.SHOAL_E2E_DEADLINE_S ?? 300) * 1000
/** The port the controller layer's coordinator listens on (its config default). */
const CONTROLLER_HTTP_PORT = 8080

describe.skipIf(!!why)('the controller layer boots in QEMU and its coordinator answers', () => {
  const workDir = mkdtempSync(join(tmpdir(), 'shoal-e2e-controller-'))
  const [m] = machines(1, 'c0')
  let lan: NetnsLan
  let seed: CoordinatorProcess | undefined
  let vm: QemuVm | undefined
  let failed = true

  beforeAll(async () => {
    const built = await buildImages(repoRoot, join(workDir, 'images'), [])
    lan = await NetnsLan.create({
      name: `shoal-ctl-${process.pid}`,
      subnet: SUBNET,
      hosts: [{ mac: m!.mac }],
      workDir,
      ipxeScript: `#!ipxe\nchain http://${SUBNET}.1:${HTTP_PORT}/boot/ipxe?mac=\${net0/mac}\n`,
    })
    // The operator's site settings: the controller listens on the LAN (its default is
    // loopback), its DHT bootstrap node on its own address (a bootstrap node needs one).
    await buildControllerVersion(repoRoot, join(workDir, 'images'), 'ctl', [controllerSiteLayer({ SHOAL_COORDINATOR_HTTP_HOST: '0.0.0.0', SHOAL_COORDINATOR_DHT_HOST: lan.hosts[0]!.ip })])
    seed = await startCoordinator(lan, { shoalBundle: built.shoalBundle, workDir, defaultImage: 'ctl', kernelArgs: TCG_KERNEL_ARGS })
  }, 600_000)

  afterAll(async () => {
    await vm?.stop()
    if (seed) await lan?.kill(seed.child)
    await lan?.close()
    if (failed) console.log(`e2e: logs kept in ${workDir}`)
    else rmSync(workDir, { recursive: true, force: true })
  }, 60_000)

  it('netboots the controller stack; init starts the coordinator service; its /healthz answers on the machine', async () => {
    vm = new QemuVm({ ...m!, name: 'controller1', tap: lan.hosts[0]!.tap, memMb: 1024, timeoutS: Math.ceil(DEADLINE_MS / 1000) + 60, boot: { kind: 'pxe' } }, lan, workDir)
    const powerOn = performance.now()
    vm.start()
    const ip = lan.hosts[0]!.ip
    // The service's start line on the console (init sends a respawned service's output there).
    const started = await vm.console.waitFor(/coordinator of cluster \S+ on http/, DEADLINE_MS, 'the controller\'s coordinator start line')
    const startedS = (started.at - powerOn) / 1000
    let health = { code: 1, stdout: '', stderr: '' }
    const askUntil = performance.now() + 60_000
    for (;;) {
      health = await lan.exec(process.execPath, ['-e', `fetch('http://${ip}:${CONTROLLER_HTTP_PORT}/healthz',{signal:AbortSignal.timeout(20000)}).then(async r=>console.log(r.status+' '+await r.text()),e=>{console.log(String(e));process.exit(1)})`], 40_000)
      if (health.code === 0 || performance.now() > askUntil) break
    }
    const answeredS = (performance.now() - powerOn) / 1000
    expect(health.code, health.stdout + health.stderr).toBe(0)
    const [status, ...body] = health.stdout.trim().split(' ')
    expect(status).toBe('200')
    expect(JSON.parse(body.join(' '))).toMatchObject({ ok: true })
    // It is the controller layer's root: its role file, and the seed coordinator served its stack.
    expect(vm.console.find(/enrolled as /)).toBeDefined()
    console.log(`e2e-result ${JSON.stringify({ controller: true, accel: 'tcg', coordinatorStartedS: Math.round(startedS * 10) / 10, apiAnsweredS: Math.round(answeredS * 10) / 10 })}`)
    console.log(`e2e: controller power-on -> its coordinator started ${startedS.toFixed(1)} s, /healthz answered ${answeredS.toFixed(1)} s (TCG)`)
    failed = false
  }, DEADLINE_MS + 120_000)
})
