/**
 * Assembles the bootable test initramfs: busybox-static, the host's node with its shared
 * libraries, the kernel modules a virtio worker needs, the boot agent bundle, the runtime
 * hook and an mkinitcpio-like /init around it. Output: a zstd newc cpio, cached under
 * cacheDir by the content hash of the staged tree (an unchanged tree is not packed again).
 *
 * The boot agent is bundled with nothing external: it only needs node's built-ins
 * (fetch, crypto, child_process) and pure-JS dependencies, so no native addon has to be
 * carried into the initramfs. The mesh runtime with its natives lives in the worker layer.
 * Like the run-mode agent it is one CommonJS bundle with a V8 code cache made here, by the
 * node that goes into the image, with the flags the hook runs it with (layers/code-cache.ts).
 */
import { execFile, spawn } from 'node:child_process'
import { createReadStream, createWriteStream, existsSync } from 'node:fs'
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { pipeline } from 'node:stream/promises'
import { ShoalError } from '../agent/protocol/errors.js'
import { bundleWithCodeCache, type CodeCacheBundle } from './code-cache.js'
import { treeHash } from './squashfs.js'
import { installBusybox, installNode, put } from './stage.js'

const run = promisify(execFile)

/**
 * The initramfs is two compressed cpio segments, one after the other in one file (the kernel
 * unpacks each in turn, as with an early-microcode cpio): node and its libraries, packed at
 * RUNTIME_ZSTD_LEVEL once per node binary and kept in the cache, then everything else (the boot
 * agent, hooks, modules, busybox), which changes with every build, at ZSTD_LEVEL.
 */
const ZSTD_LEVEL = 12
const RUNTIME_ZSTD_LEVEL = 19

/** Where the boot agent's loader is in the image (what the hook runs); its bundle and cache are beside it. */
export const BOOT_AGENT_PATH = '/usr/lib/shoal/shoal-boot.cjs'
/**
 * The node flags the hook runs the boot agent with (BOOT_NODE_FLAGS_PATH holds them; the code
 * cache is valid only under these): none. The run-mode agent's (agent/node-flags.ts: no
 * TurboFan, a 1 MB young generation) suit an idle mesh member; the boot agent hashes and copies
 * megabytes in a few seconds, and its busy phases were slower in both TCG runs with them
 * (docs/boot.md; the host's noise is as large).
 */
export const BOOT_NODE_FLAGS: readonly string[] = []
/** The file the hook reads BOOT_NODE_FLAGS from. */
export const BOOT_NODE_FLAGS_PATH = '/usr/lib/shoal/shoal-boot.node-flags'

/** insmod order: each module after the ones it depends on (no modules.dep in the image). */
export const INITRAMFS_MODULES = [
  'virtio_ring', 'virtio', 'virtio_pci_legacy_dev', 'virtio_pci_modern_dev', 'virtio_pci',
  'failover', 'net_failover', 'virtio_net', 'virtio_blk', 'loop', 'squashfs', 'overlay',
] as const

export interface InitramfsOptions {
  repoRoot: string
  /** Cache root (.cache): the image goes to cacheDir/initramfs/. */
  cacheDir: string
  /** The kernel's modules tree (.cache/kernel/modules), holding kernel/…/*.ko. */
  modulesDir: string
  /** The boot agent's entry, exporting main(argv) (default agent/boot/main.ts). */
  bootEntry?: string
}

export interface BuiltInitramfs {
  path: string
  sizeBytes: number
  reused: boolean
  buildMs: number
}

export async function buildInitramfs(opts: InitramfsOptions): Promise<BuiltInitramfs> {
  const t0 = performance.now()
  const here = join(opts.repoRoot, 'initramfs-hooks')
  const root = join(opts.cacheDir, 'initramfs', `stage-${process.pid}`)
  const runtimeRoot = join(opts.cacheDir, 'initramfs', `stage-runtime-${process.pid}`)
  await rm(root, { recursive: true, force: true })
  await rm(runtimeRoot, { recursive: true, force: true })
  await mkdir(root, { recursive: true })
  try {
    await installBusybox(root)
    // node and its libraries (~86 MB of the ~95 MB) go in their own cpio segment, packed hard once per node binary.
    const runtime = await installNode(runtimeRoot, opts.cacheDir)
    const runtimeHash = (await treeHash(runtimeRoot)).slice(0, 16)
    const runtimeImg = join(opts.cacheDir, 'initramfs', `runtime-${runtimeHash}-zstd${RUNTIME_ZSTD_LEVEL}.cpio.zst`)
    if (!existsSync(runtimeImg)) await packCpio(runtimeRoot, runtimeImg, RUNTIME_ZSTD_LEVEL)
    for (const d of ['proc', 'sys', 'dev', 'run', 'tmp', 'new_root', 'etc/shoal', 'lib/modules/shoal']) await mkdir(join(root, d), { recursive: true })
    const found = await findModules(opts.modulesDir, INITRAMFS_MODULES)
    for (const m of INITRAMFS_MODULES) await copyFile(found.get(m)!, join(root, 'lib/modules/shoal', `${m}.ko`))
    await put(root, 'etc/shoal/modules', INITRAMFS_MODULES.join('\n') + '\n')
    // What the hook carries into a root that has no node of its own (the test base layer).
    await put(root, 'etc/shoal/runtime-files', runtime.join('\n') + '\n')
    await put(root, 'etc/passwd', 'root:x:0:0:root:/:/bin/sh\n')
    await put(root, 'etc/hosts', '127.0.0.1 localhost\n')
    await mkdir(join(root, 'hooks'), { recursive: true })
    await copyFile(join(here, 'hooks/shoal'), join(root, 'hooks/shoal'))
    await mkdir(join(root, 'usr/share/shoal'), { recursive: true })
    await copyFile(join(here, 'udhcpc.script'), join(root, 'usr/share/shoal/udhcpc.script'))
    await copyFile(join(here, 'test-init'), join(root, 'init'))
    await run('chmod', ['755', join(root, 'init'), join(root, 'hooks/shoal'), join(root, 'usr/share/shoal/udhcpc.script')])
    await stageBootAgent(root, opts)

    const hash = (await treeHash(root)).slice(0, 24)
    const out = join(opts.cacheDir, 'initramfs', `initramfs-${hash}-${runtimeHash}-zstd${ZSTD_LEVEL}.img`)
    let reused = true
    if (!existsSync(out)) {
      reused = false
      const rest = `${out}.rest${process.pid}`
      try {
        await packCpio(root, rest, ZSTD_LEVEL)
        await concatFiles([runtimeImg, rest], out)
      } finally {
        await rm(rest, { force: true })
      }
    }
    return { path: out, sizeBytes: (await stat(out)).size, reused, buildMs: Math.round(performance.now() - t0) }
  } finally {
    await rm(root, { recursive: true, force: true })
    await rm(runtimeRoot, { recursive: true, force: true })
  }
}

