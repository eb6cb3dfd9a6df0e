/**
 * `npm run layers` — builds one image version: the SquashFS layers, the kernel and the test
 * initramfs beside them, and the manifest.
 *   npm run layers -- [--version v1] [--out .cache/images] [--layers base,node,worker,controller]
 *                     [--kernel FILE] [--initramfs FILE] [--cluster ID --key FILE]
 * Without --cluster/--key it writes manifest.json (hashes, sizes, stacking order), which the
 * coordinator verifies and signs with the cluster key when it serves the version. With them
 * it also writes manifest.signed.json, the signed manifest itself (--key: a file holding the
 * cluster key's 32-byte seed in hex; created if missing).
 * A second version for upgrade tests is the same command with --version v2: every layer
 * records its version (/etc/shoal/image-version), so v2 differs from v1 in content and hash.
 */
import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ShoalError } from '../agent/protocol/errors.js'
import { buildInitramfs } from './initramfs.js'
import { buildVersion } from './build-version.js'
import { createClusterKey, readClusterKey } from './cluster-key.js'
import { allLayers } from './specs/index.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const usage = 'npm run layers -- [--version V] [--out DIR] [--layers a,b] [--kernel FILE] [--initramfs FILE] [--cluster ID --key FILE]'

async function main(argv: string[]): Promise<number> {
  let flags
  try {
    flags = parseArgs({
      args: argv,
      strict: true,
      options: {
        version: { type: 'string', default: 'v1' },
        out: { type: 'string', default: resolve(repoRoot, '.cache/images') },
        layers: { type: 'string' },
        kernel: { type: 'string', default: resolve(repoRoot, '.cache/kernel/vmlinuz') },
        initramfs: { type: 'string' },
        cluster: { type: 'string' },
        key: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values
  } catch (err) {
    console.error(`error: ${(err as Error).message}\nusage: ${usage}`)
    return 2
  }
  if (flags.help) {
    console.log(`usage: ${usage}`)
    return 0
  }
  if ((flags.cluster === undefined) !== (flags.key === undefined)) throw new ShoalError('usage', `--cluster and --key go together\nusage: ${usage}`)
  const key = flags.key ? (existsSync(flags.key) ? await readClusterKey(flags.key) : await createClusterKey(flags.key)) : undefined
  const names = flags.layers?.split(',').map((s) => s.trim()) ?? allLayers.map((l) => l.name)
  const specs = names.map((n) => {
    const spec = allLayers.find((l) => l.name === n)
    if (!spec) throw new ShoalError('usage', `unknown layer "${n}"; known: ${allLayers.map((l) => l.name).join(', ')}`)
    return spec
  })
  if (!existsSync(flags.kernel!)) throw new ShoalError('not-found', `kernel ${flags.kernel} not found: run npm run setup, or pass --kernel FILE`)
  const t0 = performance.now()
  let initramfs = flags.initramfs
  if (!initramfs) {
    const built = await buildInitramfs({ repoRoot, cacheDir: resolve(repoRoot, '.cache'), modulesDir: resolve(repoRoot, '.cache/kernel/modules') })
    console.log(`initramfs: ${(built.sizeBytes / 1048576).toFixed(1)} MiB ${built.reused ? '(cached) ' : ''}${built.buildMs} ms`)
    initramfs = built.path
  }
  const { dir } = await buildVersion({
    version: flags.version!,
    outDir: resolve(flags.out!),
    clusterKey: key,
    clusterId: flags.cluster,
    repoRoot,
    cacheDir: resolve(repoRoot, '.cache/layers'),
    layers: specs,
    kernelPath: flags.kernel!,
    initramfsPath: initramfs,
    log: (l) => console.log(l),
  })
  console.log(`built ${flags.version} in ${dir} (${((performance.now() - t0) / 1000).toFixed(1)} s)`)
  return 0
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err) => {
    console.error(`error: ${err instanceof ShoalError ? err.message : (err as Error).stack}`)
    process.exitCode = err instanceof ShoalError && err.code === 'usage' ? 2 : 1
  },
)
