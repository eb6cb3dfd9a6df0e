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

/**
 * Natives whose JavaScript is bundled all the same, only their addon loaded from the copied
 * package: both find it with require-addon, which resolved it through four packages
 * (bare-addon-resolve, bare-module-resolve, bare-semver…) of files read and compiled on
 * every start, outside the bundle and its code cache. Their `binding.js` becomes a direct
 * require of prebuilds/PLATFORM-ARCH/NAME.node, and falls back to the package's own
 * binding.js (require-addon's search) when that file is not there.
 */
const DIRECT_ADDONS = ['udx-native', 'sodium-native'] as const

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
  /**
   * 'esm' (default) or 'cjs': one CommonJS file for the code-cache loader (layers/code-cache.ts),
   * which needs neither node's module resolution nor its ESM loader. CommonJS has no top-level
   * await, and `import.meta.url` becomes the bundle file's own URL.
   */
  format?: 'esm' | 'cjs'
  /** Also write OUTFILE.map (external: the bundle's bytes, and so its code cache, stay the same), to attribute CPU profiles to modules. */
  sourcemap?: boolean
  /** Default true; false keeps each module's path as a comment (per-module CPU marks when profiling a start). */
  minify?: boolean
  /**
   * CommonJS only: packages left out of this bundle, each shipped as a bundle of its own that the
   * code-cache loader compiles, with its own code cache, on first require (layers/code-cache.ts
   * sideBundles). Every import of one, static or dynamic, becomes `require(SIDE_PREFIX + name)`.
   */
  sidePackages?: readonly string[]
}

/** What an import of a side package becomes in the main bundle: the code-cache loader's require answers it. */
export const SIDE_PREFIX = 'shoal-side:'

/**
 * Build-time settings every bundle shares. msgpackr without its native string extractor
 * (msgpackr-extract): loading the addon cost ~20 ms of every start, and for the mesh's
 * small frames the pure-JS decoder was as fast or faster here (bench/decode.ts: a gossip
 * frame 4.8 µs without it, 20 µs with it).
 */
const SHARED_DEFINE: Record<string, string> = { 'process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED': '"true"' }

