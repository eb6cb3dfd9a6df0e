/**
 * bin/shoal.js's bundle cache, run as real processes: the cached bundle is used while fresh,
 * rebuilt when a source changes, and any cache or bundle failure falls back to tsx with the
 * same output. The tests work on a temp copy of the checkout's sources (node_modules linked),
 * so they can edit a source without touching the shared tree, and never use .cache/cli.
 */
import { execFile } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const repoRoot = join(import.meta.dirname, '..')
const TIMEOUT_MS = 180_000 // a cold build is ~1 s of CPU; this machine is shared by many
let copy: string
let scratch: string

interface Run {
  code: number
  out: string
  err: string
}

async function shoal(env: Record<string, string>, ...argv: string[]): Promise<Run> {
  const base = { ...process.env }
  delete base.SHOAL_DEBUG
  delete base.SHOAL_CLI_BUNDLE
  delete base.SHOAL_CLI_CACHE
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(copy, 'bin/shoal.js'), ...argv], { cwd: copy, env: { ...base, ...env }, timeout: TIMEOUT_MS })
    return { code: 0, out: stdout, err: stderr }
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string }
    if (typeof err.code !== 'number') throw e
    return { code: err.code, out: err.stdout ?? '', err: err.stderr ?? '' }
  }
}

function bundleStamp(cache: string): string {
  const s = statSync(join(cache, 'shoal.mjs'))
  return `${s.ino}:${s.mtimeMs}:${s.size}`
}

let tsxHelp: Run
beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'shoal-cli-start-'))
  copy = join(scratch, 'checkout')
  for (const p of ['bin', 'cli', 'agent', 'coordinator', 'layers', 'tsconfig.json', 'package.json']) {
    cpSync(join(repoRoot, p), join(copy, p), { recursive: true, filter: (src) => !src.endsWith('.test.ts') })
  }
  symlinkSync(join(repoRoot, 'node_modules'), join(copy, 'node_modules'))
  tsxHelp = await shoal({ SHOAL_CLI_BUNDLE: '0' }, 'help')
}, TIMEOUT_MS)
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true })
})

describe('bin/shoal.js bundle cache', () => {
  it('builds once, then runs the cached bundle while its sources are unchanged, with the same output as tsx', async () => {
    const cache = join(scratch, 'cache-fresh')
    const first = await shoal({ SHOAL_CLI_CACHE: cache, SHOAL_DEBUG: '1' }, 'help')
    expect(first.err).toMatch(/^shoal: built .*shoal\.mjs from \d+ inputs/)
    expect(first.err).not.toMatch(/using tsx/)
    expect(first).toMatchObject({ code: 0, out: tsxHelp.out })
    expect(tsxHelp.out).toMatch(/fingerprint +this machine's node id/)
    const stamp = bundleStamp(cache)

    const second = await shoal({ SHOAL_CLI_CACHE: cache, SHOAL_DEBUG: '1' }, 'help')
    expect(second).toEqual({ code: 0, out: tsxHelp.out, err: '' }) // no build, no fallback
    expect(bundleStamp(cache)).toBe(stamp)

    // Exit codes and stderr pass through unchanged.
    const bad = await shoal({ SHOAL_CLI_CACHE: cache }, 'no-such-command')
    expect(bad).toEqual({ code: 2, out: '', err: 'error: unknown command "no-such-command" (see: shoal help)\n' })
    const fp = await shoal({ SHOAL_CLI_CACHE: cache }, 'fingerprint', '-o', 'json')
    expect(fp.code).toBe(0)
    expect(JSON.parse(fp.out).id).toMatch(/^[A-Za-z0-9._-]{1,64}$/)
    expect(bundleStamp(cache)).toBe(stamp)
  }, TIMEOUT_MS)

  it('rebuilds when a source it was built from changes, and runs the new code', async () => {
    const cache = join(scratch, 'cache-edit')
    await shoal({ SHOAL_CLI_CACHE: cache }, 'help')
    const stamp = bundleStamp(cache)
    const src = join(copy, 'cli/commands/lease.ts')
    const before = readFileSync(src, 'utf8')
    try {
      writeFileSync(src, before.replace(/export const summary = (['"`])/, 'export const summary = $1EDITED '))
      const after = await shoal({ SHOAL_CLI_CACHE: cache, SHOAL_DEBUG: '1' }, 'help')
      expect(after.code).toBe(0)
      expect(after.err).toMatch(/^shoal: built /)
      expect(after.out).toMatch(/lease +EDITED /)
      expect(bundleStamp(cache)).not.toBe(stamp)
    } finally {
      writeFileSync(src, before)
    }
  }, TIMEOUT_MS)

  it('falls back to tsx, silently unless SHOAL_DEBUG, when the cache dir cannot be written', async () => {
    const file = join(scratch, 'not-a-dir')
    writeFileSync(file, 'x')
    const cache = join(file, 'cli') // mkdir fails with ENOTDIR, even as root
    const quiet = await shoal({ SHOAL_CLI_CACHE: cache }, 'help')
    expect(quiet).toEqual({ code: 0, out: tsxHelp.out, err: '' })
    const loud = await shoal({ SHOAL_CLI_CACHE: cache, SHOAL_DEBUG: '1' }, 'help')
    expect(loud.out).toBe(tsxHelp.out)
    expect(loud.err.trim().split('\n')).toHaveLength(1)
    expect(loud.err).toMatch(/^shoal: bundled CLI unavailable, using tsx: .*ENOTDIR/)
  }, TIMEOUT_MS)

  it('falls back to tsx when a fresh-looking bundle fails to load', async () => {
    const cache = join(scratch, 'cache-broken')
    await shoal({ SHOAL_CLI_CACHE: cache }, 'help')
    const bundlePath = join(cache, 'shoal.mjs')
    writeFileSync(bundlePath, 'this is not javascript (\n')
    // Make the manifest describe the broken file, so it passes the freshness check.
    const manifest = JSON.parse(readFileSync(join(cache, 'manifest.json'), 'utf8'))
    const s = statSync(bundlePath)
    manifest.bundle = { ino: s.ino, mtimeMs: s.mtimeMs, size: s.size }
    writeFileSync(join(cache, 'manifest.json'), JSON.stringify(manifest))
    const r = await shoal({ SHOAL_CLI_CACHE: cache, SHOAL_DEBUG: '1' }, 'help')
    expect(r.out).toBe(tsxHelp.out)
    expect(r.err).toMatch(/^shoal: bundled CLI unavailable, using tsx: /)
  }, TIMEOUT_MS)

  it('two processes building into one empty cache at once both succeed and leave a usable cache', async () => {
    const cache = join(scratch, 'cache-race')
    const [a, b] = await Promise.all([shoal({ SHOAL_CLI_CACHE: cache }, 'help'), shoal({ SHOAL_CLI_CACHE: cache }, 'help')])
    expect(a).toEqual({ code: 0, out: tsxHelp.out, err: '' })
    expect(b).toEqual({ code: 0, out: tsxHelp.out, err: '' })
    const c = await shoal({ SHOAL_CLI_CACHE: cache, SHOAL_DEBUG: '1' }, 'help')
    expect(c.out).toBe(tsxHelp.out)
    expect(c.err).not.toMatch(/using tsx/) // at most a rebuild if the two renames interleaved
  }, TIMEOUT_MS)
})
