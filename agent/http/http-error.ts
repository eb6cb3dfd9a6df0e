/**
 * The one error an HTTP server of shoal (the agent's API, the coordinator) answers with: a
 * status, a stable `code` from the registry (agent/protocol/error-codes.ts) and a message
 * that says what to do. Every failure becomes the body `{ error: { code, message, issues? } }`.
 */
import { ShoalError } from '../protocol/errors.js'
import { errorCodeInfo, type ErrorCode, type ForeignCode } from '../protocol/error-codes.js'

export interface Issue {
  path: string
  message: string
}

/** What every refused request carries (the OpenAPI documents publish it as ErrorBody). */
export interface ErrorReply {
  error: { code: string; message: string; issues?: Issue[] }
}

/** An error that becomes an HTTP answer with a stable code. */
export class HttpError extends ShoalError {
  constructor(
    readonly status: number,
    code: ErrorCode | ForeignCode,
    message: string,
    readonly issues?: Issue[],
  ) {
    super(code, message)
    this.name = 'HttpError'
  }
}

/** The statuses a ShoalError thrown inside a coordinator route answers with (any other code: 500). */
const ROUTE_STATUS: ReadonlySet<string> = new Set(['not-found', 'usage', 'conflict'])

/**
 * The answer for a thrown error: HttpError as it is, a ShoalError by its code (not-found,
 * usage and conflict with their registry status, any other 500), anything else undefined
 * (a 500 the server words).
 */
export function httpErrorOf(err: unknown): HttpError | undefined {
  if (err instanceof HttpError) return err
  if (err instanceof ShoalError) return new HttpError(ROUTE_STATUS.has(err.code) ? (errorCodeInfo(err.code)?.status ?? 500) : 500, err.code, err.message)
  return undefined
}
