import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const run = promisify(execFile)

/**
 * In a fresh node (zod's config is per process): optionally import agent/zod-jitless.ts, then
 * the agent's modules (their top levels build the schemas), then count the functions compiled
 * with `new Function` while the agent parses a config and a roster, as its start does.
 */
async function compiledFunctions(jitlessFirst: boolean): Promise<number> {
  const script = `
${jitlessFirst ? `await import(${JSON.stringify(join(repoRoot, 'agent/zod-jitless.ts'))})` : ''}
const { resolveAgentConfig } = await import(${JSON.stringify(join(repoRoot, 'agent/config.ts'))})
const { RosterFile } = await import(${JSON.stringify(join(repoRoot, 'agent/protocol/roster.ts'))})
let compiled = 0
const Real = globalThis.Function
globalThis.Function = new Proxy(Real, { construct(t, args) { compiled++; return Reflect.construct(t, args) } })
resolveAgentConfig({ cluster: 'c', nodeId: 'n-1', seedHex: 'ab'.repeat(32), rosterFile: '/r.json', bootstrap: ['127.0.0.1:1'] })
RosterFile.parse({ cluster: 'c', members: [{ id: 'n-1', key: 'cd'.repeat(32) }] })
globalThis.Function = Real
process.stdout.write(String(compiled))
`
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, timeout: 60_000 })
  return Number(stdout)
}

describe('zod without its JIT in the agent process (agent/zod-jitless.ts)', () => {
  it('reaches the schemas the modules build when they load, when imported before them', async () => {
    expect(await compiledFunctions(true)).toBe(0)
    // The same parses compile validators when the modules loaded first (what z.config in main did).
    expect(await compiledFunctions(false)).toBeGreaterThan(0)
  }, 120_000)

  it('is the first import of the agent entry points', () => {
    const firstImport = (file: string) => /^import\s+(?:[^'"]*from\s+)?['"]([^'"]+)['"]/m.exec(readFileSync(join(repoRoot, file), 'utf8'))?.[1]
    expect(firstImport('agent/bin.ts')).toBe('./zod-jitless.js')
    expect(firstImport('layers/entries/shoal-agent.ts')).toBe('../../agent/zod-jitless.js')
  })
})
