/**
 * Test harness: a coordinator on loopback over a temp dir, with a clock the test steps,
 * image versions made of generated files, and helpers to build enrollment requests.
 * Used by test/coordinator-*.test.ts and by the partner's boot tests.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ed25519Keyring } from '../agent/protocol/ed25519.js'
import type { Clock } from '../agent/protocol/ports.js'
import { Coordinator, type CoordinatorDeps } from './coordinator.js'
import { mergeConfig, type PartialConfig } from './coordinator-config.js'
import type { EnrollRequest } from '../agent/protocol/enroll/index.js'

export interface SteppedClock extends Clock {
  advance(ms: number): void
  set(ms: number): void
}

export function steppedClock(startMs = Date.UTC(2026, 0, 1)): SteppedClock {
  let t = startMs
  return { now: () => t, advance: (ms) => void (t += ms), set: (ms) => void (t = ms) }
}

/** version -> file name -> contents (a Buffer, or a byte count for random bytes). */
export type ImageSpec = Record<string, Record<string, Buffer | string | number>>

export async function writeImages(dir: string, spec: ImageSpec): Promise<void> {
  for (const [version, files] of Object.entries(spec)) {
    await mkdir(join(dir, version), { recursive: true })
    for (const [name, content] of Object.entries(files)) {
      await writeFile(join(dir, version, name), typeof content === 'number' ? randomBytes(content) : content)
    }
  }
}

export const smallImage = { vmlinuz: 4096, 'initramfs.img': 8192, 'base.squashfs': 1000, 'node.squashfs': 1000, 'worker.squashfs': 1000 }

export interface TestCoordinator {
  coordinator: Coordinator
  url: string
  dir: string
  dataDir: string
  imagesDir: string
  clock: SteppedClock
  adminToken: string
  /** Closes and starts again on the same data dir (same clock). */
  restart(config?: PartialConfig): Promise<void>
  close(): Promise<void>
}

export async function startTestCoordinator(
  opts: { config?: PartialConfig; images?: ImageSpec; clock?: SteppedClock; deps?: CoordinatorDeps } = {},
): Promise<TestCoordinator> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-coord-'))
  const dataDir = join(dir, 'data')
  const imagesDir = join(dir, 'images')
  await mkdir(imagesDir, { recursive: true })
  await writeImages(imagesDir, opts.images ?? { v1: smallImage })
  const clock = opts.clock ?? steppedClock()
  const adminToken = 'test-admin-token-0123456789'
  const make = (extra: PartialConfig = {}) =>
    new Coordinator(
      mergeConfig({ dataDir, imagesDir, httpPort: 0, dhtPort: -1, bootstrapAdvertise: ['127.0.0.1:49737'], adminToken, ...opts.config, ...extra }),
      { clock, ...opts.deps },
    )
  const h: TestCoordinator = {
    coordinator: make(),
    url: '',
    dir,
    dataDir,
    imagesDir,
    clock,
    adminToken,
    async restart(config) {
      await h.coordinator.close()
      h.coordinator = make(config)
      await h.coordinator.start()
      h.url = h.coordinator.url
    },
    async close() {
      await h.coordinator.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
  await h.coordinator.start()
  h.url = h.coordinator.url
  return h
}

/** A machine: its key pair and fingerprint, stable per `n`. */
export function testMachine(n: number, overrides: { comps?: string[]; mac?: string } = {}) {
  const seed = new Uint8Array(32).fill(0)
  seed[0] = n & 0xff
  seed[1] = (n >> 8) & 0xff
  seed[31] = 0x5a
  const keyring = ed25519Keyring(seed)
  const hexN = n.toString(16).padStart(4, '0')
  const mac = overrides.mac ?? `52:54:00:00:${hexN.slice(0, 2)}:${hexN.slice(2)}`
  const comps = overrides.comps ?? [`uuid:u${hexN}`, `sys:s${hexN}`, `disk:d${hexN}a`, `disk:d${hexN}b`, `nic:n${hexN}`]
  return {
    keyring,
    mac,
    comps,
    request(token: string, extra: Partial<EnrollRequest> = {}): EnrollRequest {
      return {
        v: 1,
        token,
        mac,
        publicKey: keyring.publicKey,
        fingerprint: { id: `node-${hexN}`, comps },
        inventory: { vendor: 'QEMU', product: 'Standard PC', cpuCores: 2, memoryBytes: 512 * 2 ** 20 },
        ...extra,
      }
    },
  }
}

/** The token a boot script carries. */
export function tokenFromScript(script: string): string {
  const m = /shoal\.token=([0-9a-f]{64})/.exec(script)
  if (!m) throw new Error(`no shoal.token in boot script:\n${script}`)
  return m[1]!
}

/**
 * What a machine's PXE boot asks the coordinator at `url`: its iPXE script, which names the
 * image it boots and carries its one-time join token.
 */
export async function bootScriptOf(url: string, mac: string): Promise<{ image: string; token: string }> {
  const text = await (await fetch(`${url}/boot/ipxe?mac=${mac}`, { signal: AbortSignal.timeout(10_000) })).text()
  const m = /boots image (\S+)/.exec(text)
  if (!m) throw new Error(`no image in the boot script for ${mac}:\n${text}`)
  return { image: m[1]!, token: tokenFromScript(text) }
}

/** A machine as the live harnesses enroll it: its fingerprint id, its MAC and its node key. */
export interface EnrollingMachine {
  id: string
  mac: string
  publicKey: string
  /** The inventory's vendor (default shoal-live). */
  vendor?: string
}

/** Enrolls a machine at the coordinator at `url` with its boot script's join token, as the boot agent does. */
export async function enrollMachine(url: string, m: EnrollingMachine): Promise<void> {
  const { token } = await bootScriptOf(url, m.mac)
  const r = await postJson(`${url}/v1/enroll`, {
    v: 1,
    token,
    mac: m.mac,
    publicKey: m.publicKey,
    fingerprint: { id: m.id, comps: [`uuid:${m.id}`, `nic:${m.mac}`] },
    inventory: { vendor: m.vendor ?? 'shoal-live', product: 'worker', cpuCores: 2, memoryBytes: 2 ** 30 },
  })
  if (r.status !== 200 || r.json?.id !== m.id) throw new Error(`enrolling ${m.id}: HTTP ${r.status} ${JSON.stringify(r.json)}`)
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = text
  }
  return { status: res.status, json }
}
