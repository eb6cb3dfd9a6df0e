/**
 * The client side of the remote shell (agent/api/shell-server.ts): opens
 * `ws://AGENT/v1/shell` with a signed grant, copies stdin to channel 0 and channels 1/2 to
 * stdout/stderr, sends resizes on channel 4 and resolves with the remote exit status
 * (channel 3). Used by `shoal shell`, the tests and the benchmark.
 */
import { WebSocket } from 'ws'
import { ShoalError } from '../protocol/errors.js'
import { Channel, ExecStatus, frame, SHELL_SUBPROTOCOL, statusExitCode, unframe } from '../protocol/shell-channel.js'

export interface ShellOpenOptions {
  /** host:port of the target node's agent API. */
  address: string
  /** The signed grant (agent/protocol/shell-grant.ts signGrant). */
  token: string
  tty: boolean
  cols?: number
  rows?: number
  /** Connect + handshake deadline. */
  timeoutMs?: number
}

export interface ShellHandlers {
  stdout(data: Buffer): void
  stderr(data: Buffer): void
}

/** One open session. */
export class ShellConnection {
  /** Resolves with the remote exit status; rejects (ShoalError 'unreachable') when the link breaks before a status came. */
  readonly done: Promise<number>
  status: ExecStatus | undefined
  constructor(private readonly ws: WebSocket, handlers: ShellHandlers) {
    this.done = new Promise<number>((resolve, reject) => {
      ws.on('message', (data: Buffer) => {
        const m = unframe(data)
        if (!m) return
        if (m.channel === Channel.stdout) handlers.stdout(m.payload)
        else if (m.channel === Channel.stderr) handlers.stderr(m.payload)
        else if (m.channel === Channel.status) {
          try {
            this.status = ExecStatus.parse(JSON.parse(m.payload.toString('utf8')))
          } catch {
            this.status = { metadata: {}, status: 'Failure', message: 'unreadable status from the agent' }
          }
        }
      })
      ws.on('close', (code, reason) => {
        if (this.status) return resolve(statusExitCode(this.status))
        reject(new ShoalError('unreachable', `the shell connection closed without an exit status (${code}${reason.length ? ` ${reason.toString()}` : ''})`))
      })
      ws.on('error', () => {}) // 'close' follows and says what happened
    })
    // A caller that dropped the session itself (close()) need not await it.
    this.done.catch(() => {})
  }

  write(data: Buffer | string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame(Channel.stdin, typeof data === 'string' ? Buffer.from(data) : data))
  }

  /** End of file on the remote command's stdin. */
  endInput(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame(Channel.close, Buffer.from([Channel.stdin])))
  }

  resize(cols: number, rows: number): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame(Channel.resize, JSON.stringify({ Width: cols, Height: rows })))
  }

  /** Drops the connection (the agent then ends the remote process). */
  close(): void {
    this.ws.terminate()
  }
}

/** Opens a session; rejects with ShoalError 'refused' (the agent's reason) or 'unreachable'. */
export function openShell(o: ShellOpenOptions, handlers: ShellHandlers): Promise<ShellConnection> {
  const q = new URLSearchParams({ tty: o.tty ? '1' : '0', cols: String(o.cols ?? 80), rows: String(o.rows ?? 24) })
  const ws = new WebSocket(`ws://${o.address}/v1/shell?${q}`, [SHELL_SUBPROTOCOL], {
    headers: { authorization: `ShoalGrant ${o.token}` },
    perMessageDeflate: false,
    handshakeTimeout: o.timeoutMs ?? 10_000,
    maxPayload: 1 << 20,
  })
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c))
      res.on('end', () => {
        let code = `http-${res.statusCode}`
        let message = `the agent at ${o.address} answered ${res.statusCode}`
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { code?: string; message?: string } }
          if (body.error?.code) code = body.error.code
          if (body.error?.message) message = body.error.message
        } catch {
          // not our JSON: keep the status line
        }
        const err = new ShoalError('refused', `shell refused (${code}): ${message}`)
        ;(err as ShoalError & { reason: string }).reason = code
        reject(err)
        ws.terminate()
      })
    })
    ws.once('open', () => resolve(new ShellConnection(ws, handlers)))
    ws.once('error', (err) => reject(new ShoalError('unreachable', `cannot open a shell at ${o.address}: ${err.message}`, { cause: err })))
  })
}
