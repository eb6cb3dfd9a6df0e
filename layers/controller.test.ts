import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { controller } from './specs/controller.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** The words of the one `exec` line of a service script (plain words: no quoting in these scripts). */
function execLine(script: string): string[] {
  const lines = script.split('\n').filter((l) => l.startsWith('exec '))
  expect(lines, 'one exec line').toHaveLength(1)
  return lines[0]!.split(/\s+/).filter(Boolean).slice(1)
}

describe('the controller layer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-controller-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('its service command starts the coordinator, which answers on its HTTP API', async () => {
    const root = join(dir, 'root')
    mkdirSync(join(repoRoot, '.cache'), { recursive: true })
    await controller.stage({ root, version: '2026.12.06-test', repoRoot, cacheDir: join(repoRoot, '.cache') })

    // The command exactly as init runs it, with the staged bundle in place of its absolute
    // paths (the wrapper /usr/bin/shoal is `exec /usr/bin/node /usr/lib/shoal/shoal.mjs "$@"`)
    // and the /var/lib directories moved under the temp dir.
    const service = readFileSync(join(root, 'etc/shoal/services/shoal-coordinator'), 'utf8')
    const wrapper = execLine(readFileSync(join(root, 'usr/bin/shoal'), 'utf8'))
    expect(wrapper).toEqual(['/usr/bin/node', '/usr/lib/shoal/shoal.mjs', '"$@"'])
    const [program, ...args] = execLine(service)
    expect(program).toBe('/usr/bin/shoal')
    const argv = [
      join(root, 'usr/lib/shoal/shoal.mjs'),
      ...args.map((a) => (a.startsWith('/var/lib/') ? join(dir, a) : a)),
      // Loopback only, ports the kernel picks: this test shares the machine.
      '--http-host', '127.0.0.1', '--http-port', '0', '--dht-host', '127.0.0.1', '--dht-port', '0',
    ]
    const child = spawn(process.execPath, argv, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SHOAL_LOG_LEVEL: 'warn' } })
    let stderr = ''
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)))
    try {
      const url = await new Promise<string>((found, fail) => {
        const timer = setTimeout(() => fail(new Error(`no start line in 40 s; stderr:\n${stderr}`)), 40_000)
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString()
          const m = /coordinator of cluster \S+ on (http:\/\/127\.0\.0\.1:\d+);/.exec(stderr)
          if (m) {
            clearTimeout(timer)
            found(m[1]!)
          }
        })
        void exited.then((code) => {
          clearTimeout(timer)
          fail(new Error(`coordinator exited ${code} before starting; stderr:\n${stderr}`))
        })
      })
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) })
      expect(res.status).toBe(200)
      const health = (await res.json()) as { ok: boolean; version: string; protocol: number }
      expect(health.ok).toBe(true)
      expect(health.version).toMatch(/^\d+\.\d+\.\d+/)
      expect(health.protocol).toBeGreaterThanOrEqual(1)
      // It used the data dir the service names (its admin token lands there on first start).
      expect(readFileSync(join(dir, 'var/lib/shoal/coordinator/admin-token'), 'utf8').trim().length).toBeGreaterThanOrEqual(16)
    } finally {
      child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(killer)
    }
  }, 90_000) // ~10-15 s alone (bundling the CLI is most of it); room for a loaded machine
})
