/**
 * `shoal fingerprint` and `shoal inventory` as an operator runs them: on this machine, on
 * fake /sys trees with known fingerprints (what would a board swap do?), against an agent
 * API on loopback, and with every kind of bad input.
 */
import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isValidNodeId, writeFakeSysfs } from '../agent/fingerprint/index.js'
import { NodeRecordBody } from '../agent/protocol/node-record.js'
import { main } from '../cli/main.js'
import { mutateMachine, syntheticMachine } from '../sim/synthetic-machines.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-fp-cli-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function shoal(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

describe('shoal fingerprint', () => {
  it('gives this machine a valid id (the real CLI, real /sys)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['bin/shoal.js', 'fingerprint', '-o', 'json'], { cwd: join(import.meta.dirname, '..'), timeout: 60_000 })
    const r = JSON.parse(stdout)
    expect(isValidNodeId(r.id)).toBe(true)
    expect(r.id).toMatch(/^[A-Za-z0-9._-]{1,64}$/)
    expect(NodeRecordBody.shape.comps.safeParse(r.comps).success).toBe(true)
    expect(r.components.length).toBeGreaterThan(0)
    // Stable: asking twice gives the same answer.
    expect((await shoal('fingerprint', '-o', 'json')).out).toContain(`"id": "${r.id}"`)
  })

  it('answers "what would a board swap do?" with --sysfs and --known', async () => {
    // A whitebox: one NVMe disk or two, OEM placeholder serials, NICs on the board.
    let i = 0
    while (syntheticMachine(i, 11).profile !== 'whitebox') i += 40
    const m = syntheticMachine(i, 11)
    const before = join(dir, 'before')
    const after = join(dir, 'after')
    await writeFakeSysfs(before, m.hardware)
    await writeFakeSysfs(after, mutateMachine(m, 'board-replaced-disks-kept', 11)!.hardware)
    const first = await shoal('fingerprint', '--sysfs', before, '-o', 'json')
    expect(first.code).toBe(0)
    const fp = JSON.parse(first.out)
    expect(fp.decision).toBe('new')
    const knownFile = join(dir, 'known.json')
    await writeFile(knownFile, JSON.stringify([fp, { id: 'someone-else', comps: ['nic:AAAAAAAAAAAAAAAA'] }]))
    const swapped = await shoal('fingerprint', '--sysfs', after, '--known', knownFile, '-o', 'json')
    expect(JSON.parse(swapped.out)).toMatchObject({ id: fp.id, decision: 'matched' })
    const table = await shoal('fingerprint', '--sysfs', after, '--known', knownFile)
    expect(table.out).toContain(`id        ${fp.id}`)
    expect(table.out).toMatch(/matched a known machine \(score 0\.\d+\)/)
    expect(table.out).toMatch(/kept, matched/)
    // Without the known fingerprints the swapped machine is a new one.
    expect(JSON.parse((await shoal('fingerprint', '--sysfs', after, '-o', 'json')).out).id).not.toBe(fp.id)
  })

  it('says clearly when nothing identifies the machine, and takes --node-id as the fallback', async () => {
    const empty = join(dir, 'empty')
    await writeFakeSysfs(empty, { dmi: { productSerial: 'To Be Filled By O.E.M.' }, disks: [], nics: [], dimms: [], cpu: { ppins: [] }, skipped: [], unknown: [], warnings: [] })
    const r = await shoal('fingerprint', '--sysfs', empty)
    expect(r.code).toBe(1)
    expect(r.err.split('\n')).toHaveLength(1)
    expect(r.err).toMatch(/^error: no usable hardware identity: .*vendor placeholder.*shoal\.node_id=NAME/)
    const named = await shoal('fingerprint', '--sysfs', empty, '--node-id', 'lab-7', '-o', 'json')
    expect(JSON.parse(named.out)).toMatchObject({ id: 'lab-7', decision: 'operator' })
  })

  it.each([
    [['--known', '/nonexistent/known.json'], /cannot read --known .*ENOENT/],
    [['--known', 'package.json'], /--known package\.json: Invalid input: expected array/],
    [['-o', 'xml'], /-o must be one of table, wide, json, yaml/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['extra'], /unexpected argument "extra"/],
  ])('bad input %j: exit 2 with a clear message', async (args, message) => {
    const r = await shoal('fingerprint', ...(args as string[]))
    expect(r.code).toBe(2)
    expect(r.err).toMatch(message)
  })

  it('a --known file that is not JSON: exit 2', async () => {
    const f = join(dir, 'bad.json')
    await writeFile(f, '{ not json')
    const r = await shoal('fingerprint', '--known', f)
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/is not JSON/)
  })
})

describe('shoal inventory NODE (via an agent API on loopback)', () => {
  let server: Server
  let agent: string
  const inv = syntheticMachine(0, 1).inventory
  beforeAll(async () => {
    server = createServer((req, res) => {
      const m = /^\/v1\/nodes\/([^/]+)\/inventory$/.exec(req.url ?? '')
      res.setHeader('content-type', 'application/json')
      if (m?.[1] === 'node-a') return res.end(JSON.stringify({ id: 'node-a', source: 'cache', ageMs: 12_000, inventory: inv }))
      if (m?.[1] === 'garbled') return res.end(JSON.stringify({ inventory: { v: 99 }, ageMs: 0, source: 'self' }))
      res.statusCode = 404
      res.end(JSON.stringify({ error: { code: 'not-found', message: `no node "${m?.[1]}" in this agent's view; see shoal nodes` } }))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    agent = `127.0.0.1:${(server.address() as { port: number }).port}`
  })
  afterAll(async () => {
    await new Promise((r) => server.close(r))
  })

  it('prints the inventory with where it came from and its age', async () => {
    const r = await shoal('inventory', 'node-a', '--agent', agent)
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/from cache, 12 s old/)
    expect(r.out).toContain('DISKS (8)')
    expect(r.out).toContain('nvme0n1')
    const j = await shoal('inventory', 'node-a', '--agent', agent, '-o', 'json')
    expect(JSON.parse(j.out)).toMatchObject({ ageMs: 12_000, source: 'cache', inventory: { disks: expect.any(Array) } })
  })

  it('unknown node: exit 1 with the agent\'s message', async () => {
    const r = await shoal('inventory', 'nope', '--agent', agent)
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/no node "nope"/)
  })

  it('an answer it cannot understand: exit 1, one clear line', async () => {
    const r = await shoal('inventory', 'garbled', '--agent', agent)
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/does not understand .*shoal version --agent/)
  })

  it('unreachable agent: one clear line, exit 3', async () => {
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const port = (closed.address() as { port: number }).port
    await new Promise((r) => closed.close(r))
    const r = await shoal('inventory', 'node-a', '--agent', `127.0.0.1:${port}`)
    expect(r.code).toBe(3)
    expect(r.err.split('\n')).toHaveLength(1)
    expect(r.err).toMatch(/cannot reach the agent at 127\.0\.0\.1:\d+/)
  })

  it.each([
    [['--agent', 'nohost'], /--agent must be HOST:PORT/],
    [['--timeout-ms', 'soon'], /--timeout-ms must be a positive integer/],
    [['a', 'b'], /unexpected argument "b"/],
  ])('bad input %j: exit 2', async (args, message) => {
    const r = await shoal('inventory', ...(args as string[]))
    expect(r.code).toBe(2)
    expect(r.err).toMatch(message)
  })
})