export async function bundle(opts: BundleOptions): Promise<Metafile | undefined> {
  const cjs = opts.format === 'cjs'
  const result = await build({
    entryPoints: [opts.entry],
    outfile: opts.outFile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: cjs ? 'cjs' : 'esm',
    external: externals(opts.external ?? []),
    define: { ...SHARED_DEFINE, ...(cjs ? { 'import.meta.url': '__shoalImportMeta.url' } : {}), ...opts.define },
    plugins: [bundleSafeSources, deferredRequires, leanZod, directAddons(opts.external ?? []), ...(opts.sidePackages?.length ? [sidePackages(opts.sidePackages)] : [])],
    // ASCII only (non-ASCII escaped): the loader reads the file as latin1, several times
    // cheaper than decoding UTF-8 into a two-byte string.
    charset: 'ascii',
    // Smaller source parses faster: under TCG emulation node spends seconds parsing a bundle.
    minify: opts.minify ?? true,
    keepNames: true,
    legalComments: 'none',
    logLevel: opts.logLevel ?? 'error',
    // ESM: CommonJS dependencies call require(); give the bundle a real one. CJS: what import.meta.url stands for.
    banner: {
      js: cjs
        ? // A getter: pathToFileURL cost ~2-4 ms of every start, for a value the agent reads only later, if at all.
          'var __shoalImportMeta = { get url() { return require("url").pathToFileURL(__filename).href } };'
        : "import { createRequire as __shoalCreateRequire } from 'node:module'; const require = __shoalCreateRequire(import.meta.url);",
    },
    metafile: opts.metafile ?? false,
    ...(opts.sourcemap ? { sourcemap: 'external' as const } : {}),
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

/** The external list esbuild gets: DIRECT_ADDONS bundled, only their addon files and own binding.js left outside. */
function externals(external: readonly string[]): string[] {
  const direct = DIRECT_ADDONS.filter((p) => external.includes(p))
  return [...external.filter((p) => !(direct as string[]).includes(p)), ...direct.flatMap((p) => [`${p}/binding.js`, `${p}/prebuilds/*`])]
}

function directAddons(external: readonly string[]): Plugin {
  const direct = DIRECT_ADDONS.filter((p) => external.includes(p))
  return {
    name: 'direct-addons',
    setup(b) {
      for (const pkg of direct) {
        b.onLoad({ filter: new RegExp(`[\\\\/]${pkg}[\\\\/]binding\\.js$`) }, () => ({
          loader: 'js',
          contents: [
            'try {',
            `  module.exports = require(${JSON.stringify(`${pkg}/prebuilds/`)} + process.platform + '-' + process.arch + ${JSON.stringify(`/${pkg}.node`)})`,
            '} catch {',
            `  module.exports = require(${JSON.stringify(`${pkg}/binding.js`)})`,
            '}',
          ].join('\n'),
        }))
      }
    },
  }
}

/**
 * Imports of a side package resolve to a small module of this bundle that requires
 * `SIDE_PREFIX + name`, left external: `import('undici')` becomes a require the loader answers
 * (a dynamic import left as it is would go to node's ESM loader and node_modules instead).
 */
function sidePackages(names: readonly string[]): Plugin {
  const filter = new RegExp(`^(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`)
  return {
    name: 'side-packages',
    setup(b) {
      b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'shoal-side' }))
      b.onLoad({ filter: /.*/, namespace: 'shoal-side' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(SIDE_PREFIX + args.path)})`, loader: 'js' }))
      b.onResolve({ filter: new RegExp(`^${SIDE_PREFIX}`) }, (args) => ({ path: args.path, external: true }))
    },
  }
}

/**
 * Modules that packages load when they are loaded, for features the agent uses late or never;
 * each costs CPU at every start (measured on Node 20 with the agent's flags: node's `assert`
 * ~8 ms, `https` with tls ~4.5 ms, `zlib` ~2.3 ms, `cluster` ~1 ms). In a bundle, a require()
 * inside a function runs only when the function does, so these become getters or wrappers
 * that load the real thing on first use. What each package does is unchanged; the first
 * second skips them.
 * - pino: its transport machinery (thread-stream, worker threads, a module resolver), for
 *   the `transport` option the agent never uses;
 * - sonic-boom (pino's destination) and sodium-native: `assert(ok, message)`, which passes
 *   unless a caller passes bad arguments; node's assert loads only to throw its error;
 * - prom-client: the Pushgateway (http, https, zlib) and the cluster aggregator (cluster),
 *   neither of which an agent uses.
 */
/** `assert(ok, message)` that loads node's assert only to throw (both packages call it with one or two arguments). */
const LAZY_ASSERT = "const assert = (ok, message) => { if (!ok) require('assert')(ok, message) }"

const DEFERRED_REQUIRES: [file: RegExp, eager: string, lazy: string][] = [
  [/[\\/]pino[\\/]lib[\\/]tools\.js$/, "const transport = require('./transport')", "const transport = (...args) => require('./transport')(...args)"],
  [/[\\/]pino[\\/]pino\.js$/, "module.exports.transport = require('./lib/transport')", "Object.defineProperty(module.exports, 'transport', { get: () => require('./lib/transport'), enumerable: true, configurable: true })"],
  [/[\\/]sonic-boom[\\/]index\.js$/, "const assert = require('assert')", LAZY_ASSERT],
  [/[\\/]sodium-native[\\/]index\.js$/, "const assert = require('assert')", LAZY_ASSERT],
  [/[\\/]prom-client[\\/]index\.js$/, "exports.Pushgateway = require('./lib/pushgateway');", "Object.defineProperty(exports, 'Pushgateway', { get: () => require('./lib/pushgateway'), enumerable: true, configurable: true });"],
  [/[\\/]prom-client[\\/]index\.js$/, "exports.AggregatorRegistry = require('./lib/cluster');", "Object.defineProperty(exports, 'AggregatorRegistry', { get: () => require('./lib/cluster'), enumerable: true, configurable: true });"],
]

const deferredRequires: Plugin = {
  name: 'deferred-requires',
  setup(b) {
    const files = [...new Set(DEFERRED_REQUIRES.map(([f]) => f.source))].map((src) => new RegExp(src))
    for (const filter of files) {
      b.onLoad({ filter }, async (args) => {
        let src = await readFile(args.path, 'utf8')
        let changed = false
        for (const [f, eager, lazy] of DEFERRED_REQUIRES) {
          // Another version of the package: bundle it as it is (a slower start, nothing broken).
          if (f.source !== filter.source || !src.includes(eager)) continue
          src = src.replace(eager, lazy)
          changed = true
        }
        return changed ? { contents: src, loader: 'js' } : undefined
      })
    }
  },
}

/**
 * Two parts of zod that every bundle carried and evaluated at each start, for features shoal
 * never uses (nothing of ours calls z.locales or z.fromJSONSchema):
 * - its error messages in 48 languages (`z.locales`, 267 KB of the agent's 2.0 MB bundle);
 *   zod configures English itself, which stays, as `z.locales.en` too;
 * - `z.fromJSONSchema` (JSON Schema -> zod), whose module copies every schema and check
 *   constructor into an object when it loads (~3 ms of CPU at each start). It becomes a
 *   function that throws, saying so.
 */
const ZOD_ENGLISH = 'export { default as en } from "./en.js";'
const ZOD_NO_FROM_JSON_SCHEMA = `export function fromJSONSchema() {
  throw new Error("z.fromJSONSchema is left out of shoal's bundles (layers/bundle.ts, leanZod): import it from a checkout")
}
`
const leanZod: Plugin = {
  name: 'lean-zod',
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, async (args) => {
      const src = await readFile(args.path, 'utf8')
      // Another zod version: bundle it as it is.
      return src.includes(ZOD_ENGLISH) ? { contents: ZOD_ENGLISH, loader: 'js' } : undefined
    })
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]classic[\\/]from-json-schema\.js$/ }, async (args) => {
      const src = await readFile(args.path, 'utf8')
      return src.includes('export function fromJSONSchema(') ? { contents: ZOD_NO_FROM_JSON_SCHEMA, loader: 'js' } : undefined
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
