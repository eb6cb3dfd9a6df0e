/**
 * `npm run layers` — builds the SquashFS layers and the signed manifest of one version.
 *   npm run layers -- --version v1 [--out .cache/images] [--key .cache/cluster.key | --new-key]
 *                     [--layers base,node,worker] [--kernel FILE] [--initramfs FILE]
 * A second version for upgrade tests is the same command with --version v2: every layer
 * records its version (/etc/shoal/image-version), so v2 differs from v1 in content and hash.
 */
import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ShoalError } from '../agent/protocol/errors.js'
import { buildVersion } from './build-version.js'
import { createClusterKey, readClusterKey } from './cluster-key.js'
import { allLayers } from './specs/index.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const usage = 'npm run layers -- --version V [--out DIR] [--key FILE | --new-key] [--layers a,b] [--kernel FILE] [--initramfs FILE]'

async function main(argv: string[]): Promise<number> {
  let flags
  try {
    flags = parseArgs({
      args: argv,
      strict: true,
      options: {
        version: { type: 'string', default: 'v1' },
        out: { type: 'string', default: resolve(repoRoot, '.cache/images') },
        key: { type: 'string', default: resolve(repoRoot, '.cache/cluster.key') },
        'new-key': { type: 'boolean', default: false },
        layers: { type: 'string' },
        kernel: { type: 'string' },
        initramfs: { type: 'string' },
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
  const key = flags['new-key'] || !existsSync(flags.key!) ? await createClusterKey(flags.key!) : await readClusterKey(flags.key!)
  const names = flags.layers?.split(',').map((s) => s.trim()) ?? allLayers.map((l) => l.name)
  const specs = names.map((n) => {
    const spec = allLayers.find((l) => l.name === n)
    if (!spec) throw new ShoalError('usage', `unknown layer "${n}"; known: ${allLayers.map((l) => l.name).join(', ')}`)
    return spec
  })
  const kernel = flags.kernel ?? (existsSync(resolve(repoRoot, '.cache/kernel/vmlinuz')) ? resolve(repoRoot, '.cache/kernel/vmlinuz') : undefined)
  const t0 = performance.now()
  const built = await buildVersion({
    version: flags.version!,
    outDir: resolve(flags.out!),
    clusterKey: key,
    repoRoot,
    cacheDir: resolve(repoRoot, '.cache/layers'),
    layers: specs,
    kernelPath: kernel,
    initramfsPath: flags.initramfs,
    log: (l) => console.log(l),
  })
  console.log(`built ${built.manifest.version} in ${built.dir} (${((performance.now() - t0) / 1000).toFixed(1)} s); cluster key ${key.publicKey}`)
  return 0
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err) => {
    console.error(`error: ${err instanceof ShoalError ? err.message : (err as Error).stack}`)
    process.exitCode = err instanceof ShoalError && err.code === 'usage' ? 2 : 1
  },
)
