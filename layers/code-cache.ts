/**
 * A program shipped as one CommonJS bundle plus a V8 code cache made at image build time,
 * and a small loader that starts it. Why: compiling JavaScript was a fifth of the agent's
 * start CPU, module resolution and the ESM loader another third (docs/boot.md, "The
 * agent's start"). One CommonJS file needs neither resolution nor the ESM loader, and a code
 * cache (`vm.Script` `cachedData`) skips most compilation. A startup snapshot was tried and
 * rejected: an 11.7 MB blob that cost more to deserialise than it saved.
 *
 * Files, for a program NAME in a directory DIR:
 *   DIR/NAME.cjs              the loader (what the service runs: `node DIR/NAME.cjs ARGS`)
 *   DIR/NAME.bundle.cjs       the program, bundled; its entry exports `main(argv): Promise<number>`
 *   DIR/NAME.bundle.cjs.v8cache  the code cache
 *   DIR/NAME.side-PKG.cjs(.v8cache)  each side bundle and its cache (sideBundles)
 *
 * V8 accepts a cache only from the same V8 version, the same source and the same V8 flags
 * (every non-default V8 flag is hashed into it, --max-semi-space-size too). The cache is
 * therefore made by the loader itself, in a node started with the very flags the service uses
 * (`nodeFlags`), taking the same steps as at every start (loaderSource). When V8 rejects the cache anyway (another node
 * on the machine, other flags), the loader compiles the source as usual: the program starts
 * normally, a little slower, and says so once (agent/code-cache-status.ts).
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readFile, rename, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { basename, dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { CODE_CACHE_STATUS } from '../agent/code-cache-status.js'
import { bundle, SIDE_PREFIX } from './bundle.js'
import { put } from './stage.js'

const run = promisify(execFile)


export interface CodeCacheBundleOptions {
  /** A TypeScript entry that exports `main(argv: string[]): Promise<number>` (the exit code). */
  entry: string
  /** The directory the three files go to. */
  dir: string
  /** The program's name: DIR/NAME.cjs is the loader. */
  name: string
  /** Packages left as require() calls (natives); copy them beside with copyPackages. */
  external?: readonly string[]
  /** The node flags the program will run with (the cache is valid only for these). */
  nodeFlags?: readonly string[]
  /** The node binary that makes the cache: the same as the one that runs the program. Default this process's. */
  nodeBinary?: string
  /** Skip making the cache (a bundle and loader only; the bench's "bundle without cache"). */
  noCache?: boolean
  /**
   * Keep made caches here (.cache), keyed by the bundle, the flags and the node binary. V8's
   * cache differs from run to run; reusing it for an unchanged bundle keeps an unchanged
   * layer's tree (and so its SquashFS image and version) the same from build to build.
   */
  reuseDir?: string
  /** Also write the bundle's source map (BundleOptions.sourcemap). */
  sourcemap?: boolean
  /**
   * node's built-ins the program loads soon after its top level (the loader loads them up front
   * with those the top level loads, while node's code cache of them is valid: loaderSource).
   */
  builtins?: readonly string[]
  /**
   * Packages the program needs late or rarely, shipped as bundles of their own, each with its own
   * code cache, compiled on first require (layers/bundle.ts sidePackages). Every start reads and
   * deserialises the main bundle and its cache whole (~8 ms per MB of source and ~20 ms per MB of
   * cache on this host), so what the first seconds never run is cheaper beside it; and unlike a
   * package left in node_modules, its first use does not compile it from source. Only leaf
   * packages that share no state with the rest (the side bundle has its own copy of everything
   * it imports): undici for the agent.
   */
  sideBundles?: readonly string[]
}

export interface CodeCacheBundle {
  loader: string
  bundle: string
  cache: string | undefined
  bundleBytes: number
  cacheBytes: number
  /** Per side bundle: its file and the sizes of it and its cache. */
  sides: { pkg: string; bundle: string; bundleBytes: number; cacheBytes: number }[]
}

/** A side bundle's file name in DIR (a scoped package's slash becomes +). */
export function sideBundleName(name: string, pkg: string): string {
  return `${name}.side-${pkg.replace('/', '+')}.cjs`
}

