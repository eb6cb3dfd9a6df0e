/**
 * The remote shell endpoint: `GET /v1/shell` upgraded to a WebSocket speaking kubectl's
 * `v5.channel.k8s.io` (agent/protocol/shell-channel.ts). The grant in
 * `Authorization: ShoalGrant <token>` is checked offline against the roster's operators
 * before the upgrade; a refusal is a 403 JSON body saying why, and a counter.
 *
 * With `?tty=1` the command runs in a pseudo-terminal (node-pty; `cols`/`rows` give its
 * first size, channel 4 resizes it); without, in plain pipes (stdout and stderr apart,
 * [255, 0] is stdin's end of file) — what a one-shot command fed by a pipe needs.
 *
 * Limits: `maxSessions` at once; a session idle (no byte either way) for `idleTimeoutMs` is
 * ended; the client is pinged every `pingIntervalMs` and a session whose client stopped
 * answering for `pongTimeoutMs` is ended; output waiting for a slow client is bounded by
 * `maxBufferedBytes` (the command is paused past it); frames are at most `maxFrameBytes`.
 * Every session ends its process (SIGHUP, then SIGKILL) and leaves one audit record.
 */
import { spawn as spawnChild, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, constants as fsConstants, existsSync, openSync } from 'node:fs'
import { createRequire } from 'node:module'
import { constants as osConstants } from 'node:os'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { WebSocket, WebSocketServer } from 'ws'
import type { Clock, Keyring, Logger } from '../protocol/ports.js'
import { silentLogger } from '../protocol/ports.js'
import type { ErrorCode } from '../protocol/error-codes.js'
import { Channel, errorStatus, exitStatus, frame, Resize, SHELL_SUBPROTOCOL, unframe, type ExecStatus, type ShellSession } from '../protocol/shell-channel.js'
import { checkGrant, NonceMemory, type GrantRefusal, type OperatorEntry, type ShellGrant } from '../protocol/shell-grant.js'

export interface ShellLimits {
  /** Sessions at once on this node: a worker is a shared machine, not a jump host. */
  maxSessions: number
  /** No byte either way for this long ends the session (a forgotten terminal must not hold a shell forever). */
  idleTimeoutMs: number
  /** Ping period (kubectl: 5 s). */
  pingIntervalMs: number
  /** A client silent this long is gone: its process is ended. */
  pongTimeoutMs: number
  /** Output queued for a slow client before the command is paused. */
  maxBufferedBytes: number
  /** Largest inbound frame (stdin chunk or resize). */
  maxFrameBytes: number
  /** Grace between SIGHUP and SIGKILL when a session is cut. */
  killGraceMs: number
}

export const defaultShellLimits: Readonly<ShellLimits> = Object.freeze({
  maxSessions: 4,
  idleTimeoutMs: 15 * 60_000,
  pingIntervalMs: 5_000,
  pongTimeoutMs: 30_000,
  maxBufferedBytes: 1 << 20,
  maxFrameBytes: 64 * 1024,
  killGraceMs: 2_000,
})

export interface ShellServerOptions {
  selfId: string
  /** The operators the node's current roster lists (read on every request: removals apply at once). */
  operators(): readonly OperatorEntry[]
  verify: Keyring['verify']
  clock: Clock
  logger?: Logger
  /** Called once per finished session (the agent gossips it and keeps it). */
  onSession?(session: ShellSession): void
  limits?: Partial<ShellLimits>
  /** The interactive shell; default bash -l if present, else sh -l. */
  loginShell?: string[]
}

/** What a running process looks like to a session, pty or pipes. */
interface Proc {
  write(data: Buffer): void
  endInput(): void
  resize(cols: number, rows: number): void
  pause(): void
  resume(): void
  kill(signal: NodeJS.Signals): void
}

export interface ShellCounters {
  active: number
  total: number
  refused: Record<GrantRefusal | 'busy' | 'bad-request', number>
  ended: Record<string, number>
}

function hex(n: number): string {
  return randomBytes(n).toString('hex')
}

export class ShellServer {
  private wss: WebSocketServer | undefined
  private readonly nonces = new NonceMemory()
  private readonly limits: ShellLimits
  private readonly log: Logger
  private readonly sessions = new Set<{ cut(reason: string): void }>()
  private readonly stats: ShellCounters = {
    active: 0,
    total: 0,
    refused: { unsigned: 0, malformed: 0, 'bad-signature': 0, 'unknown-operator': 0, expired: 0, 'not-yet-valid': 0, 'too-long': 0, 'wrong-node': 0, replayed: 0, busy: 0, 'bad-request': 0 },
    ended: {},
  }

