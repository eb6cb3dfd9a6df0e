/**
 * The operator's mesh commands: `shoal status|nodes|node|watch` against live agents
 * (real hyperswarm on loopback, agents in this process), and their failures: bad
 * arguments and unreachable agents give one line and a kubectl-like exit code.
 */
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningAgent } from '../agent/main.js'
import { main } from '../cli/main.js'
import { syntheticMachine } from '../sim/demo/synthetic-hardware.js'
import { untilAgentSees } from './support/agent-view.js'
import { InProcessCluster } from './support/in-process-cluster.js'

/** Resolves once the agent at `api` holds every id in `ids` as alive (from its watch stream); rejects at the deadline. */
function knows(api: string, ids: string[], deadlineMs: number): Promise<void> {
  return untilAgentSees(api, (view) => ids.every((id) => view.get(id)?.status === 'alive'), deadlineMs, `${ids.join(', ')} alive`)
}

async function cli(...argv: string[]) {
  const out: string[] = []
  const err: string[] = []
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) })
  return { code, out: out.join('\n'), err }
}

describe('shoal CLI: bad arguments and unreachable agents', () => {
  const bad: [string[], RegExp][] = [
    [['status', '--bogus'], /bogus/],
    [['nodes', '-o', 'xml'], /-o must be one of table, wide, json, yaml/],
    [['status', 'extra'], /unexpected argument "extra"/],
    [['node'], /missing ID/],
    [['node', 'a', 'b'], /unexpected argument "b"/],
    [['node', 'not a valid id!'], /is not a node id/],
    [['nodes', '--agent', 'localhost'], /--agent must be HOST:PORT/],
    [['watch', '--count', '0', '--agent', '127.0.0.1:1'], /--count must be a positive whole number/],
    [['bootstrap', '--port', 'x'], /--port must be/],
  ]
  for (const [argv, message] of bad) {
    it(`shoal ${argv.join(' ')} -> exit 2, one line`, async () => {
      const r = await cli(...argv)
      expect(r.code).toBe(2)
      expect(r.err).toHaveLength(1)
      expect(r.err[0]).not.toContain('\n')
      expect(r.err[0]).toMatch(message)
      expect(r.out).toBe('')
    })
  }

  for (const cmd of [['status'], ['nodes'], ['node', 'abc'], ['watch']]) {
    it(`shoal ${cmd.join(' ')} against nothing -> exit 3, one line`, async () => {
      const r = await cli(...cmd, '--agent', '127.0.0.1:1')
      expect(r.code).toBe(3)
      expect(r.err).toHaveLength(1)
      expect(r.err[0]).toMatch(/cannot reach the agent at 127\.0\.0\.1:1 .*--agent/)
    })
  }

  it('the real bin/shoal.js exits 3 with one line on stderr when the agent is unreachable', () => {
    const r = spawnSync(process.execPath, ['bin/shoal.js', 'status', '--agent', '127.0.0.1:1'], { encoding: 'utf8', timeout: 30_000 })
    expect(r.status).toBe(3)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  }, 40_000)
})

describe('shoal CLI against live agents', () => {
  let cluster: InProcessCluster
  const agents: RunningAgent[] = []
  const machines = [0, 1, 2].map((i) => syntheticMachine(i, 'cli'))

  async function start(i: number): Promise<RunningAgent> {
    const m = machines[i]!
    const a = await cluster.start(i, { image: 'v2.1.0', domain: m.domain, inventory: m.inventory })
    agents.push(a)
    return a
  }

  beforeAll(async () => {
    cluster = await InProcessCluster.create('cli', machines.map((m) => ({ id: m.id })))
    await start(0)
    await start(1)
  }, 60_000)

  afterAll(() => cluster?.close(), 30_000)

  it('watch shows a node joining live, and status/nodes/node then show it', async () => {
    const api = agents[0]!.api
    // Wait (on the event stream, with a deadline) until the first two see each other.
    await knows(api, [machines[0]!.id, machines[1]!.id], 60_000)

    const out: string[] = []
    const watching = main(['watch', '--agent', api, '--count', '1'], { out: (l) => out.push(l), err: (l) => out.push(`ERR ${l}`) })
    const third = await start(2)
    expect(await watching).toBe(0)
    expect(out[0]).toMatch(/^NODE\s+STATUS\s+PHASE/)
    expect(out.some((l) => /JOINED\s+/.test(l) && l.includes(third.id))).toBe(true)

    await knows(api, machines.map((m) => m.id), 60_000)
    const status = await cli('status', '--agent', api)
    expect(status.code).toBe(0)
    expect(status.out).toMatch(/nodes: +3 known, 3 alive, 0 suspect, 0 dead/)
    expect(status.out).toMatch(/images: +v2\.1\.0 3/)

    const table = await cli('nodes', '--agent', api)
    expect(table.code).toBe(0)
    for (const m of machines) expect(table.out).toContain(m.id)

    const json = await cli('nodes', '--agent', api, '-o', 'json')
    const nodes = JSON.parse(json.out) as { id: string; status: string; image: string }[]
    expect(nodes.map((n) => n.id).sort()).toEqual(machines.map((m) => m.id).sort())
    expect(nodes.every((n) => n.status === 'alive' && n.image === 'v2.1.0')).toBe(true)

    const one = await cli('node', machines[2]!.id, '--agent', api)
    expect(one.code).toBe(0)
    expect(one.out).toContain(machines[2]!.inventory.product!)

    const missing = await cli('node', 'no-such-node', '--agent', api)
    expect(missing.code).toBe(1)
    expect(missing.err).toEqual([expect.stringMatching(/no node "no-such-node" is known/)])
  }, 120_000)

  it('watch moves to another agent when its agent dies, says so, and shows what it missed', async () => {
    const watched = agents[2]!
    await knows(watched.api, machines.map((m) => m.id), 60_000)
    const out: string[] = []
    const err: string[] = []
    let sawSnapshot!: () => void
    const snapshot = new Promise<void>((r) => (sawSnapshot = r))
    const watching = main(['watch', '--agent', watched.api, '--count', '1'], {
      out: (l) => {
        out.push(l)
        if (l.startsWith('-- watching')) sawSnapshot()
      },
      err: (l) => err.push(l),
    })
    await snapshot
    await watched.close()
    expect(await watching).toBe(0)
    expect(err).toEqual([expect.stringMatching(new RegExp(`^-- .*agent at ${watched.api.replace(/\./g, '\\.')}.*; watching via 127\\.0\\.0\\.1:\\d+$`))])
    // the one change shown: the watched agent's own node leaving (caught up from the new agent's snapshot, or live)
    expect(out.at(-1)).toMatch(new RegExp(`(SUSPECT|DEAD)\\s+${watched.id}`))
  }, 120_000)
})
