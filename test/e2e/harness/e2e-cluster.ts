/**
 * The pieces every QEMU end-to-end test sets up the same way: the machines (distinct SMBIOS
 * serials, uuids, disk serials, MACs), the images (the CLI bundle, the initramfs and one or
 * more versions of the layers), and the coordinator on the private LAN.
 */
import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { buildInitramfs } from '../../../layers/initramfs.js'
import { buildVersion } from '../../../layers/build-version.js'
import { NATIVE_PACKAGES, bundle } from '../../../layers/bundle.js'
import type { LayerSpec } from '../../../layers/layer-spec.js'
import { ConsoleLog } from './console-log.js'
import type { NetnsLan } from './netns-lan.js'

export const SUBNET = '10.99.0'
export const HTTP_PORT = 8080
export const DHT_PORT = 49737
export const API_PORT = 7400

/**
 * Kernel arguments for TCG workers: a serial console, quiet, no mitigations or timer checks
 * (each costs seconds emulated). Mesh timing is not here: the coordinator's --mesh-timing
 * emulated sets it for its own mesh peer and hands it to every worker it boots.
 */
export const TCG_KERNEL_ARGS = 'console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off no_timer_check nowatchdog'

export interface Machine {
  name: string
  mac: string
  serial: string
  uuid: string
  diskSerial: string
}

export function machines(n: number, tag = 'e2'): Machine[] {
  return Array.from({ length: Math.max(1, n) }, (_, i) => ({
    name: `worker${i + 1}`,
    mac: `52:54:00:${tag}:00:0${i + 1}`,
    serial: `SHOAL-E2E-SYS-${i + 1}`,
    uuid: `5a0a1e2e-0000-4000-8000-00000000000${i + 1}`,
    diskSerial: `SHOALDISK000${i + 1}`,
  }))
}

/**
 * Bundles the CLI (the coordinator runs from it), builds the initramfs and each version's
 * layers into imagesDir. `extra` layers go on top of the worker stack (a site layer).
 */
export async function buildImages(repoRoot: string, imagesDir: string, versions: string[], extra: LayerSpec[] = []): Promise<{ shoalBundle: string; seconds: number; initramfsReused: boolean }> {
  const t0 = performance.now()
  const shoalBundle = join(repoRoot, '.cache/e2e/shoal.mjs')
  await bundle({ entry: join(repoRoot, 'layers/entries/shoal-cli.ts'), outFile: shoalBundle, external: NATIVE_PACKAGES })
  const initramfs = await buildInitramfs({ repoRoot, cacheDir: join(repoRoot, '.cache'), modulesDir: join(repoRoot, '.cache/kernel/modules') })
  const specs = await import('../../../layers/specs/index.js')
  const layers = [...specs.allLayers.filter((l) => l.name !== 'controller'), ...extra]
  const stacks = extra.length > 0 ? { worker: [...specs.defaultStacks.worker, ...extra.map((l) => l.name)] } : undefined
  for (const version of versions) {
    await buildVersion({ version, outDir: imagesDir, repoRoot, cacheDir: join(repoRoot, '.cache/layers'), kernelPath: join(repoRoot, '.cache/kernel/vmlinuz'), initramfsPath: initramfs.path, layers, ...(stacks ? { stacks } : {}) })
  }
  return { shoalBundle, seconds: (performance.now() - t0) / 1000, initramfsReused: initramfs.reused }
}

/**
 * An image version whose layers are the controller's stack (base, node, controller): the
 * root a netbooted controller mounts, with `site` layers on top (its coordinator.env). The
 * boot agent mounts the manifest's `layers` (the worker stack), so the version names the
 * controller stack there.
 */
export async function buildControllerVersion(repoRoot: string, imagesDir: string, version: string, site: LayerSpec[] = []): Promise<void> {
  const initramfs = await buildInitramfs({ repoRoot, cacheDir: join(repoRoot, '.cache'), modulesDir: join(repoRoot, '.cache/kernel/modules') })
  const specs = await import('../../../layers/specs/index.js')
  await buildVersion({
    version,
    outDir: imagesDir,
    repoRoot,
    cacheDir: join(repoRoot, '.cache/layers'),
    kernelPath: join(repoRoot, '.cache/kernel/vmlinuz'),
    initramfsPath: initramfs.path,
    layers: [...specs.allLayers, ...site],
    stacks: { worker: [...specs.defaultStacks.controller, ...site.map((l) => l.name)] },
  })
}

export interface CoordinatorProcess {
  child: ChildProcess
  log: ConsoleLog
  dataDir: string
  url: string
}

/** Starts `shoal coordinator serve` inside the LAN namespace and waits for its start line. */
export async function startCoordinator(lan: NetnsLan, o: { shoalBundle: string; workDir: string; defaultImage: string; kernelArgs: string; extraArgs?: string[]; env?: Record<string, string> }): Promise<CoordinatorProcess> {
  const log = new ConsoleLog(join(o.workDir, 'coordinator.log'))
  const dataDir = join(o.workDir, 'coordinator')
  const child = lan.spawn(process.execPath, [
    o.shoalBundle, 'coordinator', 'serve',
    '--data-dir', dataDir, '--images-dir', join(o.workDir, 'images'),
    '--http-host', lan.controllerIp, '--http-port', String(HTTP_PORT),
    '--dht-host', lan.controllerIp, '--dht-port', String(DHT_PORT),
    '--cluster-id', 'e2e', '--default-image', o.defaultImage, '--unknown-mac', 'default',
    '--mesh-timing', 'emulated',
    '--kernel-args', o.kernelArgs,
    ...(o.extraArgs ?? []),
  ], join(o.workDir, 'coordinator.out'), { env: { ...process.env, SHOAL_LOG_LEVEL: 'warn', ...o.env } })
  log.attach(child.stderr!)
  log.attach(child.stdout!)
  await log.waitFor(/coordinator of cluster/, 60_000, 'the coordinator start line')
  return { child, log, dataDir, url: `http://${lan.controllerIp}:${HTTP_PORT}` }
}