/**
 * Puts the boot agent under root: its loader at BOOT_AGENT_PATH, the bundle and the V8 code
 * cache beside it, and the node flags the hook must run it with (shoal-boot.node-flags).
 */
export async function stageBootAgent(root: string, opts: Pick<InitramfsOptions, 'repoRoot' | 'cacheDir' | 'bootEntry'>): Promise<CodeCacheBundle> {
  const built = await bundleWithCodeCache({
    entry: opts.bootEntry ?? join(opts.repoRoot, 'agent/boot/main.ts'),
    dir: join(root, dirname(BOOT_AGENT_PATH).slice(1)),
    name: basename(BOOT_AGENT_PATH, '.cjs'),
    nodeFlags: BOOT_NODE_FLAGS,
    reuseDir: opts.cacheDir,
  })
  await put(root, BOOT_NODE_FLAGS_PATH.slice(1), BOOT_NODE_FLAGS.join(' ') + '\n')
  return built
}

/** Finds each module's .ko under modulesDir (uncompressed, as Debian ships them). */
async function findModules(modulesDir: string, names: readonly string[]): Promise<Map<string, string>> {
  if (!existsSync(modulesDir)) throw new ShoalError('missing-tool', `kernel modules not found at ${modulesDir}: run npm run setup`)
  const want = new Set(names)
  const found = new Map<string, string>()
  async function walk(dir: string): Promise<void> {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name)
      if (e.isDirectory()) await walk(p)
      else if (e.name.endsWith('.ko')) {
        const name = e.name.slice(0, -3).replace(/-/g, '_')
        if (want.has(name)) found.set(name, p)
      }
    }
  }
  await walk(modulesDir)
  const missing = names.filter((n) => !found.has(n))
  if (missing.length) throw new ShoalError('not-found', `kernel modules ${missing.join(', ')} not in ${modulesDir} (built in? compressed?); use a kernel that has them as .ko`)
  return found
}

/**
 * `find . | cpio -o -H newc` from inside root, zstd-compressed, to out (via a temporary name).
 * zstd rather than gzip: 30 MiB instead of 36 for iPXE to fetch (iPXE moves 1-2 MB/s in
 * an emulated TCG worker). The whole tree at level 12: 31.3 MB in 20 s here; 15 gave 31.0 MB
 * in 67 s and 19 27.3 MB in 165 s on this loaded 2-core host, too slow for every build: so
 * only the node segment, which changes with the node binary alone, is packed at 19.
 */
async function packCpio(root: string, out: string, level: number): Promise<void> {
  const tmp = `${out}.tmp${process.pid}`
  const { stdout: list } = await run('find', ['.', '-print0'], { cwd: root, maxBuffer: 64 << 20, encoding: 'buffer' })
  const cpio = spawn('cpio', ['--null', '-o', '-H', 'newc', '--owner=0:0', '--quiet'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] })
  const zstd = spawn('zstd', ['-q', `-${level}`, '-T0', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  cpio.stderr.on('data', (d) => (stderr += String(d)))
  zstd.stderr.on('data', (d) => (stderr += String(d)))
  const exited = (p: typeof cpio, name: string) =>
    new Promise<number>((resolve, reject) => {
      p.on('error', (err) => reject(new ShoalError('missing-tool', `${name} could not run (${err.message}): npm run setup installs it`)))
      p.on('close', (code) => resolve(code ?? 1))
    })
  const codes = Promise.all([exited(cpio, 'cpio'), exited(zstd, 'zstd')])
  cpio.stdin.end(list)
  cpio.stdout.pipe(zstd.stdin)
  await pipeline(zstd.stdout, createWriteStream(tmp))
  const [c1, c2] = await codes
  if (c1 !== 0 || c2 !== 0) throw new ShoalError('build-failed', `cpio | zstd failed (${c1}, ${c2}): ${stderr.trim()}`)
  await rename(tmp, out)
}

/** out = the files' bytes one after the other (via a temporary name). */
async function concatFiles(files: string[], out: string): Promise<void> {
  const tmp = `${out}.tmp${process.pid}`
  const w = createWriteStream(tmp)
  for (const f of files) await pipeline(createReadStream(f), w, { end: false })
  await new Promise<void>((resolve, reject) => w.end((err?: Error | null) => (err ? reject(err) : resolve())))
  await rename(tmp, out)
}