/** Where each of NAME's files lives in DIR. */
export function codeCachePaths(dir: string, name: string): { loader: string; bundle: string; cache: string } {
  const bundle = join(dir, `${name}.bundle.cjs`)
  return { loader: join(dir, `${name}.cjs`), bundle, cache: `${bundle}.v8cache` }
}

/** Bundles `entry` as CommonJS, writes the loader beside it and makes the code cache. */
export async function bundleWithCodeCache(opts: CodeCacheBundleOptions): Promise<CodeCacheBundle> {
  const paths = codeCachePaths(opts.dir, opts.name)
  const sidePkgs = opts.sideBundles ?? []
  const meta = await bundle({ entry: opts.entry, outFile: paths.bundle, external: opts.external, format: 'cjs', metafile: true, sourcemap: opts.sourcemap, sidePackages: sidePkgs })
  const bundleBytes = Object.entries(meta!.outputs).find(([f]) => f.endsWith('.cjs'))?.[1].bytes ?? 0
  const bundleName = `${opts.name}.bundle.cjs`
  // Each side package bundled from its own entry point, as resolved from the program's entry.
  const sideFiles: Record<string, string> = {}
  for (const pkg of sidePkgs) {
    sideFiles[pkg] = sideBundleName(opts.name, pkg)
    await bundle({ entry: createRequire(opts.entry).resolve(pkg), outFile: join(opts.dir, sideFiles[pkg]), external: opts.external, format: 'cjs' })
  }
  const sideSizes = async (withCache: boolean) =>
    Promise.all(sidePkgs.map(async (pkg) => ({ pkg, bundle: join(opts.dir, sideFiles[pkg]!), bundleBytes: (await stat(join(opts.dir, sideFiles[pkg]!))).size, cacheBytes: withCache ? (await stat(join(opts.dir, `${sideFiles[pkg]}.v8cache`))).size : 0 })))
  await put(opts.dir, `${opts.name}.cjs`, loaderSource(bundleName, [], sideFiles))
  if (opts.noCache) return { loader: paths.loader, bundle: paths.bundle, cache: undefined, bundleBytes, cacheBytes: 0, sides: await sideSizes(false) }
  const flags = opts.nodeFlags ?? []
  const node = opts.nodeBinary ?? process.execPath
  let made: MadeCodeCache
  if (opts.reuseDir) {
    const st = await stat(node)
    const hash = createHash('sha256').update(await readFile(paths.bundle)).update(loaderSource(bundleName, [], sideFiles))
    for (const pkg of sidePkgs) hash.update(await readFile(join(opts.dir, sideFiles[pkg]!)))
    const key = hash.update(JSON.stringify([flags, node, st.size, st.mtimeMs])).digest('hex').slice(0, 24)
    const kept = join(opts.reuseDir, 'code-cache', `${opts.name}-${key}.v8cache`)
    const keptSide = (pkg: string) => `${kept}.${sideFiles[pkg]}.v8cache`
    if (!existsSync(kept) || !existsSync(`${kept}.builtins.json`) || !sidePkgs.every((p) => existsSync(keptSide(p)))) {
      await mkdir(dirname(kept), { recursive: true })
      const m = await makeCodeCache(paths.loader, `${kept}.tmp${process.pid}`, flags, node)
      // The loader wrote each side bundle's cache beside it.
      for (const pkg of sidePkgs) await copyFile(join(opts.dir, `${sideFiles[pkg]}.v8cache`), keptSide(pkg))
      await put(dirname(kept), `${basename(kept)}.builtins.json`, JSON.stringify(m.builtins) + '\n')
      await rename(`${kept}.tmp${process.pid}`, kept)
    }
    await copyFile(kept, paths.cache)
    for (const pkg of sidePkgs) await copyFile(keptSide(pkg), join(opts.dir, `${sideFiles[pkg]}.v8cache`))
    made = { bytes: (await stat(kept)).size, builtins: JSON.parse(await readFile(`${kept}.builtins.json`, 'utf8')) as string[] }
  } else {
    made = await makeCodeCache(paths.loader, paths.cache, flags, node)
  }
  await put(opts.dir, `${opts.name}.cjs`, loaderSource(bundleName, [...new Set([...made.builtins, ...(opts.builtins ?? [])])], sideFiles))
  return { loader: paths.loader, bundle: paths.bundle, cache: paths.cache, bundleBytes, cacheBytes: made.bytes, sides: await sideSizes(true) }
}

