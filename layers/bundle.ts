/**
 * Bundles a TypeScript entry into one ESM file with esbuild, for a machine that has node
 * but no node_modules. Pure-JS dependencies are inlined. Packages with native addons
 * cannot be: they locate their .node prebuilds relative to their own package directory
 * (node-gyp-build, require-addon), which no longer exists inside a bundle — the classic
 * `--packages=external` trap is the opposite mistake (everything external, nothing shipped).
 * So natives stay external and are copied, with their dependency closure, into a
 * node_modules directory beside the bundle.
 */
import { cp, mkdir, readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { build, type Metafile, type Plugin } from 'esbuild'

/** Packages that load a compiled addon at run time (the agent's transitive natives). */
export const NATIVE_PACKAGES = ['sodium-native', 'udx-native', 'classic-level', 'msgpackr-extract', 'node-pty'] as const

export interface BundleOptions {
  entry: string
  outFile: string
  /** Packages left as imports; copy them with copyPackages. */
  external?: readonly string[]
  /** Replaces `process.env.X`-style identifiers at build time. */
  define?: Record<string, string>
  /** Return esbuild's metafile (its `inputs` are every file the bundle was built from). */
  metafile?: boolean
  /** esbuild's console output (stderr); 'silent' for builds that must not print. Default 'error'. */
  logLevel?: 'error' | 'silent'
}

export async function bundle(opts: BundleOptions): Promise<Metafile | undefined> {
  const result = await build({
    entryPoints: [opts.entry],
    outfile: opts.outFile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: [...(opts.external ?? [])],
    define: opts.define,
    plugins: [bundleSafeSources],
    // Smaller source parses faster: under TCG emulation node spends seconds parsing a bundle.
    minify: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: opts.logLevel ?? 'error',
    // CommonJS dependencies call require(); give the ESM bundle a real one.
    banner: { js: "import { createRequire as __shoalCreateRequire } from 'node:module'; const require = __shoalCreateRequire(import.meta.url);" },
    metafile: opts.metafile ?? false,
  })
  return result.metafile
}

/**
 * Two source patterns that break inside a bundle, rewritten as esbuild loads them:
 * - import(`./commands/${file}`): esbuild makes a table of the files it finds, keyed by
 *   their real names (status.ts), while the CLI asks for status.js (NodeNext style);
 * - `import.meta.url === pathToFileURL(process.argv[1]).href` main guards: every module of
 *   a bundle shares the bundle's URL, so each guarded main would run. They become false.
 */
const bundleSafeSources: Plugin = {
  name: 'bundle-safe-sources',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const src = await readFile(args.path, 'utf8')
      const globImport = /import\(`([^`$]*)\$\{(\w+)\}`\)/g
      const mainGuard = /import\.meta\.url\s*===\s*pathToFileURL\(process\.argv\[1\][^)]*\)\.href/g
      if (!globImport.test(src) && !mainGuard.test(src)) return undefined
      const contents = src
        .replace(globImport, "import(`$1${$2.replace(/\\.js$/, '.ts')}`)")
        .replace(mainGuard, 'false /* main guard disabled in the bundle */')
      return { contents, loader: 'ts' }
    })
  },
}

/**
 * Copies `names` and everything they depend on (dependencies, and optional ones that are
 * installed) from `fromModules` to `toModules`, whole package directories.
 */
export async function copyPackages(names: readonly string[], fromModules: string, toModules: string): Promise<string[]> {
  const seen = new Set<string>()
  const queue = names.filter((n) => existsSync(join(fromModules, n)))
  while (queue.length > 0) {
    const name = queue.shift()!
    if (seen.has(name)) continue
    seen.add(name)
    const pkg = JSON.parse(await readFile(join(fromModules, name, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>
      optionalDependencies?: Record<string, string>
    }
    for (const dep of [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]) {
      if (!seen.has(dep) && existsSync(join(fromModules, dep))) queue.push(dep)
    }
  }
  await mkdir(toModules, { recursive: true })
  for (const name of seen) {
    await cp(join(fromModules, name), join(toModules, name), { recursive: true, dereference: true, filter: keepForLinuxX64 })
  }
  return [...seen].sort()
}

/** Drops sources and prebuilt addons for other platforms (node-pty alone carries 58 MB of them). */
function keepForLinuxX64(src: string): boolean {
  const m = /\/prebuilds\/([^/]+)/.exec(src)
  if (m && !m[1]!.startsWith(`${process.platform}-${process.arch}`)) return false
  return !/\/(deps|third_party|src|obj\.target|\.deps|test|tests|docs?)(\/|$)/.test(src.slice(src.lastIndexOf('node_modules/')))
}
