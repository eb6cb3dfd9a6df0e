/**
 * The shell endpoint alone (a node:http server, no mesh): session limits, the idle
 * timeout, a vanished client ending its process, and answers to a wrong subprotocol.
 * Sessions end on their own (timeouts measured by the real clock); the tests wait for
 * the audit record of each, with a deadline.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocket } from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { ed25519Keyring, ed25519Verify } from '../protocol/ed25519.js'
import { realClock } from '../mesh/index.js'
import type { ShellSession } from '../protocol/shell-channel.js'
import { signGrant } from '../protocol/shell-grant.js'
import { openShell } from './shell-client.js'
import { ShellServer, type ShellLimits } from './shell-server.js'

const op = ed25519Keyring(randomBytes(32))
let http: Server | undefined
let shell: ShellServer | undefined
afterEach(async () => {
  await shell?.close()
  await new Promise((r) => (http ? http.close(r) : r(undefined)))
  http = shell = undefined
})

async function start(limits: Partial<ShellLimits>) {
  const ended: ShellSession[] = []
  const waiters: (() => void)[] = []
  shell = new ShellServer({ selfId: 'n1', operators: () => [{ name: 'op', key: op.publicKey }], verify: ed25519Verify, clock: realClock, limits, onSession: (s) => (ended.push(s), waiters.splice(0).forEach((w) => w())) })
  http = createServer((_req, res) => res.end())
  const s = shell
  http.on('upgrade', (req, socket, head) => s.handleUpgrade(req, socket, head))
  await new Promise<void>((r) => http!.listen(0, '127.0.0.1', r))
  const address = `127.0.0.1:${(http.address() as AddressInfo).port}`
  const grant = (command: string[] | null) => {
    const now = Date.now()
    return signGrant({ v: 1, node: 'n1', operator: 'op', key: op.publicKey, command, issuedAt: now, expiresAt: now + 60_000, nonce: randomBytes(16).toString('hex') }, op)
  }
  const endedCount = (n: number, ms = 10_000) =>
    new Promise<ShellSession[]>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`only ${ended.length} sessions ended within ${ms} ms`)), ms)
      const check = () => (ended.length >= n ? (clearTimeout(t), resolve(ended)) : waiters.push(check))
      check()
    })
  const sink = { stdout: () => {}, stderr: () => {} }
  return { address, grant, endedCount, sink }
}

describe('shell server limits', () => {
  it('refuses a session past maxSessions with "busy", and accepts again once one ended', async () => {
    const { address, grant, endedCount, sink } = await start({ maxSessions: 2 })
    const a = await openShell({ address, token: grant(['sleep', '30']), tty: false }, sink)
    const b = await openShell({ address, token: grant(['sleep', '30']), tty: false }, sink)
    await expect(openShell({ address, token: grant(['true']), tty: false }, sink)).rejects.toMatchObject({ reason: 'busy' })
    a.close()
    await endedCount(1)
    const c = await openShell({ address, token: grant(['true']), tty: false }, sink)
    c.endInput()
    expect(await c.done).toBe(0)
    b.close()
    expect(shell!.counters().refused.busy).toBe(1)
  })

  it('ends a session idle past idleTimeoutMs, and the process of a client that vanished (pty: SIGHUP)', async () => {
    const { address, grant, endedCount, sink } = await start({ idleTimeoutMs: 300, pingIntervalMs: 50 })
    const idle = await openShell({ address, token: grant(['sleep', '30']), tty: false }, sink)
    const code = await idle.done
    const [first] = await endedCount(1)
    expect(first).toMatchObject({ end: 'idle-timeout', signal: 'SIGHUP' })
    expect(code).toBe(129)
    const gone = await openShell({ address, token: grant(['sleep', '30']), tty: true }, sink)
    gone.close() // the link drops without a close frame
    const all = await endedCount(2)
    expect(all[1]).toMatchObject({ end: 'client-gone', tty: true })
    expect(shell!.counters().active).toBe(0)
  })

  it("delivers a short command's whole output in a pty before its exit status", async () => {
    const { address, grant } = await start({})
    for (let i = 0; i < 5; i++) {
      let out = ''
      const c = await openShell({ address, token: grant(['sh', '-c', 'seq 1 2000; exit 4']), tty: true }, { stdout: (d) => (out += d.toString()), stderr: () => {} })
      expect(await c.done).toBe(4)
      expect(out.trimEnd().split(/\r?\n/).at(-1)).toBe('2000')
    }
  })

  it('answers 400 to a WebSocket without the v5 subprotocol', async () => {
    const { address, grant } = await start({})
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://${address}/v1/shell`, ['v4.channel.k8s.io'], { headers: { authorization: `ShoalGrant ${grant(null)}` } })
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.on('error', () => {})
    })
    expect(status).toBe(400)
  })
})