export interface MadeCodeCache {
  /** The cache's size in bytes. */
  bytes: number
  /** node's built-in modules the bundle's top level loaded (the loader loads them first: see loaderSource). */
  builtins: string[]
}

/** The environment variable that makes the loader write its bundle's code cache to a file instead of running main. */
export const MAKE_CODE_CACHE_ENV = 'SHOAL_MAKE_CODE_CACHE'

/**
 * Runs the loader in its cache-making mode, in a node with the program's flags: the loader
 * prepares V8 exactly as it will at every start, compiles the bundle, runs its top level
 * (every module's initialisation: what each start compiles) without calling main, and writes
 * V8's cache of everything compiled so far, and which of node's built-ins the top level loaded.
 */
export async function makeCodeCache(loaderFile: string, cacheFile: string, nodeFlags: readonly string[], nodeBinary: string): Promise<MadeCodeCache> {
  const { stdout, stderr } = await run(nodeBinary, [...nodeFlags, loaderFile], { cwd: dirname(loaderFile), timeout: 120_000, env: { ...process.env, [MAKE_CODE_CACHE_ENV]: cacheFile } })
  // A warm-up that failed (the cache is then smaller, still valid) says so here, at build time.
  if (stderr.trim()) process.stderr.write(stderr)
  const made = JSON.parse(stdout.trim().split('\n').pop()!) as MadeCodeCache
  return made
}

/**
 * V8 flags that the loader takes back before node loads its built-in modules. node ships a
 * code cache of its built-ins made with V8's default flags, and V8 accepts a cache only under
 * the flags it was made with: the agent's `--no-opt` and `--max-semi-space-size=1` made node
 * compile every built-in the agent loads (http, net, crypto, streams, child_process, ...) from
 * source, 12 of them ~47 ms of CPU instead of ~18 ms here.
 * - heap sizes are read once, when V8 sets up the heap: back to their defaults, they keep their
 *   effect (a 1 MB semi-space stays 1 MB) and leave the flag hash;
 * - `--no-opt` acts at run time: turned off while the built-ins load, on again before the bundle
 *   is compiled (a handful of built-ins' top levels run with the optimiser allowed).
 * Flags not listed here stay as given (node's cache for its built-ins is then refused: slower,
 * nothing else).
 */
const HEAP_SETUP_FLAGS = /^--(max|min)[-_]semi[-_]space[-_]size=\d+$/
const RUNTIME_FLAGS: Record<string, string> = { '--no-opt': '--opt', '--no-turbofan': '--turbofan' }

/**
 * The loader: plain CommonJS with node's built-ins only, so starting it costs no module
 * resolution. It takes back the V8 flags above, loads the built-ins the bundle's top level
 * needs (`builtins`, recorded when the cache was made) while node's own code cache for them
 * is valid, puts the run-time flags back, compiles the bundle with its cache, runs it as a
 * module whose require() resolves beside the bundle (the natives' node_modules), and calls
 * its main. With MAKE_CODE_CACHE_ENV set it writes the cache instead (makeCodeCache): the same
 * steps, so V8 sees the same flags when it makes the cache as when it checks it; before it
 * does, it calls the bundle's `warmCodeCache()` if it exports one (what the program loads only
 * on demand, evaluated so that the cache holds its code too).
 */
