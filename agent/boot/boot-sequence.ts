/**
 * The agent's boot mode, start to finish: read the kernel command line, fingerprint the
 * machine, enroll with the coordinator, fetch the layers of the assigned image, verify
 * them against the signed manifest, mount them as the new root and leave the run-mode
 * agent its files. Every step that talks to the coordinator retries with capped, jittered
 * exponential backoff (a coordinator restart mid-boot costs a few seconds, never the boot),
 * and says on the console what failed and when it tries again.
 * All IO arrives through BootPorts, so tests run it against fakes with a virtual sleep.
 */
import { ShoalError } from '../protocol/errors.js'
import { ed25519Keyring } from '../protocol/ed25519.js'
import type { Clock, Rng } from '../protocol/ports.js'
import { ENROLL_API_VERSION, type EnrollRequest, type EnrollResponse, verifyCertificate, verifyRoster } from '../protocol/enroll/index.js'
import { parseKernelParams, type BootParams } from '../protocol/kernel-params/index.js'
import { Backoff } from '../protocol/backoff.js'
import type { BootConfig } from './boot-config.js'
import type { CoordinatorApi } from './coordinator-client.js'
import type { MachineIdentity } from './machine-identity.js'
import type { NodeFilesInput } from './node-files.js'
import { coordinatorOverrides, identifyWithPeers, type PeerReport } from './peer-identity.js'
import { checkLayers, layerEntries, openManifest, verifyAndMountRoot, type FetchedLayer, type ManifestPin, type Mounter } from './root-stack.js'

export interface BootPorts {
  readCmdline(): Promise<string>
  identify(): Promise<MachineIdentity>
  /** 32 random bytes: the node's ed25519 seed for this boot (RAM only). */
  newSeed(): Uint8Array
  coordinator(baseUrl: string): CoordinatorApi
  /** GET /v1/fingerprints of a peer agent (HOST:PORT from shoal.peers=), JSON-decoded; absent: ask no peers. */
  askPeer?(address: string): Promise<unknown>
  /**
   * Fetches the layers chunk by chunk from peers and the coordinator (agent/boot/chunked-layers.ts),
   * verified chunk by chunk; resolves undefined when the coordinator's manifest has no chunks.
   * Absent: whole files from the coordinator.
   */
  chunkedLayers?(input: { coordinator: string; pin: ManifestPin; layerDir: string; manifestFile: string; peers: string[]; address: string | undefined }): Promise<{ manifest: unknown; fetched: FetchedLayer[] } | undefined>
  mounter: Mounter
  /** IPv4 address of the interface with this MAC, once DHCP configured it. */
  addressOf(mac: string): string | undefined
  mkdirp(dir: string): Promise<void>
  removeFile(path: string): Promise<void>
  writeNodeFiles(newRoot: string, input: NodeFilesInput): Promise<void>
  /** Resolves after ms (virtual in tests). */
  sleep(ms: number): Promise<void>
  clock: Clock
  rng: Rng
  /** One line for the operator on the machine's console. */
  say(line: string): void
}

export interface BootResult {
  id: string
  identity: 'known' | 'new'
  cluster: string
  image: string
  layers: string[]
  /** ms from start to each milestone. */
  timings: { enrolledMs: number; fetchedMs: number; mountedMs: number }
  /** What the peers of shoal.peers= said about this machine's id (asked before enrolling). */
  peers: PeerReport
}

