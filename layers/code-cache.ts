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
 * (flags that change code generation, such as --no-opt or --jitless, are hashed into it).
 * The cache is therefore made by running the bundle's top level in a node started with the
 * very flags the service uses (`nodeFlags`). When V8 rejects the cache anyway (another node
 * on the machine, other flags), the loader compiles the source as usual: the program starts
 * normally, a little slower, and says so once (agent/code-cache-status.ts).
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, readFile, rename, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
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
  const meta = await bundle({ entry: opts.entry, outFile: paths.bundle, external: opts.external, format: 'cjs', metafile: true })
  const bundleBytes = Object.values(meta!.outputs)[0]?.bytes ?? 0
  await put(opts.dir, `${opts.name}.cjs`, loaderSource(`${opts.name}.bundle.cjs`))
  if (opts.noCache) return { loader: paths.loader, bundle: paths.bundle, cache: undefined, bundleBytes, cacheBytes: 0 }
  const flags = opts.nodeFlags ?? []
  const node = opts.nodeBinary ?? process.execPath
  let cacheBytes: number
  if (opts.reuseDir) {
    const st = await stat(node)
    const key = createHash('sha256').update(await readFile(paths.bundle)).update(JSON.stringify([flags, node, st.size, st.mtimeMs])).digest('hex').slice(0, 24)
    const kept = join(opts.reuseDir, 'code-cache', `${opts.name}-${key}.v8cache`)
    if (!existsSync(kept)) {
      await mkdir(dirname(kept), { recursive: true })
      await makeCodeCache(paths.bundle, `${kept}.tmp${process.pid}`, flags, node)
      await rename(`${kept}.tmp${process.pid}`, kept)
    }
    await copyFile(kept, paths.cache)
    cacheBytes = (await stat(kept)).size
  } else {
    cacheBytes = await makeCodeCache(paths.bundle, paths.cache, flags, node)
  }
  return { loader: paths.loader, bundle: paths.bundle, cache: paths.cache, bundleBytes, cacheBytes }
}

/**
 * Runs the bundle's top level (every module's initialisation: what each start compiles)
 * without calling main, in a node with the program's flags, and writes V8's cache of
 * everything compiled so far. Returns its size in bytes.
 */
export async function makeCodeCache(bundleFile: string, cacheFile: string, nodeFlags: readonly string[], nodeBinary: string): Promise<number> {
  const script = `
const { readFileSync, writeFileSync } = require('fs'), vm = require('vm'), Module = require('module')
const [bundle, out] = process.argv.slice(-2)
const s = new vm.Script(Module.wrap(readFileSync(bundle, 'latin1')), { filename: bundle, importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER })
const m = new Module(bundle, module); m.filename = bundle; m.paths = Module._nodeModulePaths(require('path').dirname(bundle))
s.runInThisContext().call(m.exports, m.exports, Module.createRequire(bundle), m, bundle, require('path').dirname(bundle))
const data = s.createCachedData(); writeFileSync(out, data); process.stdout.write(String(data.length))
process.exit(0)
`
  const { stdout } = await run(nodeBinary, [...nodeFlags, '-e', script, '--', bundleFile, cacheFile], { cwd: dirname(bundleFile), timeout: 120_000 })
  return Number(stdout)
}

/**
 * The loader: plain CommonJS with node's built-ins only, so starting it costs no module
 * resolution. It compiles the bundle with the cache, runs it as a module whose require()
 * resolves beside the bundle (the natives' node_modules), and calls its main.
 */
export function loaderSource(bundleName: string): string {
  return `'use strict'
// Generated by layers/code-cache.ts: starts ${bundleName} with its V8 code cache, or without it when V8 rejects the cache.
const { readFileSync } = require('fs'), { join } = require('path'), vm = require('vm'), Module = require('module')
const file = join(__dirname, ${JSON.stringify(bundleName)})
let cachedData
try { cachedData = readFileSync(file + '.v8cache') } catch {}
// latin1: the bundle is ASCII (layers/bundle.ts), and this skips decoding UTF-8.
const script = new vm.Script(Module.wrap(readFileSync(file, 'latin1')), { filename: file, cachedData, importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER })
globalThis[Symbol.for(${JSON.stringify(CODE_CACHE_STATUS)})] = cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted'
const m = new Module(file, module)
m.filename = file
m.paths = Module._nodeModulePaths(__dirname)
script.runInThisContext().call(m.exports, m.exports, Module.createRequire(file), m, file, __dirname)
m.exports.main(process.argv.slice(2)).then((code) => process.exit(code), (err) => { process.stderr.write((err && err.stack || String(err)) + '\\n'); process.exit(1) })
`
}
