/**
 * The one error an HTTP server of shoal (the agent's API, the coordinator) answers with: a
 * status, a stable `code` from the registry (agent/protocol/error-codes.ts) and a message
 * that says what to do. Every failure becomes the body `{ error: { code, message, issues? } }`.
 */
import { ShoalError } from '../protocol/errors.js'

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
    code: string,
    message: string,
    readonly issues?: Issue[],
  ) {
    super(code, message)
    this.name = 'HttpError'
  }
}

/** The answer for a thrown error: HttpError as it is, a ShoalError by its code, anything else undefined (a 500 the server words). */
export function httpErrorOf(err: unknown): HttpError | undefined {
  if (err instanceof HttpError) return err
  if (err instanceof ShoalError) {
    const status = err.code === 'not-found' ? 404 : err.code === 'usage' ? 400 : err.code === 'conflict' ? 409 : 500
    return new HttpError(status, err.code, err.message)
  }
  return undefined
}
