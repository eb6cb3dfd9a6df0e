/**
 * One error base for the whole project: a stable machine-readable `code`, a message that
 * says what to do, and the underlying `cause`.
 */
export class ShoalError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
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
