/**
 * Test doubles for the boot sequence: a signed in-memory coordinator, a recording mounter
 * and ports with a virtual sleep. Used by the unit tests beside this file.
 */
import { createHash } from 'node:crypto'
import { ShoalError } from '../protocol/errors.js'
import { ed25519Keyring } from '../protocol/ed25519.js'
import { type EnrollAnswer, type EnrollRequest, type JoinTokenResponse, type ManifestFile, signCertificate, signManifest, signRoster } from '../protocol/enroll/index.js'
import { formatBootParams } from '../protocol/kernel-params/index.js'
import type { BootPorts } from './boot-sequence.js'
import { bootDefaults, type BootConfig } from './boot-config.js'
import type { CoordinatorApi, DownloadResult } from './coordinator-client.js'
import type { NodeFilesInput } from './node-files.js'
import type { Mounter } from './root-stack.js'

export const clusterKeyring = ed25519Keyring(new Uint8Array(32).fill(1))
export const CLUSTER = 'lab'
export const MAC = '52:54:00:00:00:01'
export const TOKEN = 'a'.repeat(64)

export const cmdline = `console=ttyS0 ${formatBootParams({
  coordinator: 'http://10.0.2.2:8080',
  token: TOKEN,
  mac: MAC,
  bootstrap: ['10.0.2.2:49737'],
  image: 'v1',
  cluster: CLUSTER,
  clusterKey: clusterKeyring.publicKey,
})}`

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

export class FakeCoordinator implements CoordinatorApi {
  /** Layer contents as built; `served` is what goes over the wire (tamper here). */
  readonly layers = new Map<string, Uint8Array>([
    ['base.squashfs', new TextEncoder().encode('base layer')],
    ['worker.squashfs', new TextEncoder().encode('worker layer')],
  ])
  readonly served = new Map(this.layers)
  /** Calls fail with 'unreachable' while this is > 0 (each call decrements). */
  downCalls = 0
  /** Enroll answers 'pending' this many times first. */
  pendingAnswers = 0
  validTokens = new Set([TOKEN])
  readonly calls: string[] = []
  readonly written = new Map<string, Uint8Array>()
  manifestKey = clusterKeyring
  /** The image the enrollment answer assigns (the boot script said shoal.image=v1). */
  enrollImage = 'v1'

  private down(what: string): void {
    this.calls.push(what)
    if (this.downCalls > 0) {
      this.downCalls--
      throw new ShoalError('unreachable', 'cannot reach the coordinator at http://10.0.2.2:8080: ECONNREFUSED')
    }
  }

  async enroll(req: EnrollRequest): Promise<EnrollAnswer> {
    this.down('enroll')
    if (!this.validTokens.has(req.token)) throw new ShoalError('token-used', 'coordinator refused /v1/enroll (403): token already used')
    if (this.pendingAnswers > 0) {
      this.pendingAnswers--
      return { status: 'pending', requestId: '0123456789abcdef', retryAfterMs: 3000, message: 'new machine awaits approval' }
    }
    const id = req.fingerprint.id
    return {
      status: 'enrolled',
      id,
      identity: 'new',
      certificate: signCertificate({ v: 1, cluster: CLUSTER, id, key: req.publicKey, serial: 1, issuedAt: 1 }, clusterKeyring),
      roster: signRoster({ v: 1, cluster: CLUSTER, version: 1, issuedAt: 1, members: [{ id, key: req.publicKey }] }, clusterKeyring),
      cluster: CLUSTER,
      clusterKey: clusterKeyring.publicKey,
      bootstrap: ['10.0.2.2:49737'],
      image: this.enrollImage,
    }
  }

  async joinToken(mac: string): Promise<JoinTokenResponse> {
    this.down('join-token')
    const token = 'b'.repeat(64)
    this.validTokens.add(token)
    return { token, mac, expiresAt: 10 }
  }

  rosterMembers: { id: string; key: string }[] = []
  async roster(): Promise<unknown> {
    this.down('roster')
    return signRoster({ v: 1, cluster: CLUSTER, version: 1 + this.rosterMembers.length, issuedAt: 2, members: this.rosterMembers }, clusterKeyring)
  }

  async manifest(version: string): Promise<unknown> {
    this.down('manifest')
    const files: ManifestFile[] = [...this.layers].map(([name, b]) => ({ name, sha256: sha(b), size: b.length }))
    files.push({ name: 'vmlinuz', sha256: sha(new Uint8Array()), size: 0 }, { name: 'initramfs.img', sha256: sha(new Uint8Array()), size: 0 })
    return signManifest({ v: 1, cluster: CLUSTER, version, files, layers: [...this.layers.keys()], kernel: 'vmlinuz', initramfs: 'initramfs.img' }, this.manifestKey)
  }

  async download(_version: string, file: string, dest: string, maxBytes: number): Promise<DownloadResult> {
    this.down(`download ${file}`)
    const b = this.served.get(file)!
    if (b.length > maxBytes) throw new ShoalError('layer-tampered', `${file} is larger than the manifest says`)
    this.written.set(dest, b)
    return { sha256: sha(b), size: b.length }
  }
}

export class RecordingMounter implements Mounter {
  readonly ops: string[] = []
  async mkdirp(): Promise<void> {}
  async squashfs(file: string, dir: string): Promise<void> {
    this.ops.push(`squashfs ${file} ${dir}`)
  }
  async tmpfs(dir: string): Promise<void> {
    this.ops.push(`tmpfs ${dir}`)
  }
  async overlay(lowers: readonly string[], upper: string, work: string, target: string): Promise<void> {
    this.ops.push(`overlay ${lowers.join(':')} ${upper} ${work} ${target}`)
  }
}

export interface FakeBoot {
  ports: BootPorts
  coordinator: FakeCoordinator
  mounter: RecordingMounter
  said: string[]
  sleeps: number[]
  removed: string[]
  nodeFiles: NodeFilesInput[]
  cfg: BootConfig
}

export function fakeBoot(overrides: Partial<BootConfig> = {}): FakeBoot {
  const coordinator = new FakeCoordinator()
  const mounter = new RecordingMounter()
  const said: string[] = []
  const sleeps: number[] = []
  const removed: string[] = []
  const nodeFiles: NodeFilesInput[] = []
  let now = 0
  const ports: BootPorts = {
    readCmdline: async () => cmdline,
    identify: async () => ({ fingerprint: { id: 'node-7f3a', comps: ['sys:abc'] }, inventory: { cpuCores: 1 }, evidence: ['sys=SERIAL1'], unreadable: [] }),
    newSeed: () => new Uint8Array(32).fill(9),
    coordinator: () => coordinator,
    mounter,
    addressOf: () => '10.0.2.101',
    mkdirp: async () => {},
    removeFile: async (p) => {
      removed.push(p)
    },
    writeNodeFiles: async (_root, input) => {
      nodeFiles.push(input)
    },
    sleep: async (ms) => {
      sleeps.push(ms)
      now += ms
    },
    clock: { now: () => now },
    rng: { next: () => 0.5, int: () => 0 },
    say: (l) => said.push(l),
  }
  return { ports, coordinator, mounter, said, sleeps, removed, nodeFiles, cfg: { ...bootDefaults, ...overrides } }
}
