import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { AGENT_NODE_FLAGS } from '../agent/node-flags.js'
import { bundleWithCodeCache } from './code-cache.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const run = promisify(execFile)

// A small program in the agent's shape: main(argv) -> exit code; it prints what the loader
// reported (agent/code-cache-status.ts) and where import.meta.url points inside the bundle.
const ENTRY = `
import { codeCacheStatus } from ${JSON.stringify(join(repoRoot, 'agent/code-cache-status.ts'))}
import { z } from 'zod'
const Args = z.array(z.string())
export async function main(argv: string[]): Promise<number> {
  const args = Args.parse(argv)
  process.stdout.write(JSON.stringify({ args, codeCache: codeCacheStatus(), url: import.meta.url }) + '\\n')
  return args.includes('fail') ? 3 : 0
}
`

// A program that loads a built-in at its top level, then allocates 64 MB of short-lived objects
// and runs a hot function: what its young generation grew to and whether V8 optimised tell
// whether the agent's --max-semi-space-size=1 and --no-opt still hold.
const FLAGS_ENTRY = `
import { createServer } from 'node:http'
import { getHeapSpaceStatistics } from 'node:v8'
import { codeCacheStatus } from ${JSON.stringify(join(repoRoot, 'agent/code-cache-status.ts'))}
export const server = createServer
function hot(i: number) { return { i, s: 'x' + i } }
export async function main(): Promise<number> {
  let keep: object[] = []
  for (let i = 0; i < 1_000_000; i++) { keep.push(hot(i)); if (keep.length > 20_000) keep = [] }
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size
  process.stdout.write(JSON.stringify({ codeCache: codeCacheStatus(), young }) + '\\n')
  return 0
}
`

// A program that needs a package late: shipped as a side bundle (sideBundles), required on first use.
const SIDE_ENTRY = `
import { codeCacheStatus, sideCodeCacheStatus } from ${JSON.stringify(join(repoRoot, 'agent/code-cache-status.ts'))}
export async function main(argv: string[]): Promise<number> {
  const before = sideCodeCacheStatus()
  const { default: bogon } = await import('bogon')
  const { isBogon } = await import('bogon')
  process.stdout.write(JSON.stringify({ before, after: sideCodeCacheStatus(), main: codeCacheStatus(), same: bogon.isBogon === isBogon, answers: argv.map((ip) => isBogon(ip)) }) + '\\n')
  return 0
}
export async function warmCodeCache(): Promise<void> {
  const { isBogon } = await import('bogon')
  isBogon('10.0.0.1')
}
`