export async function runBoot(ports: BootPorts, cfg: BootConfig, newRoot: string): Promise<BootResult> {
  const t0 = ports.clock.now()
  const since = () => ports.clock.now() - t0
  const retry = retrier(ports, cfg)

  const params = await retry('reading shoal.* from the kernel command line', async () => {
    const k = parseKernelParams(await ports.readCmdline())
    return { ...k.boot, mesh: k.mesh, upgrade: k.upgrade, domain: k.domain, peers: k.peers.peers, chunkedLayers: k.chunkedLayers, layerUploadBytesPerSec: k.layerUploadBytesPerSec }
  })
  const api = ports.coordinator(params.coordinator)
  const seed = ports.newSeed()
  const keyring = ed25519Keyring(seed)
  let machine = await retry('reading the hardware identity', () => ports.identify())
  ports.say(`machine ${machine.fingerprint.id}: ${machine.evidence.join(', ') || 'no identity components'}`)
  if (machine.unreadable.length) ports.say(`could not read ${machine.unreadable.join(', ')}: the id rests on the rest`)
  const asked = await identifyWithPeers(ports, machine) // never throws: peers are an aid
  machine = asked.machine

  const enrolled = await retry(`enrolling with ${params.coordinator}`, () => enroll(ports, api, params, keyring.publicKey, machine))
  const enrolledMs = since()
  ports.say(`enrolled as ${enrolled.id} (${enrolled.identity === 'known' ? 'known machine' : 'new machine'}) in cluster ${enrolled.cluster}; image ${enrolled.image}`)
  const overridden = coordinatorOverrides(asked.peers, enrolled.id)
  if (overridden) ports.say(overridden)
  refuseOtherImage(ports, params.image, enrolled.image)

  const pin = { clusterKey: params.clusterKey, cluster: params.cluster, version: enrolled.image }
  let fetchedMs = 0
  /** The layers came in chunks and their manifest is kept: the run-mode agent serves them on. */
  let keptChunks = false
  const lowers = await retry(`fetching image ${enrolled.image}`, async () => {
    keptChunks = false
    const chunked = !params.chunkedLayers ? undefined : await ports.chunkedLayers?.({ coordinator: params.coordinator, pin, layerDir: cfg.layerDir, manifestFile: cfg.layerManifestFile, peers: params.peers, address: ports.addressOf(params.mac) })
    if (chunked) {
      fetchedMs = since()
      const mounted = await verifyAndMountRoot(chunked.manifest, pin, chunked.fetched, newRoot, { stackDir: cfg.stackDir }, ports.mounter)
      keptChunks = true
      return mounted
    }
    const raw = await api.manifest(enrolled.image)
    const manifest = openManifest(raw, pin)
    const entries = layerEntries(manifest)
    ports.say(`image ${enrolled.image}: manifest signature ok; fetching ${entries.length} layers (${mib(entries.reduce((s, e) => s + e.size, 0))})`)
    await ports.mkdirp(cfg.layerDir)
    const fetched: FetchedLayer[] = []
    for (const want of entries) {
      const path = `${cfg.layerDir}/${want.name}`
      const tl = ports.clock.now()
      const got = await api.download(enrolled.image, want.name, path, want.size)
      ports.say(`${want.name}: ${mib(got.size)} in ${((ports.clock.now() - tl) / 1000).toFixed(1)} s, sha256 ${got.sha256.slice(0, 12)}…`)
      const layer = { name: want.name, path, ...got }
      try {
        checkLayers({ ...manifest, layers: [want.name] }, [layer])
      } catch (err) {
        await ports.removeFile(path)
        throw err
      }
      fetched.push(layer)
    }
    fetchedMs = since()
    return verifyAndMountRoot(raw, pin, fetched, newRoot, { stackDir: cfg.stackDir }, ports.mounter)
  })
  const mountedMs = since()
  ports.say(`image ${enrolled.image}: ${lowers.length} layers verified against the signed manifest and mounted at ${newRoot}`)

  // The roster from enrollment lists only machines enrolled before this one; a rack that
  // powers on together has enrolled by now, so take the newest one (best effort: the
  // run-mode agent keeps it current after switch_root anyway: layers/entries/shoal-agent.ts).
  let roster = enrolled.roster
  try {
    const r = verifyRoster(await api.roster(), params.clusterKey, params.cluster)
    if (r.ok && r.value.version > roster.version) roster = r.value
  } catch {
    // keep the enrollment roster
  }
  ports.say(`roster v${roster.version}: ${roster.members.length} members`)

  const address = ports.addressOf(params.mac)
  if (!address) throw new ShoalError('no-address', `no IPv4 address on the interface with MAC ${params.mac}; the mesh cannot bind`)
  await ports.writeNodeFiles(newRoot, {
    enrolled: { ...enrolled, roster },
    seedHex: Buffer.from(seed).toString('hex'),
    coordinator: params.coordinator,
    address,
    apiPort: cfg.apiPort,
    // Precedence (kernel-params/domain-param.ts): shoal.domain= (a coordinator label or the operator's), then LLDP, then the default.
    domain: params.domain?.from === 'cmdline' ? params.domain.domain : cfg.domain,
    layers: lowers.map((l) => l.slice(l.lastIndexOf('/') + 1)),
    inventory: machine.inventory,
    comps: machine.fingerprint.comps,
    ...(params.mesh ? { mesh: params.mesh.mesh, ...(params.mesh.silentLinkMs !== undefined ? { silentLinkMs: params.mesh.silentLinkMs } : {}) } : {}),
    ...(params.upgrade ? { upgrade: params.upgrade } : {}),
    ...(keptChunks ? { layerChunks: { manifestFile: cfg.layerManifestFile, layerDir: cfg.layerDir, ...(params.layerUploadBytesPerSec !== undefined ? { uploadBytesPerSec: params.layerUploadBytesPerSec } : {}) } } : {}),
  })
  return { id: enrolled.id, identity: enrolled.identity, cluster: enrolled.cluster, image: enrolled.image, layers: lowers, timings: { enrolledMs, fetchedMs, mountedMs }, peers: asked.peers }
}

