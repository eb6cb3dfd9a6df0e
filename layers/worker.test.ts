import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { AGENT_BUNDLE_PATH, AGENT_CONFIG_PATH, AGENT_SERVICE_NODE_FLAGS, AGENT_SIDE_BUNDLES, worker } from './specs/worker.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')

describe('the worker layer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-worker-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("its service runs the agent's own entry point (runAgentProcess bundled, with its code cache), not the CLI", async () => {
    const root = join(dir, 'root')
    mkdirSync(join(repoRoot, '.cache'), { recursive: true })
    await worker.stage({ root, version: '2026.12.06-test', repoRoot, cacheDir: join(repoRoot, '.cache') })

    const service = readFileSync(join(root, 'etc/shoal/services/shoal-agent'), 'utf8')
    const exec = service.split('\n').filter((l) => l.startsWith('exec '))
    const command = ['/usr/bin/node', ...AGENT_SERVICE_NODE_FLAGS, AGENT_BUNDLE_PATH, '--config', AGENT_CONFIG_PATH].join(' ')
    expect(exec).toEqual([`exec ${command}`])
    expect(readFileSync(join(root, 'usr/lib/systemd/system/shoal-agent.service'), 'utf8')).toContain(`ExecStart=${command}`)
    expect(existsSync(join(root, 'usr/lib/shoal/shoal.mjs'))).toBe(true) // the operator's `shoal` is still there
    // One node process per worker: of the services init respawns, only the agent runs node (it
    // keeps the roster current itself; a second process competed with its start under TCG).
    const respawned = readFileSync(join(root, 'etc/inittab'), 'utf8').split('\n').filter((l) => l.startsWith('::respawn:')).map((l) => l.slice('::respawn:'.length))
    expect(respawned).toContain('/etc/shoal/services/shoal-agent')
    expect(respawned.filter((f) => /\bnode\b/.test(readFileSync(join(root, f.slice(1)), 'utf8')))).toEqual(['/etc/shoal/services/shoal-agent'])

    // The bundle runs the agent with exactly the service's arguments: a config it cannot use
    // is the agent's own one-line refusal (exit 1). The CLI given these arguments would say
    // "unknown command" (exit 2) instead.
    const config = join(dir, 'agent.json')
    writeFileSync(config, '{"nodeId": 5}')
    const loader = join(root, AGENT_BUNDLE_PATH.slice(1))
    const run = promisify(execFile)(process.execPath, [...AGENT_SERVICE_NODE_FLAGS, loader, '--config', config], { timeout: 30_000 })
    await expect(run).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/^error: invalid agent config: .*nodeId/) })

    // Its V8 code cache was made at build time for the service's node and flags.
    const cache = loader.replace(/\.cjs$/, '.bundle.cjs.v8cache')
    expect(statSync(cache).size).toBeGreaterThan(100_000)
    // undici ships beside it (AGENT_SIDE_BUNDLES) with a cache of its own, and is a working undici.
    const side = loader.replace(/\.cjs$/, '.side-undici.cjs')
    expect(readFileSync(loader.replace(/\.cjs$/, '.bundle.cjs'), 'latin1')).not.toContain('undici.error.UND_ERR')
    expect(statSync(`${side}.v8cache`).size).toBeGreaterThan(100_000)
    const server = createServer((_req, res) => res.end('{"from":"server"}'))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const { request } = createRequire(side)(side) as typeof import('undici')
      const res = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
      expect(await res.body.json()).toEqual({ from: 'server' })
    } finally {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
    // Every side bundle exports what its package does.
    for (const pkg of AGENT_SIDE_BUNDLES) {
      const file = loader.replace(/\.cjs$/, `.side-${pkg}.cjs`)
      expect(statSync(`${file}.v8cache`).size, pkg).toBeGreaterThan(10_000)
      expect(Object.keys(createRequire(file)(file) as object).sort(), pkg).toEqual(Object.keys(createRequire(import.meta.url)(pkg) as object).sort())
    }
    // A cache V8 cannot use (here: garbage) costs only speed: the same agent, the same answer.
    writeFileSync(cache, Buffer.alloc(4096, 7))
    const again = promisify(execFile)(process.execPath, [...AGENT_SERVICE_NODE_FLAGS, loader, '--config', config], { timeout: 30_000 })
    await expect(again).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/^error: invalid agent config: .*nodeId/) })
  }, 120_000) // bundling the CLI and the agent, copying the natives and making the cache: ~15-25 s alone
})
