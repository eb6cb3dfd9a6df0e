// The `shoal` CLI's bundle cache (see docs/cli-start.md). Plain JavaScript on purpose: it runs
// before any TypeScript loader, on every invocation, so it must cost a few milliseconds.
//
// <cache>/shoal.mjs      the CLI (cli/main.ts) bundled by layers/bundle.ts
// <cache>/manifest.json  what it was built from: every input file with its mtime and size,
//                        and the bundle's own inode/mtime/size (so a bundle renamed in by a
//                        concurrent build never passes for the one the manifest describes)
// <cache>/<companions>   files sources find beside themselves via new URL('./x', import.meta.url)
//
// Fresh = every input still has its recorded mtime and size (one stat each). Anything else
// (missing, corrupt, an input changed, added or deleted) means: build again. Every file is
// written to a temp name and renamed, so concurrent builds never leave a torn file.
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, accessSync, constants, lstatSync } from 'node:fs'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const ENTRY = 'cli/main.ts'
/** Files that shape the bundle without being its inputs: the bundler, its config, this file. */
const BUILD_INPUTS = ['layers/bundle.ts', 'bin/cli-cache.js', 'tsconfig.json', 'package.json', 'node_modules/esbuild/package.json']
const MANIFEST_VERSION = 1

/** SHOAL_CLI_CACHE, else <checkout>/.cache/cli. */
export function cacheDir(env = process.env) {
  return env.SHOAL_CLI_CACHE ? resolve(env.SHOAL_CLI_CACHE) : join(repoRoot, '.cache/cli')
}

/** One line on stderr, only when SHOAL_DEBUG is set. */
export function debug(msg) {
  if (process.env.SHOAL_DEBUG) process.stderr.write(`shoal: ${msg}\n`)
}

/** The bundle's path when it is fresh, else undefined. Never throws. */
export function freshBundle(dir = cacheDir()) {
  const file = join(dir, 'shoal.mjs')
  let m
  try {
    m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))
  } catch {
    return undefined
  }
  if (m?.version !== MANIFEST_VERSION || m.root !== repoRoot || !Array.isArray(m.inputs) || !m.bundle) return undefined
  const b = statSync(file, { throwIfNoEntry: false })
  if (!b || b.ino !== m.bundle.ino || b.mtimeMs !== m.bundle.mtimeMs || b.size !== m.bundle.size) return undefined
  for (const [path, mtimeMs, size] of m.inputs) {
    const s = statSync(isAbsolute(path) ? path : join(repoRoot, path), { throwIfNoEntry: false })
    if (!s || s.mtimeMs !== mtimeMs || s.size !== size) return undefined
  }
  return file
}

let tsxRegistered = false
/** Registers tsx once per process (the build needs it for layers/bundle.ts; so does the fallback). */
export async function registerTsx() {
  if (tsxRegistered) return
  const { register } = await import('tsx/esm/api')
  register()
  tsxRegistered = true
}

/** Builds the bundle into `dir` and returns its path. Throws on any failure (the caller falls back). */
export async function buildBundle(dir = cacheDir()) {
  // Fail fast on an unwritable cache, before spending a second in esbuild.
  mkdirSync(dir, { recursive: true })
  accessSync(dir, constants.W_OK)
  const file = join(dir, 'shoal.mjs')
  const tag = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`
  const tmp = (name) => join(dir, `.${name}.${tag}.tmp`)
  const tmpBundle = join(dir, `.shoal.${tag}.tmp.mjs`)
  const startedMs = Date.now()
  try {
    await registerTsx()
    const { bundle, NATIVE_PACKAGES } = await import('../layers/bundle.ts')
    // Natives stay external: from <checkout>/.cache/cli they resolve in the checkout's node_modules.
    const meta = await bundle({ entry: join(repoRoot, ENTRY), outFile: tmpBundle, external: NATIVE_PACKAGES, metafile: true, logLevel: 'silent' })
    if (!meta) throw new Error('esbuild returned no metafile')
    const inputPaths = new Set(BUILD_INPUTS.map((p) => join(repoRoot, p)))
    for (const p of Object.keys(meta.inputs)) inputPaths.add(resolve(p)) // relative to esbuild's cwd = ours
    const inputs = []
    const companions = new Set()
    for (const abs of inputPaths) {
      const s = statSync(abs, { throwIfNoEntry: false })
      if (!s) continue // a virtual input (esbuild runtime, a define)
      // Changed while esbuild ran: the bundle may hold the old text, so record it as stale.
      const mtimeMs = s.mtimeMs >= startedMs ? -1 : s.mtimeMs
      const rel = relative(repoRoot, abs)
      inputs.push([rel.startsWith('..') ? abs : rel, mtimeMs, s.size])
      if (abs.endsWith('.ts') && !abs.includes('/node_modules/')) {
        for (const c of companionFiles(abs)) companions.add(c)
      }
    }
    for (const c of companions) {
      const s = statSync(c)
      copyFileSync(c, tmp('companion'))
      inputs.push([relative(repoRoot, c), s.mtimeMs >= startedMs ? -1 : s.mtimeMs, s.size])
      renameSync(tmp('companion'), join(dir, c.slice(c.lastIndexOf('/') + 1)))
    }
    linkNodeModules(dir, tmp('node_modules'))
    const b = statSync(tmpBundle)
    const manifest = { version: MANIFEST_VERSION, root: repoRoot, builtAt: new Date(startedMs).toISOString(), bundle: { ino: b.ino, mtimeMs: b.mtimeMs, size: b.size }, inputs }
    writeFileSync(tmp('manifest'), JSON.stringify(manifest))
    renameSync(tmpBundle, file) // bundle first: a manifest never names a bundle that is not there yet
    renameSync(tmp('manifest'), join(dir, 'manifest.json'))
    debug(`built ${file} from ${inputs.length} inputs in ${Date.now() - startedMs} ms`)
    return file
  } finally {
    for (const p of [tmpBundle, tmp('manifest'), tmp('companion'), tmp('node_modules')]) rmSync(p, { force: true })
  }
}

/** Files a source locates beside itself at run time: new URL('./name', import.meta.url). */
function companionFiles(source) {
  const text = readFileSync(source, 'utf8')
  if (!text.includes('import.meta.url')) return []
  const out = []
  for (const m of text.matchAll(/new URL\(\s*['"]\.\/([^'"/]+)['"]\s*,\s*import\.meta\.url\s*\)/g)) {
    const f = join(dirname(source), m[1])
    if (statSync(f, { throwIfNoEntry: false })?.isFile()) out.push(f)
  }
  return out
}

/**
 * A cache outside the checkout (SHOAL_CLI_CACHE=/tmp/...) cannot find the external natives by
 * walking up to node_modules, so it gets a node_modules symlink to the checkout's.
 */
function linkNodeModules(dir, tmpLink) {
  if (!relative(repoRoot, dir).startsWith('..')) return
  const link = join(dir, 'node_modules')
  if (lstatSync(link, { throwIfNoEntry: false })) return
  symlinkSync(join(repoRoot, 'node_modules'), tmpLink)
  renameSync(tmpLink, link)
}
