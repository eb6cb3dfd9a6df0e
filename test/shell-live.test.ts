/**
 * The remote shell against live agents (in this process, hyperswarm on loopback) with a
 * real pty: `shoal shell` itself driven from a pty (type, read, resize, `exit 3` -> exit
 * status 3), a one-shot command fed by a pipe, every refusal with its reason and counter,
 * and the audit record of each session visible from the other agent.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openShell } from '../agent/api/shell-client.js'
import type { RunningAgent } from '../agent/main.js'
import { ed25519Keyring } from '../agent/protocol/ed25519.js'
import { signGrant, type ShellGrant } from '../agent/protocol/shell-grant.js'
import { writeOperatorKey } from '../cli/operator-key.js'
import { InProcessCluster } from './support/in-process-cluster.js'

const SHOAL = fileURLToPath(new URL('../bin/shoal.js', import.meta.url))
const pty = createRequire(import.meta.url)('node-pty') as typeof import('node-pty')

async function getJson(api: string, path: string): Promise<any> {
  const res = await request(`http://${api}${path}`)
  return res.body.json()
}

/** Polls `probe` (each call a real request) until it returns a value, or fails at the deadline. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 30_000): Promise<T> {
  const until = Date.now() + deadlineMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setImmediate(r))
  }
}

describe('shoal shell on a live agent', () => {
  let cluster: InProcessCluster
  let dir: string
  let a: RunningAgent
  let b: RunningAgent
  let keyFile: string
  const bob = ed25519Keyring(randomBytes(32))
  const carol = ed25519Keyring(randomBytes(32))
  let alicePub: string

  beforeAll(async () => {
    cluster = await InProcessCluster.create('shell', [{ id: 'node-0' }, { id: 'node-1' }])
    dir = cluster.dir
    keyFile = join(dir, 'alice.key')
    alicePub = await writeOperatorKey(keyFile)
    await cluster.writeRoster({ operators: [{ name: 'alice', key: alicePub }, { name: 'bob', key: bob.publicKey }] })
    a = await cluster.start(0)
    b = await cluster.start(1)
    await eventually('node-0 to see node-1 with its API', async () => {
      const c = await getJson(a.api, '/v1/cluster')
      return c.nodes.some((n: any) => n.id === 'node-1' && n.status === 'alive' && n.api) ? true : undefined
    }, 60_000)
  }, 120_000)

  afterAll(() => cluster?.close())

  it('runs an interactive shell in a pty: type, read, resize, and `exit 3` becomes the CLI exit status 3', async () => {
    const term = pty.spawn(process.execPath, [SHOAL, 'shell', 'node-1', '--agent', a.api, '--key', keyFile, '--operator', 'alice'], {
      cols: 80,
      rows: 24,
      env: { ...process.env, PS1: '$ ', TERM: 'xterm' },
    })
    let screen = ''
    const waitFor = (re: RegExp, ms = 30_000) =>
      new Promise<RegExpMatchArray>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${re} on the terminal within ${ms} ms; it shows:\n${screen.slice(-2000)}`)), ms)
        const check = () => {
          const m = screen.match(re)
          if (m) {
            clearTimeout(t)
            sub.dispose()
            resolve(m)
          }
        }
        const sub = term.onData(() => check())
        check()
      })
    term.onData((d) => (screen += d))
    const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)))
    try {
      term.write('echo mark-$((6*7))\r')
      await waitFor(/mark-42/)
      term.resize(101, 37)
      // The resize travels on channel 4 to the remote pty; stty there reports it.
      await eventually('the remote pty to take the new size', async () => {
        term.write('stty size\r')
        return (await waitFor(/37 101/, 3000).catch(() => undefined)) ? true : undefined
      })
      term.write('exit 3\r')
      expect(await exited).toBe(3)
    } finally {
      term.kill()
    }
  }, 90_000)

  it('runs a one-shot command fed by a pipe, with stdout and exit status', async () => {
    const cast = join(dir, 'one-shot.cast')
    const child = spawn(process.execPath, [SHOAL, 'shell', 'node-1', '--agent', a.api, '--key', keyFile, '--operator', 'alice', '--record', cast, '--', 'sh', '-c', 'tr a-z A-Z; echo err >&2; exit 5'], { stdio: 'pipe' })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.stdin.end('hello shoal\n')
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    expect({ code, out, err: err.trim() }).toEqual({ code: 5, out: 'HELLO SHOAL\n', err: 'err' })
    // --record: an asciicast v2 file with the output.
    const [header, ...events] = (await readFile(cast, 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
    expect(header).toMatchObject({ version: 2, title: 'shoal shell node-1' })
    const recorded = events.filter((e: [number, string, string]) => e[1] === 'o').map((e: [number, string, string]) => e[2]).join('')
    expect(recorded).toContain('HELLO SHOAL\n')
    expect(recorded).toContain('err\n')
    expect(events.every((e: [number, string, string]) => typeof e[0] === 'number' && e[0] >= 0)).toBe(true)
  }, 60_000)

  it('refuses unsigned, malformed, badly signed, unknown, expired, too long, wrong-node, replayed and removed-key grants, each with its reason, and counts them', async () => {
    const now = Date.now()
    const grant = (over: Partial<ShellGrant> = {}): ShellGrant => ({
      v: 1,
      node: 'node-1',
      operator: 'bob',
      key: bob.publicKey,
      command: ['true'],
      issuedAt: now,
      expiresAt: now + 60_000,
      nonce: randomBytes(16).toString('hex'),
      ...over,
    })
    const attempt = async (token: string) => {
      try {
        const c = await openShell({ address: b.api, token, tty: false }, { stdout: () => {}, stderr: () => {} })
        c.endInput()
        return `exit ${await c.done}`
      } catch (err) {
        return (err as { reason?: string }).reason ?? (err as Error).message
      }
    }
    const before = (await getJson(b.api, '/v1/self')).shell.refused
    expect(await attempt('')).toBe('unsigned')
    expect(await attempt('not-a-grant')).toBe('malformed')
    expect(await attempt(signGrant(grant({ key: alicePub }), bob))).toBe('bad-signature')
    expect(await attempt(signGrant(grant({ operator: 'carol', key: carol.publicKey }), carol))).toBe('unknown-operator')
    expect(await attempt(signGrant(grant({ issuedAt: now - 120_000, expiresAt: now - 60_000 }), bob))).toBe('expired')
    expect(await attempt(signGrant(grant({ expiresAt: now + 3_600_000 }), bob))).toBe('too-long')
    expect(await attempt(signGrant(grant({ node: 'node-0' }), bob))).toBe('wrong-node')
    const once = signGrant(grant(), bob)
    expect(await attempt(once)).toBe('exit 0')
    expect(await attempt(once)).toBe('replayed')
    // Remove bob from the roster: his next grant is refused once the agent reread the file.
    await cluster.writeRoster({ operators: [{ name: 'alice', key: alicePub }] })
    await eventually('bob to be refused after removal', async () => ((await attempt(signGrant(grant(), bob))) === 'unknown-operator' ? true : undefined))
    const after = (await getJson(b.api, '/v1/self')).shell.refused
    for (const reason of ['unsigned', 'malformed', 'bad-signature', 'expired', 'too-long', 'wrong-node', 'replayed']) expect(after[reason] - before[reason], reason).toBe(1)
    expect(after['unknown-operator'] - before['unknown-operator']).toBeGreaterThanOrEqual(2)
  }, 60_000)

  it("lists each session's audit record from the other agent (carried over the mesh)", async () => {
    const seen = await eventually(
      'node-0 to list the sessions on node-1',
      async () => {
        const { sessions } = await getJson(a.api, '/v1/shells?node=node-1')
        return sessions.some((s: any) => s.command === null) && sessions.some((s: any) => s.exitCode === 5) ? sessions : undefined
      },
      30_000,
    )
    const interactive = seen.find((s: any) => s.command === null)
    expect(interactive).toMatchObject({ node: 'node-1', operator: 'alice', key: alicePub, tty: true, exitCode: 3, end: 'exit' })
    expect(interactive.bytesIn).toBeGreaterThan(10)
    expect(interactive.bytesOut).toBeGreaterThan(10)
    const oneShot = seen.find((s: any) => s.exitCode === 5)
    expect(oneShot).toMatchObject({ operator: 'alice', tty: false, command: ['sh', '-c', 'tr a-z A-Z; echo err >&2; exit 5'], bytesIn: 12 })
    // And through the CLI, from the other agent.
    const child = spawn(process.execPath, [SHOAL, 'audit', 'shells', '--agent', a.api, '--node', 'node-1', '-o', 'json'], { stdio: 'pipe' })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0)
    expect((JSON.parse(out) as any[]).map((s) => s.id)).toEqual(expect.arrayContaining([interactive.id, oneShot.id]))
  }, 60_000)
})