/** One enrollment attempt (approval waits and token renewals included); throws to be retried. */
async function enroll(ports: BootPorts, api: CoordinatorApi, params: BootParams, publicKey: string, machine: MachineIdentity): Promise<EnrollResponse> {
  const req: EnrollRequest = {
    v: ENROLL_API_VERSION,
    token: params.token,
    mac: params.mac,
    publicKey,
    fingerprint: machine.fingerprint,
    inventory: machine.inventory,
  }
  for (;;) {
    let answer
    try {
      answer = await api.enroll(req)
    } catch (err) {
      if (err instanceof ShoalError && err.code.startsWith('token-')) {
        // The boot script's token is spent or stale (a retry after the coordinator restarted,
        // a slow BIOS): ask for a fresh one bound to the same MAC, and try again.
        ports.say(`join token refused (${err.code}); asking the coordinator for a new one`)
        req.token = (await api.joinToken(params.mac)).token
        params.token = req.token
        continue
      }
      throw err
    }
    if (answer.status === 'pending') {
      ports.say(`waiting for approval: ${answer.message} (request ${answer.requestId})`)
      await ports.sleep(answer.retryAfterMs)
      continue
    }
    checkEnrollment(answer, params, publicKey)
    return answer
  }
}

/**
 * The kernel and initramfs running now are those of `shoal.image`; layers of another
 * version would not match them (kernel modules, the boot agent itself). The coordinator
 * can answer with another image when its assignment changed between the boot script and
 * the enrollment (a wave, `shoal coordinator assign`, a machine whose MAC it did not know
 * yet): then nothing is fetched or mounted, and the console says why. Not retried: asking
 * again gives the same answer; the machine's next boot script names the new image.
 */
function refuseOtherImage(ports: BootPorts, booted: string, assigned: string): void {
  if (assigned === booted) return
  const line = `refusing the layers of image ${assigned}: this machine booted the kernel and initramfs of shoal.image=${booted}; reboot it to boot ${assigned} whole`
  ports.say(line)
  throw new ShoalError('image-mismatch', line)
}

/** The answer must come from the cluster the boot script pinned, for this key. */
function checkEnrollment(a: EnrollResponse, params: BootParams, publicKey: string): void {
  if (a.clusterKey !== params.clusterKey || a.cluster !== params.cluster) {
    throw new ShoalError('bad-answer', `the coordinator answered for cluster ${a.cluster} (key ${a.clusterKey.slice(0, 16)}…), but the boot script pinned ${params.cluster} (key ${params.clusterKey.slice(0, 16)}…)`)
  }
  const cert = verifyCertificate(a.certificate, params.clusterKey, { cluster: params.cluster, id: a.id, key: publicKey })
  if (!cert.ok) throw new ShoalError('bad-answer', `certificate refused (${cert.reason}): ${cert.detail}`)
  const roster = verifyRoster(a.roster, params.clusterKey, params.cluster)
  if (!roster.ok) throw new ShoalError('bad-answer', `roster refused (${roster.reason}): ${roster.detail}`)
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`

function retrier(ports: BootPorts, cfg: BootConfig) {
  return async function retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const backoff = new Backoff({ initialMs: cfg.retryInitialMs, maxMs: cfg.retryMaxMs, factor: cfg.retryFactor, jitter: cfg.retryJitter }, ports.rng)
    for (;;) {
      try {
        return await fn()
      } catch (err) {
        const msg = err instanceof ShoalError ? err.message : `unexpected error: ${(err as Error)?.message ?? String(err)}`
        if (cfg.maxAttempts > 0 && backoff.attempts + 1 >= cfg.maxAttempts) {
          ports.say(`${what} failed: ${msg}; giving up after ${cfg.maxAttempts} attempts`)
          throw err
        }
        const delay = backoff.next()
        ports.say(`${what} failed: ${msg}; retrying in ${(delay / 1000).toFixed(1)} s`)
        await ports.sleep(delay)
      }
    }
  }
}