  constructor(private readonly opts: ShellServerOptions) {
    this.limits = { ...defaultShellLimits, ...opts.limits }
    this.log = opts.logger ?? silentLogger
  }

  /** ws costs ~4-9 MB of RSS once loaded: only a node that is actually shelled into pays for it. */
  private async server(): Promise<WebSocketServer> {
    if (!this.wss) {
      const { WebSocketServer } = await import('ws')
      this.wss ??= new WebSocketServer({
        noServer: true,
        maxPayload: this.limits.maxFrameBytes,
        perMessageDeflate: false,
        handleProtocols: (protocols) => (protocols.has(SHELL_SUBPROTOCOL) ? SHELL_SUBPROTOCOL : false),
      })
    }
    return this.wss
  }

  counters(): ShellCounters {
    return { ...this.stats, refused: { ...this.stats.refused }, ended: { ...this.stats.ended } }
  }

  /** For the HTTP server's 'upgrade' event. Answers anything not /v1/shell with a 404. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy())
    const url = new URL(req.url ?? '/', 'http://agent')
    if (url.pathname !== '/v1/shell') return reject(socket, 404, 'not-found', `no WebSocket route ${url.pathname}; the shell is /v1/shell`)
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim())
    if (!offered.includes(SHELL_SUBPROTOCOL)) {
      this.stats.refused['bad-request']++
      return reject(socket, 400, 'bad-request', `the shell speaks the WebSocket subprotocol ${SHELL_SUBPROTOCOL} only`)
    }
    const tty = url.searchParams.get('tty') === '1'
    const size = Resize.safeParse({ Width: Number(url.searchParams.get('cols') ?? 80), Height: Number(url.searchParams.get('rows') ?? 24) })
    if (!size.success) {
      this.stats.refused['bad-request']++
      return reject(socket, 400, 'bad-request', 'cols and rows must be whole numbers from 1 to 1000')
    }
    const auth = String(req.headers.authorization ?? '')
    const token = auth.startsWith('ShoalGrant ') ? auth.slice('ShoalGrant '.length).trim() : undefined
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`
    const check = checkGrant(token, { selfId: this.opts.selfId, now: this.opts.clock.now(), operators: this.opts.operators(), verify: this.opts.verify, nonces: this.nonces })
    if (!check.ok) {
      this.stats.refused[check.reason]++
      this.log.warn({ component: 'shell', remote, reason: check.reason, err: check.message }, 'shell refused')
      return reject(socket, 403, check.reason, check.message)
    }
    if (this.stats.active >= this.limits.maxSessions) {
      this.stats.refused.busy++
      this.log.warn({ component: 'shell', remote, operator: check.grant.operator }, 'shell refused: busy')
      return reject(socket, 429, 'busy', `${this.stats.active} shell sessions are open on ${this.opts.selfId} (the limit is ${this.limits.maxSessions}); try again later`)
    }
    this.stats.active++
    void this.server().then(
      (wss) => {
        // ws drops a socket that closed meanwhile without calling back: count it here.
        if (socket.destroyed || !socket.writable) {
          this.stats.active--
          return socket.destroy()
        }
        wss.handleUpgrade(req, socket, head, (ws) => this.session(ws, check.grant, tty, size.data, remote))
      },
      (err: Error) => {
        this.stats.active--
        this.log.error({ component: 'shell', err: err.message }, 'cannot load ws')
        reject(socket, 500, 'internal', 'the shell is not available on this agent')
      },
    )
  }

  /** Cuts every session (their processes end) and stops accepting. Idempotent. */
  async close(): Promise<void> {
    for (const s of [...this.sessions]) s.cut('agent-stopping')
    const wss = this.wss
    if (wss) await new Promise<void>((resolve) => wss.close(() => resolve()))
  }

