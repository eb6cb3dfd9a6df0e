/**
 * The contract between the two halves of the boot path, end to end without QEMU: the
 * agent's real boot sequence (agent/boot runBoot + its HttpCoordinator client) against
 * the real coordinator on loopback — boot script -> kernel command line -> enrollment ->
 * signed manifest -> layer downloads verified by sha256 -> the mount plan. Only the
 * mounts and the hardware are stand-ins.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { runBoot } from '../agent/boot/boot-sequence.js'
import { HttpCoordinator, type CoordinatorApi } from '../agent/boot/coordinator-client.js'
import { fakeBoot } from '../agent/boot/test-fixtures.js'
import { sha256File } from '../coordinator/image-store.js'
import { startTestCoordinator, testMachine, type TestCoordinator } from '../coordinator/testing.js'

let h: TestCoordinator
afterEach(() => h?.close())

/** The fixture of the boot running now (tests that look at it from a hook). */
let fx: ReturnType<typeof fakeBoot> | undefined

/** An HttpCoordinator's methods bound to it, to override one of them. */
function bindAll(api: CoordinatorApi): CoordinatorApi {
  return { enroll: (r) => api.enroll(r), joinToken: (m) => api.joinToken(m), roster: () => api.roster(), manifest: (v) => api.manifest(v), download: (v, f, d, m) => api.download(v, f, d, m) }
}

async function bootMachine(
  n: number,
  seedByte: number,
  hooks: { beforeBoot?: () => Promise<void>; onSleep?: (ms: number) => Promise<void> } = {},
  wrap: (api: CoordinatorApi) => CoordinatorApi = (api) => api,
) {
  const m = testMachine(n)
  const script = await (await fetch(`${h.url}/boot/ipxe?mac=${m.mac}`)).text()
  const kernelLine = script.split('\n').find((l) => l.startsWith('kernel '))!
  const f = fakeBoot({ retryJitter: 0, maxAttempts: 5, layerDir: join(h.dir, `layers-${n}-${seedByte}`), stackDir: join(h.dir, 'stack') })
  f.ports.readCmdline = async () => kernelLine.slice(kernelLine.indexOf(' ', 'kernel '.length) + 1)
  // The fixture's identity, with this machine's fingerprint (other fields as the fixture has them).
  const base = await f.ports.identify()
  f.ports.identify = async () => ({ ...base, fingerprint: { id: `node-${n}`, comps: m.comps }, inventory: { cpuCores: 2 } })
  f.ports.newSeed = () => new Uint8Array(32).fill(seedByte)
  f.ports.coordinator = (url) => wrap(new HttpCoordinator(url, 10_000))
  fx = f
  f.ports.mkdirp = async (dir) => void (await mkdir(dir, { recursive: true }))
  if (hooks.onSleep) {
    const sleep = f.ports.sleep
    f.ports.sleep = async (ms) => {
      await hooks.onSleep!(ms)
      return sleep(ms)
    }
  }
  await hooks.beforeBoot?.()
  const result = await runBoot(f.ports, f.cfg, '/new_root')
  return { result, f }
}

