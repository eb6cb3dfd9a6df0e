/**
 * The agent's start reads its files synchronously (config, seed, roster) and watches the
 * roster file from ready on (agent/main.ts): a seed file it creates is kept and reused, and a
 * roster rewritten after ready still reaches the running agent.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { loadAgentConfig, startAgent, type RunningAgent } from './main.js'
import { startBootstrapNode, type BootstrapNode } from './mesh/bootstrap-node.js'
import { nodeIdentity } from './mesh/index.js'

describe('the agent process start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-agent-start-'))
  const running: RunningAgent[] = []
  let bootstrap: BootstrapNode | undefined
  afterAll(async () => {
    for (const a of running) await a.close()
    await bootstrap?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('creates its seed file once and reuses it; a roster rewritten after ready reaches the agent', async () => {
    bootstrap = await startBootstrapNode({ host: '127.0.0.1' })
    const seedFile = join(dir, 'seed')
    const rosterFile = join(dir, 'roster.json')
    const configFile = join(dir, 'agent.json')
    writeFileSync(configFile, JSON.stringify({ cluster: 'c1', nodeId: 'n1', seedFile, rosterFile, bootstrap: [bootstrap.address], meshHost: '127.0.0.1', apiPort: 0, collectInventory: false, logLevel: 'silent' }))
    // The roster must list the key of a seed that does not exist yet: the first start refuses, saying which key to add.
    writeFileSync(rosterFile, JSON.stringify({ cluster: 'c1', members: [] }))
    const config = await loadAgentConfig(['--config', configFile], {})
    const logger = pino({ level: 'silent' })
    const refused = await startAgent(config, { logger }).then(() => 'started', (err: Error) => err.message)
    expect(refused).toMatch(/is not on the roster/)
    const seed = readFileSync(seedFile, 'utf8')
    expect(seed).toMatch(/^[0-9a-f]{64}\n$/)
    expect(statSync(seedFile).mode & 0o777).toBe(0o600)
    const key = nodeIdentity(Buffer.from(seed.trim(), 'hex')).publicKey
    expect(refused).toContain(key)

    writeFileSync(rosterFile, JSON.stringify({ cluster: 'c1', members: [{ id: 'n1', key }] }))
    const agent = await startAgent(config, { logger })
    running.push(agent)
    expect(agent.publicKey).toBe(key)
    expect(readFileSync(seedFile, 'utf8')).toBe(seed)

    // After ready: an operator appears in the roster file (roster-sync rewrote it).
    const self = async () => (await (await fetch(`http://${agent.api}/v1/self`)).json()) as { shell: { operators: string[] } }
    expect((await self()).shell.operators).toEqual([])
    writeFileSync(rosterFile, JSON.stringify({ cluster: 'c1', members: [{ id: 'n1', key }], operators: [{ name: 'alice', key }] }))
    const deadline = Date.now() + 20_000
    while (!(await self()).shell.operators.includes('alice')) {
      if (Date.now() > deadline) throw new Error('the rewritten roster never reached the agent')
      await new Promise((r) => setTimeout(r, 100))
    }
  }, 60_000)
})
