/**
 * `npm start -- --wave --once`, as a newcomer runs it (sim/demo/main.ts in its own process):
 * the agents join, then a rolling upgrade v1.0.0 -> v2.0.0 goes through the real
 * coordinator (K=1), with a line per node state change, and the demo exits 0
 * once the wave is done — nothing left running.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const MAIN = fileURLToPath(new URL('../sim/demo/main.ts', import.meta.url))
const NODES = 3

describe('npm start -- --wave', () => {
  it('joins, then rolls every node onto v2.0.0 through the coordinator, with per-node progress, and exits 0', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, '--nodes', String(NODES), '--wave', '--once', '--max-unavailable', '1'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } })
    let out = ''
    let err = ''
    proc.stdout.on('data', (b: Buffer) => (out += b.toString()))
    proc.stderr.on('data', (b: Buffer) => (err += b.toString()))
    // The demo bounds itself (joins 30 s, every wait); this only guards the test runner.
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => proc.kill('SIGINT'), 420_000)
      proc.once('exit', (c) => {
        clearTimeout(t)
        resolve(c)
      })
    })
    const text = `${out}\n--- stderr ---\n${err}`
    expect(code, text).toBe(0)
    expect(out.match(/JOINED /g)?.length, text).toBeGreaterThanOrEqual(NODES - 1)
    expect(out, text).toMatch(/wave w1 started: 3 nodes v1\.0\.0 -> v2\.0\.0, at most 1 unavailable at a time/)
    // Per-node progress: every node is seen rebooting onto v2.0.0 and done.
    const ids = [...new Set([...out.matchAll(/REBOOT {2}(\S+) {2}-> boots v2\.0\.0/g)].map((m) => m[1]!))]
    expect(ids, text).toHaveLength(NODES)
    // (States are sampled every 250 ms: any one short state — holding, draining, rebooting —
    // may pass unseen on a loaded machine; verifying waits on the post gate and lasts.)
    for (const id of ids) {
      expect(out, text).toMatch(new RegExp(`${id}\\s+(holding|draining|rebooting|verifying)\\s+v[12]\\.0\\.0`))
      expect(out, text).toMatch(new RegExp(`${id}\\s+done\\s+v2\\.0\\.0`))
    }
    expect(out, text).not.toMatch(/not ours\?/)
    expect(out, text).toMatch(/wave w1 -> v2\.0\.0 \(from v1\.0\.0\): DONE/)
    expect(out, text).toMatch(/stopped; nothing left running\./)
  }, 480_000)
})
