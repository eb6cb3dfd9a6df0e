/**
 * The CLI helps itself: --help/-h on every command and subcommand, `shoal version`,
 * completion scripts that a real bash runs, -o yaml|wide, id prefixes, config contexts with
 * flags > env > file precedence, and one-line errors on wrong-shaped answers.
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiServer, type ApiSource } from '../agent/api/index.js'
import type { MemberView, NodeRecordBody } from '../agent/protocol/index.js'
import { SOFTWARE_VERSION } from '../agent/protocol/software-version.js'
import { agentAddresses, adminTokenFrom, coordinatorUrl } from './cli-config.js'
import { commands, load, main } from './main.js'

let dir: string
const saved = { SHOAL_CONFIG: process.env.SHOAL_CONFIG, SHOAL_AGENT: process.env.SHOAL_AGENT, SHOAL_CONTEXT: process.env.SHOAL_CONTEXT }
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-cli-help-'))
  process.env.SHOAL_CONFIG = join(dir, 'config.yaml')
  delete process.env.SHOAL_AGENT
  delete process.env.SHOAL_CONTEXT
})
afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v)
  await rm(dir, { recursive: true, force: true })
})

async function cli(...argv: string[]) {
  const out: string[] = []
  const err: string[] = []
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) })
  return { code, out: out.join('\n'), err }
}

describe('--help on every command and subcommand', () => {
  it('answers on stdout with exit 0, listing every flag with its default and env var', async () => {
    let checked = 0
    for (const [name, file] of Object.entries(commands)) {
      const mod = await load(file)
      const paths = [[name], ...(mod.subcommands ?? []).map((s) => [name, s])]
      for (const path of paths) {
        for (const flag of ['--help', '-h']) {
          const r = await cli(...path, flag)
          expect(r.code, `shoal ${path.join(' ')} ${flag}`).toBe(0)
          expect(r.err).toEqual([])
          expect(r.out).toMatch(/^usage: shoal /)
          expect(r.out).toMatch(/-h, --help/)
          checked++
        }
      }
    }
    expect(checked).toBeGreaterThan(40)
    const nodes = (await cli('nodes', '--help')).out
    expect(nodes).toMatch(/--agent HOST:PORT .*default: .*127\.0\.0\.1:7400; env: SHOAL_AGENT/)
    expect(nodes).toMatch(/-o, --output FORMAT .*table, wide, json or yaml \(default: table\)/)
    const serve = (await cli('coordinator', 'serve', '--help')).out
    expect(serve).toMatch(/--http-port N .*default: 8080; env: SHOAL_COORDINATOR_HTTP_PORT/)
    expect(serve).toMatch(/--log-level LEVEL .*env: SHOAL_LOG_LEVEL/)
    // the old name of --coordinator still works but is not advertised
    expect((await cli('coordinator', 'nodes', '--help')).out).not.toMatch(/--url/)
  })

  it('`shoal help upgrade start` is `shoal upgrade start --help`; a missing subcommand is usage (2) pointing at --help', async () => {
    const a = await cli('help', 'upgrade', 'start')
    expect(a.code).toBe(0)
    expect(a.out).toMatch(/--to VERSION/)
    const b = await cli('upgrade')
    expect(b.code).toBe(2)
    expect(b.err).toEqual([expect.stringMatching(/missing subcommand: one of start, .* \(see: shoal upgrade --help\)/)])
  })
})

it('a negative flag value gets the way to write it', async () => {
  const r = await cli('coordinator', '--dht-port', '-1')
  expect(r.code).toBe(2)
  expect(r.err).toEqual([expect.stringMatching(/--dht-port.*write it as --dht-port=-1 \(see: shoal coordinator --help\)$/)])
})

describe('shoal version and completion', () => {
  it('version prints the CLI version (equal to package.json) in every format', async () => {
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string }
    expect(SOFTWARE_VERSION).toBe(pkg.version)
    const y = await cli('version', '-o', 'yaml')
    expect(parseYaml(y.out)).toEqual([{ component: 'cli', version: pkg.version, protocol: 1 }])
    expect((await cli('--version')).out).toContain(pkg.version)
  })

  it('the bash script completes commands, subcommands, flags and -o values in a real bash', async () => {
    const r = await cli('completion', 'bash')
    expect(r.code).toBe(0)
    const script = join(dir, 'shoal.bash')
    await writeFile(script, r.out)
    const complete = (words: string[]) => {
      const w = words.map((x) => `'${x}'`).join(' ')
      const res = spawnSync('bash', ['-c', `source ${script}; COMP_WORDS=(${w}); COMP_CWORD=${words.length - 1}; _shoal; echo "\${COMPREPLY[@]}"`], { encoding: 'utf8', timeout: 10_000 })
      return res.stdout.trim().split(/\s+/)
    }
    expect(complete(['shoal', 'upg'])).toEqual(['upgrade'])
    expect(complete(['shoal', 'upgrade', 'st'])).toEqual(['start', 'status'])
    expect(complete(['shoal', 'upgrade', 'start', '--max'])).toEqual(['--max-unavailable'])
    expect(complete(['shoal', 'nodes', '-o', 'y'])).toEqual(['yaml'])
    expect(complete(['shoal', 'coordinator', 'nodes', '--coord'])).toEqual(['--coordinator'])
    const fish = await cli('completion', 'fish')
    expect(fish.out).toMatch(/__fish_seen_subcommand_from upgrade; and __fish_seen_subcommand_from start' -l to/)
    expect((await cli('completion', 'zsh')).out).toMatch(/bashcompinit/)
  }, 60_000)
})

describe('config contexts', () => {
  it('set-context, use-context, get-contexts, view; precedence flags > env > context > default', async () => {
    expect(agentAddresses({})).toEqual(['127.0.0.1:7400'])
    expect((await cli('config', 'set-context', 'lab', '--agent', '10.0.0.1:7400', '--agent', '10.0.0.2:7400', '--coordinator', 'http://10.0.0.9:8080', '--admin-token-file', join(dir, 'tok'))).code).toBe(0)
    expect((await cli('config', 'set-context', 'other', '--agent', '10.1.0.1:7400')).code).toBe(0)
    const ctx = await cli('config', 'get-contexts')
    expect(ctx.out).toMatch(/\*\s+lab\s+10\.0\.0\.1:7400,10\.0\.0\.2:7400\s+http:\/\/10\.0\.0\.9:8080/)
    expect(parseYaml((await cli('config', 'view')).out)).toMatchObject({ 'current-context': 'lab', contexts: { other: { agents: ['10.1.0.1:7400'] } } })

    expect(agentAddresses({})).toEqual(['10.0.0.1:7400', '10.0.0.2:7400'])
    expect(coordinatorUrl({})).toBe('http://10.0.0.9:8080')
    await writeFile(join(dir, 'tok'), 'from-the-context-file\n')
    expect(adminTokenFrom({})).toBe('from-the-context-file')
    // env beats the file, the flag beats env
    expect(agentAddresses({}, { ...process.env, SHOAL_AGENT: '10.9.9.9:1' })[0]).toBe('10.9.9.9:1')
    expect(agentAddresses({ agent: '10.8.8.8:2' }, { ...process.env, SHOAL_AGENT: '10.9.9.9:1' })[0]).toBe('10.8.8.8:2')
    expect(coordinatorUrl({ coordinator: 'http://a:1' }, { ...process.env, SHOAL_COORDINATOR_URL: 'http://b:2' })).toBe('http://a:1')
    expect(adminTokenFrom({}, { ...process.env, SHOAL_ADMIN_TOKEN: 'env-token' })).toBe('env-token')
    expect(adminTokenFrom({ 'admin-token': 'flag-token' }, { ...process.env, SHOAL_ADMIN_TOKEN: 'env-token' })).toBe('flag-token')
    // --context and SHOAL_CONTEXT pick another one
    expect(agentAddresses({ context: 'other' })).toEqual(['10.1.0.1:7400'])
    expect(agentAddresses({}, { ...process.env, SHOAL_CONTEXT: 'other' })).toEqual(['10.1.0.1:7400'])

    expect((await cli('config', 'use-context', 'other')).code).toBe(0)
    expect((await cli('config', 'current-context')).out).toBe('other')
    const missing = await cli('config', 'use-context', 'nope')
    expect(missing.code).toBe(2)
    expect(missing.err).toEqual([expect.stringMatching(/no context "nope" .*shoal config set-context nope/)])
    const bad = await cli('config', 'set-context', 'x', '--agent', 'no-port')
    expect(bad.code).toBe(2)
    expect(bad.err).toEqual([expect.stringMatching(/--agent: expected HOST:PORT/)])
    await rm(process.env.SHOAL_CONFIG!)
  })

  it('a broken config file is one line naming the field', async () => {
    await writeFile(process.env.SHOAL_CONFIG!, 'contexts:\n  lab:\n    agents: 7\n')
    const r = await cli('nodes')
    expect(r.code).toBe(1)
    expect(r.err).toEqual([expect.stringMatching(/config\.yaml: contexts\.lab\.agents: .*fix it/)])
    await rm(process.env.SHOAL_CONFIG!)
  })
})

function record(id: string): NodeRecordBody {
  return { id, key: 'a'.repeat(64), inc: 1, ver: 4, image: 'v1', phase: 'ready', domain: 'r1', api: '10.0.0.9:7400', inv: {}, health: { status: 'ok', conditions: [] }, comps: [] }
}

describe('against an agent API', () => {
  const ids = ['1968ae01-aaaa', '1968bb02-bbbb', '77aa0000-cccc']
  const members: MemberView[] = ids.map((id) => ({ id, status: 'alive', inc: 1, updatedAt: 1, statusSince: 1, record: record(id) }))
  const source: ApiSource = { selfId: ids[0]!, startedAt: 0, now: () => 60_000, view: () => members, counters: () => ({}), on: () => undefined, off: () => undefined }
  const server = new ApiServer({ source })
  let agent: string
  let liar: Server
  let liarAddr: string
  beforeAll(async () => {
    const a = await server.listen(0, '127.0.0.1')
    agent = `127.0.0.1:${a.port}`
    // An "agent" whose answers have the wrong shape.
    liar = createServer((_req, res) => res.end(JSON.stringify({ answeredBy: 'x', observedAt: 'y', counts: { total: 0, alive: 0, suspect: 0, dead: 0 }, nodes: 'not a list' })))
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r))
    liarAddr = `127.0.0.1:${(liar.address() as { port: number }).port}`
  })
  afterAll(async () => {
    await server.close()
    await new Promise((r) => liar.close(r))
  })

  it('a unique prefix names the node; an ambiguous one lists the candidates (exit 2); an unknown one names `shoal nodes`', async () => {
    const one = await cli('node', '77aa', '--agent', agent, '-o', 'json')
    expect(one.code).toBe(0)
    expect(JSON.parse(one.out)).toMatchObject({ id: '77aa0000-cccc' })
    const amb = await cli('node', '1968', '--agent', agent)
    expect(amb.code).toBe(2)
    expect(amb.err).toEqual([expect.stringMatching(/"1968" matches 2 nodes: 1968ae01-aaaa, 1968bb02-bbbb; give more characters/)])
    const none = await cli('node', 'ffff', '--agent', agent)
    expect(none.code).toBe(1)
    expect(none.err).toEqual([expect.stringMatching(/no node "ffff" is known to the agent at .*; list them with: shoal nodes/)])
  })

  it('-o yaml and -o wide print lists', async () => {
    const y = await cli('nodes', '--agent', agent, '-o', 'yaml')
    expect((parseYaml(y.out) as { id: string }[]).map((n) => n.id)).toEqual(ids)
    const w = await cli('nodes', '--agent', agent, '-o', 'wide')
    expect(w.out.split('\n')[0]).toMatch(/NODE\s+STATUS.*\s+INC\s+VER\s+OSDS\s+API/)
    const s = await cli('status', '--agent', agent, '-o', 'yaml')
    expect(parseYaml(s.out)).toMatchObject({ counts: { total: 3, alive: 3 } })
  })

  it('a wrong-shaped answer is one line naming the field and the fix, never a crash', async () => {
    for (const cmd of [['nodes'], ['status'], ['node', 'x']]) {
      const r = await cli(...cmd, '--agent', liarAddr)
      expect(r.code).toBe(1)
      expect(r.err).toHaveLength(1)
      expect(r.err[0]).toMatch(/answered \/v1\/\S+ with something .*\(field (nodes|id): .*compare versions with: shoal version --agent/)
    }
  })

  it('a wrong-shaped coordinator answer is one line naming the field, for every kind of command', async () => {
    const fake = createServer((req, res) => res.end(JSON.stringify(req.url?.startsWith('/v1/admin/nodes') ? { nodes: 5 } : { id: 'w1', state: 'sideways' })))
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(fake.address() as { port: number }).port}`
    try {
      for (const cmd of [['coordinator', 'nodes'], ['upgrade', 'status'], ['lease', 'release', 'n1', '--force']]) {
        const r = await cli(...cmd, '--coordinator', url, '--admin-token', 'x'.repeat(20))
        expect(r.code, cmd.join(' ')).toBe(1)
        expect(r.err).toHaveLength(1)
        expect(r.err[0]).toMatch(/the coordinator at http:\/\/127\.0\.0\.1:\d+ answered with something this CLI does not understand \(field \S+: .*\); compare versions with: shoal version --coordinator/)
        expect(r.err[0]).not.toMatch(/ZodError|Cannot read properties/)
      }
    } finally {
      await new Promise((r) => fake.close(r))
    }
  })

  it('shoal version --agent shows the agent version', async () => {
    const r = await cli('version', '--agent', agent, '-o', 'json')
    expect(JSON.parse(r.out)).toEqual([expect.objectContaining({ component: 'cli' }), expect.objectContaining({ component: 'agent', version: SOFTWARE_VERSION, protocol: 1 })])
  })
})