describe('agent boot mode against the real coordinator', () => {
  it('boots: enrolls, downloads every layer intact, stacks base < node < worker', async () => {
    h = await startTestCoordinator({ images: { v1: { vmlinuz: 1000, 'initramfs.img': 1000, 'base.squashfs': 70_000, 'node.squashfs': 50_000, 'worker.squashfs': 30_000 } } })
    const { result, f } = await bootMachine(1, 11)
    expect(result).toMatchObject({ id: 'node-1', identity: 'new', cluster: h.coordinator.state.clusterId, image: 'v1' })
    // overlayfs lists the top layer first: worker over node over base.
    const overlay = f.mounter.ops.find((o) => o.startsWith('overlay '))!
    expect(overlay.split(' ')[1]!.split(':').map((d) => d.split('/').pop())).toEqual(['worker', 'node', 'base'])
    for (const name of ['base.squashfs', 'node.squashfs', 'worker.squashfs']) {
      expect(await sha256File(join(f.cfg.layerDir, name))).toBe(await sha256File(join(h.imagesDir, 'v1', name)))
    }
    expect(f.sleeps).toEqual([])
    // The coordinator remembers it: nodes list and audit show the enrollment and the downloads.
    expect([...h.coordinator.state.nodes.keys()]).toEqual(['node-1'])
    const audit = await h.coordinator.state.listAudit({ limit: 100 })
    expect(audit.filter((e) => e.kind === 'image').map((e) => e.detail?.file).sort()).toEqual(['base.squashfs', 'node.squashfs', 'worker.squashfs'])
  })

  it('the coordinator restarting mid-boot: the worker retries with backoff and still comes up with its token', async () => {
    h = await startTestCoordinator()
    const port = Number(new URL(h.url).port)
    let restarts = 0
    const { result, f } = await bootMachine(3, 31, {
      // The coordinator goes down after serving the boot script, before the enrollment…
      beforeBoot: () => h.coordinator.close(),
      // …and is back (same port, same data dir) by the time the worker retries.
      onSleep: async () => {
        if (restarts++ === 0) await h.restart({ httpPort: port })
      },
    })
    expect(result).toMatchObject({ id: 'node-3', identity: 'new' })
    expect(f.sleeps).toHaveLength(1)
    expect(f.said.some((l) => /enrolling with .* failed: cannot reach/.test(l))).toBe(true)
  })

  it('a layer that changes between the signed manifest and the download is never mounted: the worker says why, retries, and boots on the good bytes', async () => {
    h = await startTestCoordinator({ images: { v1: { vmlinuz: 1000, 'initramfs.img': 1000, 'base.squashfs': 20_000, 'worker.squashfs': 30_000 } } })
    const layer = join(h.imagesDir, 'v1', 'worker.squashfs')
    const good = await readFile(layer)
    let tampered = false
    let mountsBeforeRetry = -1
    const { result, f } = await bootMachine(4, 41, {
      onSleep: async () => {
        mountsBeforeRetry = fx!.mounter.ops.length
        await writeFile(layer, good) // the good layer is back before the retry
      },
    }, (api) => ({
      ...bindAll(api),
      // The signed manifest is fetched; then someone swaps the file on the server (same size).
      download: async (version, file, dest, max) => {
        if (file === 'worker.squashfs' && !tampered) {
          tampered = true
          await writeFile(layer, Buffer.alloc(good.length, 0x41))
        }
        return api.download(version, file, dest, max)
      },
    }))
    expect(result).toMatchObject({ id: 'node-4', identity: 'new' })
    expect(tampered).toBe(true)
    expect(mountsBeforeRetry).toBe(0)
    expect(f.said.some((l) => /worker\.squashfs of image v1 does not match the signed manifest .*not mounting it; retrying in/.test(l))).toBe(true)
    expect(f.removed).toContain(join(f.cfg.layerDir, 'worker.squashfs'))
    expect(await sha256File(join(f.cfg.layerDir, 'worker.squashfs'))).toBe(await sha256File(layer))
    expect(f.mounter.ops.some((o) => o.startsWith('overlay '))).toBe(true)
  })

  it('the same machine booting again (new key in RAM) is recognised and keeps its id', async () => {
    h = await startTestCoordinator()
    const first = await bootMachine(2, 21)
    const again = await bootMachine(2, 22)
    expect(again.result).toMatchObject({ id: first.result.id, identity: 'known' })
    // One node on the roster (other entries, like the coordinator's own mesh peer, are not nodes).
    const nodeMembers = h.coordinator.state.roster().members.filter((m) => h.coordinator.state.nodes.has(m.id))
    expect(nodeMembers).toEqual([{ id: first.result.id, key: expect.not.stringMatching(/^$/) }])
    expect(h.coordinator.state.nodes.get(first.result.id)!.key).toBe(nodeMembers[0]!.key)
  })
})
