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
import { basename, dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { CODE_CACHE_STATUS } from '../agent/code-cache-status.js'
import { bundle } from './bundle.js'
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
}

export interface CodeCacheBundle {
  loader: string
  bundle: string
  cache: string | undefined
  bundleBytes: number
  cacheBytes: number
}

/** Where each of NAME's files lives in DIR. */
export function codeCachePaths(dir: string, name: string): { loader: string; bundle: string; cache: string } {
  const bundle = join(dir, `${name}.bundle.cjs`)
  return { loader: join(dir, `${name}.cjs`), bundle, cache: `${bundle}.v8cache` }
}

/** Bundles `entry` as CommonJS, writes the loader beside it and makes the code cache. */
export async function bundleWithCodeCache(opts: CodeCacheBundleOptions): Promise<CodeCacheBundle> {
  const paths = codeCachePaths(opts.dir, opts.name)
  const meta = await bundle({ entry: opts.entry, outFile: paths.bundle, external: opts.external, format: 'cjs', metafile: true, sourcemap: opts.sourcemap })
  const bundleBytes = Object.entries(meta!.outputs).find(([f]) => f.endsWith('.cjs'))?.[1].bytes ?? 0
  const bundleName = `${opts.name}.bundle.cjs`
  await put(opts.dir, `${opts.name}.cjs`, loaderSource(bundleName))
  if (opts.noCache) return { loader: paths.loader, bundle: paths.bundle, cache: undefined, bundleBytes, cacheBytes: 0 }
  const flags = opts.nodeFlags ?? []
  const node = opts.nodeBinary ?? process.execPath
  let made: MadeCodeCache
  if (opts.reuseDir) {
    const st = await stat(node)
    const key = createHash('sha256').update(await readFile(paths.bundle)).update(loaderSource(bundleName)).update(JSON.stringify([flags, node, st.size, st.mtimeMs])).digest('hex').slice(0, 24)
    const kept = join(opts.reuseDir, 'code-cache', `${opts.name}-${key}.v8cache`)
    if (!existsSync(kept) || !existsSync(`${kept}.builtins.json`)) {
      await mkdir(dirname(kept), { recursive: true })
      const m = await makeCodeCache(paths.loader, `${kept}.tmp${process.pid}`, flags, node)
      await put(dirname(kept), `${basename(kept)}.builtins.json`, JSON.stringify(m.builtins) + '\n')
      await rename(`${kept}.tmp${process.pid}`, kept)
    }
    await copyFile(kept, paths.cache)
    made = { bytes: (await stat(kept)).size, builtins: JSON.parse(await readFile(`${kept}.builtins.json`, 'utf8')) as string[] }
  } else {
    made = await makeCodeCache(paths.loader, paths.cache, flags, node)
  }
  await put(opts.dir, `${opts.name}.cjs`, loaderSource(bundleName, [...new Set([...made.builtins, ...(opts.builtins ?? [])])]))
  return { loader: paths.loader, bundle: paths.bundle, cache: paths.cache, bundleBytes, cacheBytes: made.bytes }
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
export function loaderSource(bundleName: string, builtins: readonly string[] = []): string {
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
let cachedData
if (!make) try { cachedData = readFileSync(file + '.v8cache') } catch {}
// latin1: the bundle is ASCII (layers/bundle.ts), and this skips decoding UTF-8.
const script = new vm.Script(Module.wrap(readFileSync(file, 'latin1')), { filename: file, cachedData, importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER })
globalThis[Symbol.for(${JSON.stringify(CODE_CACHE_STATUS)})] = cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted'
const m = new Module(file, module)
m.filename = file
m.paths = Module._nodeModulePaths(__dirname)
const loaded = new Set(process.moduleLoadList)
script.runInThisContext().call(m.exports, m.exports, Module.createRequire(file), m, file, __dirname)
if (make) {
  // Built-ins the top level loaded; then what the program loads later, on demand (its warmCodeCache), for the cache only.
  const builtins = process.moduleLoadList.filter((x) => !loaded.has(x) && x.startsWith('NativeModule ')).map((x) => x.slice(13)).filter((id) => Module.builtinModules.includes(id))
  Promise.resolve(m.exports.warmCodeCache && m.exports.warmCodeCache()).then(() => {
    const data = script.createCachedData()
    writeFileSync(make, data)
    process.stdout.write(JSON.stringify({ bytes: data.length, builtins }) + '\\n')
    process.exit(0)
  }, (err) => { process.stderr.write((err && err.stack || String(err)) + '\\n'); process.exit(1) })
} else m.exports.main(process.argv.slice(2)).then((code) => process.exit(code), (err) => { process.stderr.write((err && err.stack || String(err)) + '\\n'); process.exit(1) })
`
}