export function loaderSource(bundleName: string, builtins: readonly string[] = [], sides: Readonly<Record<string, string>> = {}): string {
  return `'use strict'
// Generated by layers/code-cache.ts: starts ${bundleName} with its V8 code cache, or without it when V8 rejects the cache.
const v8 = require('v8')
const again = []
for (const a of process.execArgv) {
  if (${HEAP_SETUP_FLAGS}.test(a)) v8.setFlagsFromString(a.replace(/=\\d+$/, '=0'))
  else if (Object.hasOwn(${JSON.stringify(RUNTIME_FLAGS)}, a)) { v8.setFlagsFromString(${JSON.stringify(RUNTIME_FLAGS)}[a]); again.push(a) }
}
const { readFileSync, writeFileSync } = require('fs'), { join } = require('path'), vm = require('vm'), Module = require('module')
for (const id of ${JSON.stringify(builtins)}) require(id)
for (const a of again) v8.setFlagsFromString(a)
const file = join(__dirname, ${JSON.stringify(bundleName)})
const make = process.env[${JSON.stringify(MAKE_CODE_CACHE_ENV)}]
// A bundle's source compiled with its cache (none when making caches); latin1: bundles are ASCII (layers/bundle.ts), and this skips decoding UTF-8.
function compile(f) {
  let cachedData
  if (!make) try { cachedData = readFileSync(f + '.v8cache') } catch {}
  const script = new vm.Script(Module.wrap(readFileSync(f, 'latin1')), { filename: f, cachedData, importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER })
  return { script, status: cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted' }
}
// Runs a compiled bundle as a module whose require() resolves beside the bundles (the natives' node_modules) and answers side packages.
function run(script, f) {
  const m = new Module(f, module)
  m.filename = f
  m.paths = Module._nodeModulePaths(__dirname)
  script.runInThisContext().call(m.exports, m.exports, bundleRequire, m, f, __dirname)
  return m.exports
}
// Side bundles (layers/bundle.ts sidePackages): compiled with their own cache on first require.
const sides = ${JSON.stringify(sides)}, sideLoaded = new Map(), sideStatus = globalThis[Symbol.for(${JSON.stringify(`${CODE_CACHE_STATUS}.sides`)})] = {}
const baseRequire = Module.createRequire(file)
const bundleRequire = Object.assign(function require(id) {
  const pkg = typeof id === 'string' && id.startsWith(${JSON.stringify(SIDE_PREFIX)}) ? id.slice(${SIDE_PREFIX.length}) : undefined
  if (pkg === undefined || !Object.hasOwn(sides, pkg)) return baseRequire(id)
  let side = sideLoaded.get(pkg)
  if (!side) {
    const f = join(__dirname, sides[pkg])
    const { script, status } = compile(f)
    sideStatus[pkg] = status
    side = { script, exports: run(script, f) }
    sideLoaded.set(pkg, side)
  }
  return side.exports
}, baseRequire)
const { script, status } = compile(file)
globalThis[Symbol.for(${JSON.stringify(CODE_CACHE_STATUS)})] = status
const loaded = new Set(process.moduleLoadList)
const exp = run(script, file)
if (make) {
  // Built-ins the top level loaded; then what the program loads later, on demand (its warmCodeCache), for the cache only.
  const builtins = process.moduleLoadList.filter((x) => !loaded.has(x) && x.startsWith('NativeModule ')).map((x) => x.slice(13)).filter((id) => Module.builtinModules.includes(id))
  Promise.resolve(exp.warmCodeCache && exp.warmCodeCache()).then(() => {
    const data = script.createCachedData()
    writeFileSync(make, data)
    // Each side bundle's cache beside it: what the warm-up ran of it, or its top level.
    for (const pkg of Object.keys(sides)) {
      bundleRequire(${JSON.stringify(SIDE_PREFIX)} + pkg)
      writeFileSync(join(__dirname, sides[pkg]) + '.v8cache', sideLoaded.get(pkg).script.createCachedData())
    }
    process.stdout.write(JSON.stringify({ bytes: data.length, builtins }) + '\\n')
    process.exit(0)
  }, (err) => { process.stderr.write((err && err.stack || String(err)) + '\\n'); process.exit(1) })
} else exp.main(process.argv.slice(2)).then((code) => process.exit(code), (err) => { process.stderr.write((err && err.stack || String(err)) + '\\n'); process.exit(1) })
`
}
