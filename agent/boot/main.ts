/**
 * Entry of the boot agent. The initramfs carries it as one CommonJS bundle with a V8 code
 * cache made at build time (layers/code-cache.ts, layers/initramfs.ts); the runtime hook runs
 * its loader as the mount handler:
 *   node FLAGS /usr/lib/shoal/shoal-boot.cjs --new-root /new_root [--cmdline /proc/cmdline] [--sys /sys] [--proc /proc]
 * The loader calls main; exit 0 when the root is mounted and the run-mode agent's files are
 * written, and the hook then switch_roots. This is where real IO is chosen, and the only
 * file here that prints.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { networkInterfaces } from 'node:os'
import { parseArgs } from 'node:util'
import { codeCacheStatus } from '../code-cache-status.js'
import { ShoalError } from '../protocol/errors.js'
import { bootDefaults } from './boot-config.js'
import { runBoot, type BootPorts } from './boot-sequence.js'
import { chunkFetchDefaults } from './chunk-fetch-config.js'
import { fetchLayersChunked } from './chunked-layers.js'
import { HttpCoordinator } from './coordinator-client.js'
import { readMachineIdentity } from './machine-identity.js'
import { fetchPeerFingerprints } from './peer-client.js'
import { writeNodeFiles } from './node-files.js'
import { systemMounter } from './system-mounter.js'

const say = (line: string) => process.stdout.write(`shoal-boot[${(performance.now() / 1000).toFixed(1)}s]: ${line}\n`)

const cpuSeconds = () => {
  const cpu = process.cpuUsage()
  return ((cpu.user + cpu.system) / 1e6).toFixed(1)
}

/** Runs the boot; the exit code (1 after saying why it failed). */
export async function main(argv: string[]): Promise<number> {
  try {
    return await boot(argv)
  } catch (err) {
    say(`boot failed: ${err instanceof ShoalError ? err.message : (err as Error)?.stack ?? String(err)}`)
    return 1
  }
}

async function boot(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'new-root': { type: 'string', default: '/new_root' },
      cmdline: { type: 'string', default: '/proc/cmdline' },
      sys: { type: 'string', default: '/sys' },
      proc: { type: 'string', default: '/proc' },
    },
  })
  const ports = realPorts(values)
  // The start's cost, in this process's CPU (user + system) until here, and what V8 did with
  // the code cache; a rejected cache only costs speed, said once (docs/boot.md, "The initramfs").
  const cpu = process.cpuUsage()
  const cache = codeCacheStatus()
  say(`boot agent started (node ${process.version}, code cache ${cache ?? 'none'}, start ${Math.round((cpu.user + cpu.system) / 1000)} ms CPU)`)
  if (cache === 'rejected') say('V8 rejected the code cache (built by another node or with other V8 flags): compiled the boot agent from source, a slower start')
  const r = await runBoot(ports, bootDefaults, values['new-root']!)
  say(`node ${r.id} ready to switch root (enrolled ${(r.timings.enrolledMs / 1000).toFixed(1)} s, layers fetched ${(r.timings.fetchedMs / 1000).toFixed(1)} s, mounted ${(r.timings.mountedMs / 1000).toFixed(1)} s; ${cpuSeconds()} s CPU)`)
  return 0
}

/** The machine's own IO: where the boot reads, writes, mounts and asks. */
function realPorts(values: { cmdline?: string; sys?: string; proc?: string }): BootPorts {
  const clock = { now: () => Date.now() }
  const rng = { next: () => Math.random(), int: (n: number) => Math.floor(Math.random() * n) }
  return {
    readCmdline: () => readFile(values.cmdline!, 'utf8'),
    identify: () => readMachineIdentity(values.sys, values.proc),
    newSeed: () => new Uint8Array(randomBytes(32)),
    coordinator: (url) => new HttpCoordinator(url, bootDefaults.requestTimeoutMs),
    askPeer: (address) => fetchPeerFingerprints(address, { timeoutMs: bootDefaults.peerTimeoutMs, maxBytes: bootDefaults.peerAnswerMaxBytes }),
    // Layers chunk by chunk from peers; this worker serves what it verified on the agent API's
    // port until it switches root (the run-mode agent takes that port over).
    // A chunked fetch that has not finished in 2 minutes gives way to whole files from the
    // coordinator (docs/layers.md: a loaded host was seen to make a 50-worker storm crawl).
    chunkedLayers: async (input) => {
      try {
        const r = await fetchLayersChunked({ ...input, ...(input.address ? { listen: { host: input.address, port: bootDefaults.apiPort } } : {}), domain: bootDefaults.domain, clock, rng, say, config: { ...chunkFetchDefaults, deadlineMs: 120_000 } })
        return r && { manifest: r.manifest, fetched: r.fetched }
      } catch (err) {
        if (!(err instanceof ShoalError) || err.code !== 'layer-fetch-timeout') throw err
        say(`${err.message}; downloading whole layers from the coordinator instead`)
        return undefined
      }
    },
    mounter: systemMounter,
    addressOf: (mac) => {
      for (const addrs of Object.values(networkInterfaces())) {
        const a = addrs?.find((x) => x.family === 'IPv4' && x.mac.toLowerCase() === mac.toLowerCase())
        if (a) return a.address
      }
      return undefined
    },
    mkdirp: async (dir) => {
      await mkdir(dir, { recursive: true })
    },
    removeFile: (path) => rm(path, { force: true }),
    writeNodeFiles,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    clock,
    rng,
    say,
  }
}

/** A closed loopback port: the warm-up's one enrollment attempt is refused at once. */
const WARM_COORDINATOR = 'http://127.0.0.1:1'

/**
 * Called by the loader when it makes the code cache at image build time (layers/code-cache.ts),
 * after the bundle's top level: V8's cache then also holds the functions compiled while this
 * runs, so a booting worker does not compile them (under TCG, compiling is emulated CPU). It
 * runs the boot itself up to its first enrollment attempt: the kernel command line's parse, the
 * key, the hardware identity (read from the build host's /sys: read only), and one request to a
 * closed loopback port, refused; the retry's sleep ends the run. Nothing is written or mounted.
 */
export async function warmCodeCache(): Promise<string[]> {
  const said: string[] = []
  const ports: BootPorts = {
    ...realPorts({ sys: '/sys', proc: '/proc' }),
    readCmdline: async () =>
      `console=ttyS0 quiet shoal.coordinator=${WARM_COORDINATOR} shoal.token=${'0'.repeat(64)} shoal.mac=52:54:00:00:00:01 shoal.bootstrap=127.0.0.1:1 shoal.image=warm shoal.cluster=warm shoal.clusterkey=${'0'.repeat(64)} shoal.layers=chunks`,
    say: (line) => said.push(line),
    sleep: () => Promise.reject(new Error('warm-up: stopping at the first retry')),
  }
  await runBoot(ports, bootDefaults, '/nonexistent/new_root').catch(() => undefined)
  return said
}