  private session(ws: WebSocket, grant: ShellGrant, tty: boolean, size: Resize, remote: string): void {
    const id = hex(8)
    const startedAt = this.opts.clock.now()
    const L = this.limits
    let bytesIn = 0
    let bytesOut = 0
    let lastActive = startedAt
    let lastPong = startedAt
    let ended = false
    let endReason = 'exit'
    let paused = false
    let proc: Proc | undefined
    let killTimer: NodeJS.Timeout | undefined
    const argv = grant.command ?? this.opts.loginShell ?? (existsSync('/bin/bash') ? ['/bin/bash', '-l'] : ['/bin/sh', '-l'])
    const log = { component: 'shell', session: id, operator: grant.operator, command: grant.command, tty, remote }
    this.log.info(log, 'shell session started')
    this.stats.total++

    const send = (channel: number, data: Buffer | string) => {
      if (ws.readyState !== ws.OPEN) return
      const f = frame(channel, data)
      bytesOut += f.length - 1
      lastActive = this.opts.clock.now()
      ws.send(f, () => {
        if (paused && ws.bufferedAmount < L.maxBufferedBytes / 2) {
          paused = false
          proc?.resume()
        }
      })
      if (!paused && ws.bufferedAmount >= L.maxBufferedBytes) {
        paused = true
        proc?.pause()
      }
    }

    const finish = (code: number | null, signal: string | null, status: ExecStatus) => {
      if (ended) return
      ended = true
      clearInterval(timer)
      if (killTimer) clearTimeout(killTimer)
      this.stats.active--
      this.sessions.delete(handle)
      this.stats.ended[endReason] = (this.stats.ended[endReason] ?? 0) + 1
      if (ws.readyState === ws.OPEN) {
        ws.send(frame(Channel.status, JSON.stringify(status)))
        ws.close(1000, 'done')
      }
      const record: ShellSession = {
        id,
        node: this.opts.selfId,
        operator: grant.operator,
        key: grant.key,
        command: grant.command,
        tty,
        remote,
        startedAt,
        durationMs: Math.max(0, this.opts.clock.now() - startedAt),
        exitCode: code,
        signal,
        end: endReason,
        bytesIn,
        bytesOut,
      }
      this.log.info({ ...log, shell: record }, 'shell session ended')
      try {
        this.opts.onSession?.(record)
      } catch (err) {
        this.log.warn({ component: 'shell', err: (err as Error).message }, 'shell audit hook failed')
      }
    }

    /** Ends the process for a reason other than its own exit; its exit then finishes the session. */
    const cut = (reason: string) => {
      if (ended) return
      if (endReason === 'exit') endReason = reason
      if (!proc) return finish(null, null, errorStatus(reason, `session ended: ${reason}`))
      proc.kill('SIGHUP')
      killTimer ??= setTimeout(() => proc?.kill('SIGKILL'), L.killGraceMs)
      if (reason !== 'client-gone') send(Channel.stderr, `\r\nshoal: session ended (${reason})\r\n`)
    }
    const handle = { cut }
    this.sessions.add(handle)

    const timer = setInterval(() => {
      const now = this.opts.clock.now()
      if (now - lastPong > L.pongTimeoutMs) {
        ws.terminate()
        return cut('client-gone')
      }
      if (now - lastActive > L.idleTimeoutMs) return cut('idle-timeout')
      if (ws.readyState === ws.OPEN) ws.ping()
    }, L.pingIntervalMs)
    timer.unref()

    ws.on('pong', () => (lastPong = this.opts.clock.now()))
    ws.on('close', () => cut('client-gone'))
    ws.on('error', () => cut('client-gone'))

    try {
      proc = tty ? this.spawnPty(argv, size, send, finish) : this.spawnPipes(argv, send, finish)
    } catch (err) {
      endReason = 'spawn-failed'
      return finish(null, null, errorStatus('SpawnFailed', `cannot start ${argv[0]}: ${(err as Error).message}`))
    }

    ws.on('message', (data: Buffer, isBinary: boolean) => {
      lastActive = this.opts.clock.now()
      lastPong = lastActive
      const msg = unframe(isBinary ? data : Buffer.from(data))
      if (!msg || ended) return
      switch (msg.channel) {
        case Channel.stdin:
          bytesIn += msg.payload.length
          proc!.write(msg.payload)
          return
        case Channel.resize: {
          let parsed: unknown
          try {
            parsed = JSON.parse(msg.payload.toString('utf8'))
          } catch {
            return
          }
          const r = Resize.safeParse(parsed)
          if (r.success) proc!.resize(r.data.Width, r.data.Height)
          return
        }
        case Channel.close:
          if (msg.payload[0] === Channel.stdin) proc!.endInput()
          return
        default:
          return // unknown channel: ignored, as v5 peers do
      }
    })
  }

