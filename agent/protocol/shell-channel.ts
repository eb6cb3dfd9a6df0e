/**
 * The remote shell's framing: kubectl exec's WebSocket subprotocol `v5.channel.k8s.io`
 * (KEP-4006). Every binary message is one channel byte and its payload:
 *   0 stdin, 1 stdout, 2 stderr (not used with a TTY), 3 status (one final JSON, then the
 *   server closes), 4 resize (JSON {Width, Height}), 255 close ([255, channel] half-closes
 *   that stream: [255, 0] is stdin's end of file).
 * Also the audit record every session leaves behind. Pure: no IO.
 */
import { z } from 'zod'
import { NodeId } from './node-record.js'
import { OperatorName } from './shell-grant.js'

export const SHELL_SUBPROTOCOL = 'v5.channel.k8s.io'
export const Channel = { stdin: 0, stdout: 1, stderr: 2, status: 3, resize: 4, close: 255 } as const

export function frame(channel: number, payload: Uint8Array | string = new Uint8Array(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload
  const out = Buffer.allocUnsafe(body.length + 1)
  out[0] = channel
  out.set(body, 1)
  return out
}

export type Decoded = { channel: number; payload: Buffer } | undefined

/** Splits a message into channel and payload; undefined for an empty message. */
export function unframe(data: Buffer): Decoded {
  if (data.length === 0) return undefined
  return { channel: data[0]!, payload: data.subarray(1) }
}

export const Resize = z.object({ Width: z.number().int().min(1).max(1000), Height: z.number().int().min(1).max(1000) }).strict()
export type Resize = z.infer<typeof Resize>

/** The channel-3 status: kubectl's metav1.Status shape, so its clients understand it. */
export const ExecStatus = z
  .object({
    metadata: z.object({}).passthrough(),
    status: z.enum(['Success', 'Failure']),
    message: z.string().optional(),
    reason: z.string().optional(),
    details: z.object({ causes: z.array(z.object({ reason: z.string(), message: z.string() })) }).optional(),
  })
  .passthrough()
export type ExecStatus = z.infer<typeof ExecStatus>

export function exitStatus(code: number, signal?: string): ExecStatus {
  if (code === 0 && !signal) return { metadata: {}, status: 'Success' }
  return {
    metadata: {},
    status: 'Failure',
    message: signal ? `command terminated by signal ${signal}` : `command terminated with non-zero exit code: ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }, ...(signal ? [{ reason: 'Signal', message: signal }] : [])] },
  }
}

/** A status that is not about the command (the session could not run, or was cut). */
export function errorStatus(reason: string, message: string): ExecStatus {
  return { metadata: {}, status: 'Failure', reason, message }
}

/** The exit code a client should take from a status: the command's, or 1 when it never ran. */
export function statusExitCode(s: ExecStatus): number {
  if (s.status === 'Success') return 0
  const c = s.details?.causes.find((x) => x.reason === 'ExitCode')
  const n = c ? Number(c.message) : NaN
  return Number.isInteger(n) && n >= 0 && n <= 255 ? n : 1
}

/** One finished session, as the agent logs it, gossips it (app topic `shell.audit`) and the coordinator stores it. */
export const ShellSession = z
  .object({
    id: z.string().regex(/^[0-9a-f]{16}$/),
    node: NodeId,
    operator: OperatorName,
    key: z.string().max(64),
    /** null: interactive. */
    command: z.array(z.string().max(4096)).max(256).nullable(),
    tty: z.boolean(),
    remote: z.string().max(64),
    startedAt: z.number().int().nonnegative(),
    durationMs: z.number().int().nonnegative(),
    exitCode: z.number().int().nullable(),
    signal: z.string().max(16).nullable(),
    /** Why it ended: exit, client-gone, idle-timeout, agent-stopping, spawn-failed. */
    end: z.string().max(32),
    bytesIn: z.number().int().nonnegative(),
    bytesOut: z.number().int().nonnegative(),
  })
  // Not strict: a newer agent's record with more fields is still this session (additive wire).
  .strip()
export type ShellSession = z.infer<typeof ShellSession>

export const SHELL_AUDIT_TOPIC = 'shell.audit'