describe('a program shipped with a V8 code cache (layers/code-cache.ts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-code-cache-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  // The entry sits in the checkout so that zod resolves; the program runs from a bare directory.
  const entryDir = mkdtempSync(join(repoRoot, '.cache', 'code-cache-test-'))
  afterAll(() => rmSync(entryDir, { recursive: true, force: true }))
  const entry = join(entryDir, 'entry.ts')
  writeFileSync(entry, ENTRY)
  const start = (loader: string, args: string[], flags: string[] = []) => run(process.execPath, [...flags, loader, ...args], { timeout: 30_000 })

  it('starts with the cache V8 accepts, passes argv to main and exits with its code', async () => {
    const out = join(dir, 'a')
    const built = await bundleWithCodeCache({ entry, dir: out, name: 'prog', reuseDir: join(dir, 'reuse') })
    expect(built.cacheBytes).toBeGreaterThan(0)
    const { stdout } = await start(built.loader, ['x', 'y'])
    expect(JSON.parse(stdout)).toEqual({ args: ['x', 'y'], codeCache: 'accepted', url: `file://${built.bundle}` })
    await expect(start(built.loader, ['fail'])).rejects.toMatchObject({ code: 3 })
    // An unchanged bundle gets the same cache bytes again (an unchanged layer stays unchanged).
    const again = await bundleWithCodeCache({ entry, dir: join(dir, 'a2'), name: 'prog', reuseDir: join(dir, 'reuse') })
    expect(readFileSync(again.cache!).equals(readFileSync(built.cache!))).toBe(true)
  }, 60_000)

  it('ships a side package as a bundle of its own, with its own cache, loaded on first use', async () => {
    const sideEntry = join(entryDir, 'side-entry.ts')
    writeFileSync(sideEntry, SIDE_ENTRY)
    const reuse = join(dir, 'reuse-side')
    const built = await bundleWithCodeCache({ entry: sideEntry, dir: join(dir, 'side'), name: 'prog', sideBundles: ['bogon'], reuseDir: reuse })
    expect(built.sides).toEqual([expect.objectContaining({ pkg: 'bogon', bundle: join(dir, 'side', 'prog.side-bogon.cjs') })])
    expect(built.sides[0]!.cacheBytes).toBeGreaterThan(0)
    // Not in the main bundle: bogon's source (and its dependency's) is in the side bundle only.
    expect(readFileSync(built.bundle, 'latin1')).not.toContain('isPrivateIPv4')
    expect(readFileSync(built.sides[0]!.bundle, 'latin1')).toContain('isPrivateIPv4')
    const { stdout } = await start(built.loader, ['10.1.2.3', '8.8.8.8'])
    expect(JSON.parse(stdout)).toEqual({ before: {}, after: { bogon: 'accepted' }, main: 'accepted', same: true, answers: [true, false] })
    // Reused from reuseDir: the same bytes for the side's cache too.
    const again = await bundleWithCodeCache({ entry: sideEntry, dir: join(dir, 'side2'), name: 'prog', sideBundles: ['bogon'], reuseDir: reuse })
    expect(readFileSync(`${again.sides[0]!.bundle}.v8cache`).equals(readFileSync(`${built.sides[0]!.bundle}.v8cache`))).toBe(true)
    // A damaged side cache: compiled from source, same answers.
    writeFileSync(`${built.sides[0]!.bundle}.v8cache`, Buffer.alloc(1024, 0xab))
    expect(JSON.parse((await start(built.loader, ['10.1.2.3'])).stdout)).toMatchObject({ after: { bogon: 'rejected' }, answers: [true] })
  }, 60_000)

  it('falls back to compiling from source when V8 rejects the cache (other flags, garbage) or it is missing', async () => {
    const out = join(dir, 'b')
    // Made under --no-lazy-feedback-allocation, run without it: the V8 flag hash differs.
    const built = await bundleWithCodeCache({ entry, dir: out, name: 'prog', nodeFlags: ['--no-lazy-feedback-allocation'] })
    expect(JSON.parse((await start(built.loader, ['z'])).stdout)).toMatchObject({ args: ['z'], codeCache: 'rejected' })
    expect(JSON.parse((await start(built.loader, ['z'], ['--no-lazy-feedback-allocation'])).stdout)).toMatchObject({ codeCache: 'accepted' })
    writeFileSync(built.cache!, Buffer.alloc(2048, 0xab))
    expect(JSON.parse((await start(built.loader, ['z'])).stdout)).toMatchObject({ args: ['z'], codeCache: 'rejected' })
    rmSync(built.cache!)
    expect(JSON.parse((await start(built.loader, ['z'])).stdout)).toMatchObject({ args: ['z'], codeCache: 'absent' })
  }, 60_000)

  it("takes back the agent's heap and optimiser flags while node loads its built-ins, and their effect stays", async () => {
    const flagsEntry = join(entryDir, 'flags-entry.ts')
    writeFileSync(flagsEntry, FLAGS_ENTRY)
    const built = await bundleWithCodeCache({ entry: flagsEntry, dir: join(dir, 'c'), name: 'prog', nodeFlags: AGENT_NODE_FLAGS, builtins: ['dns'] })
    // The built-ins the top level loaded, and those named, are loaded first, while node's cache of them is valid.
    const preloaded = JSON.parse(/for \(const id of (\[[^\]]*\])\)/.exec(readFileSync(built.loader, 'utf8'))![1]!) as string[]
    expect(preloaded).toEqual(expect.arrayContaining(['http', 'dns']))
    expect(preloaded).not.toContain('zlib')
    const last = (out: string) => JSON.parse(out.trim().split('\n').pop()!) as { codeCache: string; young: number }
    const withFlags = last((await start(built.loader, [], [...AGENT_NODE_FLAGS])).stdout)
    expect(withFlags.codeCache).toBe('accepted')
    // --max-semi-space-size=1: two 1 MiB semi-spaces; without the flag the young generation grows past them.
    expect(withFlags.young).toBeLessThanOrEqual(2 * 1024 * 1024)
    expect(last((await start(built.loader, [])).stdout).young).toBeGreaterThan(2 * 1024 * 1024)
    // --no-opt holds after the loader put it back: V8 optimises nothing (and does without it).
    const optimised = (out: string) => out.split('\n').filter((l) => l.includes('completed optimizing')).length
    expect(optimised((await start(built.loader, [], [...AGENT_NODE_FLAGS, '--trace-opt'])).stdout)).toBe(0)
    expect(optimised((await start(built.loader, [], ['--max-semi-space-size=1', '--trace-opt'])).stdout)).toBeGreaterThan(0)
  }, 60_000)
})
