import type { ErrorCode, ForeignCode } from './error-codes.js'

/**
 * One error base for the whole project: a stable machine-readable `code` from the closed set
 * (./error-codes.ts, which says what each means and how to fix it), a message that says what
 * to do, and the underlying `cause`. A code read from another process's answer comes in
 * through foreignCode() and is kept as it was.
 */
export class ShoalError extends Error {
  readonly code: ErrorCode | ForeignCode
  constructor(code: ErrorCode | ForeignCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'ShoalError'
  }
}

/** Why an inbound frame or message was dropped; each one is a counter in /v1/self. */
export const DropReason = {
  frameTooLarge: 'frame-too-large',
  malformed: 'malformed',
  badVersion: 'bad-version',
  unknownType: 'unknown-type',
  schema: 'schema',
  badSignature: 'bad-signature',
  notOnRoster: 'not-on-roster',
  stale: 'stale',
  replay: 'replay',
  /** A record or claim whose incarnation its subject cannot have reached yet (membership.ts, `incarnationBound`). */
  implausibleIncarnation: 'implausible-incarnation',
} as const
export type DropReason = (typeof DropReason)[keyof typeof DropReason]
