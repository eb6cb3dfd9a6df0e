import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { BOOT_AGENT_PATH, BOOT_NODE_FLAGS, BOOT_NODE_FLAGS_PATH, stageBootAgent } from './initramfs.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** Starts the staged boot agent as the initramfs hook does (node FLAGS loader ARGS) until `line` is printed; then stops it. */
function bootUntil(root: string, args: string[], line: RegExp, deadlineMs = 30_000): Promise<string> {
  const flags = readFileSync(join(root, BOOT_NODE_FLAGS_PATH.slice(1)), 'utf8').split(/\s+/).filter(Boolean)
  const child = spawn(process.execPath, [...flags, join(root, BOOT_AGENT_PATH.slice(1)), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      rej(new Error(`no ${line} within ${deadlineMs} ms; printed:\n${out}`))
    }, deadlineMs)
    const seen = (c: Buffer) => {
      out += c.toString()
      if (line.test(out)) {
        clearTimeout(timer)
        child.kill('SIGKILL')
        res(out)
      }
    }
    child.stdout.on('data', seen)
    child.stderr.on('data', seen)
    child.on('close', () => {
      clearTimeout(timer)
      if (!line.test(out)) rej(new Error(`exited before ${line}; printed:\n${out}`))
    })
  })
}

describe('the boot agent as the initramfs carries it (layers/initramfs.ts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-boot-agent-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('starts from its loader with the V8 code cache made at build time, and falls back to compiling when the cache is rejected', async () => {
    const built = await stageBootAgent(dir, { repoRoot, cacheDir: join(repoRoot, '.cache') })
    expect(readFileSync(join(dir, BOOT_NODE_FLAGS_PATH.slice(1)), 'utf8').trim()).toBe(BOOT_NODE_FLAGS.join(' '))
    expect(statSync(built.cache!).size).toBeGreaterThan(50_000)

    // No kernel command line to read: the boot agent starts, then retries (never gives up).
    const args = ['--cmdline', join(dir, 'no-such-cmdline'), '--new-root', join(dir, 'new_root')]
    const retrying = /reading shoal\.\* from the kernel command line failed: .*retrying in/
    const ok = await bootUntil(dir, args, retrying)
    expect(ok).toMatch(/boot agent started \(node v[\d.]+, code cache accepted, start \d+ ms CPU\)/)
    expect(ok).not.toMatch(/V8 rejected/)

    // A cache V8 cannot use (garbage here; another node in practice) costs speed only, said once.
    writeFileSync(built.cache!, Buffer.alloc(4096, 7))
    const slow = await bootUntil(dir, args, retrying)
    expect(slow).toMatch(/boot agent started \(node v[\d.]+, code cache rejected, start \d+ ms CPU\)/)
    expect(slow.match(/V8 rejected the code cache .*compiled the boot agent from source, a slower start/g)).toHaveLength(1)

    // main's exit code comes through the loader: a bad argument is a one-line failure, exit 1.
    const run = promisify(execFile)(process.execPath, [join(dir, BOOT_AGENT_PATH.slice(1)), '--bogus'], { timeout: 30_000 })
    await expect(run).rejects.toMatchObject({ code: 1, stdout: expect.stringMatching(/^shoal-boot\[[\d.]+s\]: boot failed: .*--bogus/) })
  }, 120_000) // bundling the boot agent and making its cache: ~10-20 s on a loaded host
})