  private spawnPty(argv: string[], size: Resize, send: (c: number, d: string | Buffer) => void, finish: (code: number | null, signal: string | null, s: ExecStatus) => void): Proc {
    // node-pty is a native module: loaded on the first interactive session only.
    const pty = loadPty()
    const p = pty.spawn(argv[0]!, argv.slice(1), {
      name: 'xterm-256color',
      cols: size.Width,
      rows: size.Height,
      cwd: process.env.HOME && existsSync(process.env.HOME) ? process.env.HOME : '/',
      env: shellEnv(),
    })
    // Linux drops what the pty has not handed to its reader yet (beyond the line
    // discipline's 4 KB) once the last holder of the terminal's slave side exits: the tail
    // of a command's output would be lost. Holding the slave open ourselves keeps it
    // flowing; node-pty then reports the exit after its 200 ms drain window.
    let slave: number | undefined
    try {
      const name = (p as unknown as { ptsName?: string }).ptsName
      if (name) slave = openSync(name, fsConstants.O_RDWR | fsConstants.O_NOCTTY)
    } catch {
      slave = undefined // best effort: without it, only the tail of a fast exit is at risk
    }
    p.onData((d) => send(Channel.stdout, d))
    p.onExit(({ exitCode, signal }) => {
      if (slave !== undefined) closeSync(slave)
      const sig = signal ? signalName(signal) : null
      const code = sig ? 128 + signal! : exitCode
      finish(code, sig, exitStatus(code, sig ?? undefined))
    })
    return {
      write: (d) => p.write(d.toString('utf8')),
      // A pty has no half-close: ^D is the terminal's end of file.
      endInput: () => p.write('\x04'),
      resize: (c, r) => p.resize(c, r),
      pause: () => p.pause(),
      resume: () => p.resume(),
      kill: (s) => {
        try {
          p.kill(s)
        } catch {
          // already gone
        }
      },
    }
  }

  private spawnPipes(argv: string[], send: (c: number, d: string | Buffer) => void, finish: (code: number | null, signal: string | null, s: ExecStatus) => void): Proc {
    const c: ChildProcessWithoutNullStreams = spawnChild(argv[0]!, argv.slice(1), { cwd: '/', env: shellEnv(), stdio: 'pipe' })
    c.stdout.on('data', (d: Buffer) => send(Channel.stdout, d))
    c.stderr.on('data', (d: Buffer) => send(Channel.stderr, d))
    c.stdin.on('error', () => {}) // EPIPE when the command ignores its input
    c.on('error', (err) => finish(null, null, errorStatus('SpawnFailed', `cannot start ${argv[0]}: ${err.message}`)))
    c.on('close', (code, signal) => {
      const sig = signal ?? null
      const n = code ?? (sig ? 128 + (signalNumber(sig) ?? 0) : 1)
      finish(n, sig, exitStatus(n, sig ?? undefined))
    })
    return {
      write: (d) => void c.stdin.write(d),
      endInput: () => c.stdin.end(),
      resize: () => {},
      pause: () => {
        c.stdout.pause()
        c.stderr.pause()
      },
      resume: () => {
        c.stdout.resume()
        c.stderr.resume()
      },
      kill: (s) => void c.kill(s),
    }
  }
}

type PtyModule = typeof import('node-pty')
let ptyModule: PtyModule | undefined
function loadPty(): PtyModule {
  ptyModule ??= createRequire(import.meta.url)('node-pty') as PtyModule
  return ptyModule
}

function signalName(n: number): string | null {
  for (const [name, num] of Object.entries(osConstants.signals)) if (num === n) return name
  return `SIG${n}`
}
function signalNumber(name: string): number | undefined {
  return (osConstants.signals as Record<string, number>)[name]
}

/** The session's environment: the agent's, minus anything that looks like a secret it was started with. */
function shellEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/TOKEN|SECRET|PASSWORD|KEY/i.test(k)) env[k] = v
  env.TERM = 'xterm-256color'
  return env
}

function reject(socket: Duplex, status: number, code: ErrorCode, message: string): void {
  const body = JSON.stringify({ error: { code, message } })
  const reason = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 500: 'Internal Server Error' }[status] ?? 'Error'
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
}
