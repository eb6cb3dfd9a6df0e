import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ed25519Keyring, ed25519Verify } from './ed25519.js'
import { errorStatus, exitStatus, frame, statusExitCode, unframe } from './shell-channel.js'
import { checkGrant, NonceMemory, signGrant, type ShellGrant } from './shell-grant.js'

const op = ed25519Keyring(randomBytes(32))
const now = 1_800_000_000_000
const grant = (over: Partial<ShellGrant> = {}): ShellGrant => ({ v: 1, node: 'n1', operator: 'alice', key: op.publicKey, command: null, issuedAt: now, expiresAt: now + 300_000, nonce: 'ab'.repeat(16), ...over })
const ctx = (nonces = new NonceMemory()) => ({ selfId: 'n1', now, operators: [{ name: 'alice', key: op.publicKey }], verify: ed25519Verify, nonces })

describe('shell grants', () => {
  it('accepts a fresh grant once, and refuses a body changed after signing', () => {
    const token = signGrant(grant(), op)
    const c = ctx()
    expect(checkGrant(token, c)).toMatchObject({ ok: true, grant: { node: 'n1', command: null } })
    expect(checkGrant(token, c)).toMatchObject({ ok: false, reason: 'replayed' })
    const [, sig] = token.split('.')
    const forged = Buffer.from(JSON.stringify(grant({ command: ['rm', '-rf', '/'] }))).toString('base64url')
    expect(checkGrant(`${forged}.${sig}`, ctx())).toMatchObject({ ok: false, reason: 'bad-signature' })
  })

  it('does not burn the nonce of a refused grant, and fails closed when the nonce memory is full', () => {
    const c = ctx(new NonceMemory(1))
    expect(checkGrant(signGrant(grant({ node: 'n2' }), op), c)).toMatchObject({ reason: 'wrong-node' })
    expect(checkGrant(signGrant(grant(), op), c).ok).toBe(true)
    expect(checkGrant(signGrant(grant({ nonce: 'cd'.repeat(16) }), op), c)).toMatchObject({ reason: 'replayed' })
    // Once the first grant expired, its slot is free again.
    expect(checkGrant(signGrant(grant({ nonce: 'cd'.repeat(16), issuedAt: now + 301_000, expiresAt: now + 400_000 }), op), { ...c, now: now + 301_000 }).ok).toBe(true)
  })
})

describe('v5 channel framing', () => {
  it('frames and unframes, and maps statuses to exit codes', () => {
    expect(unframe(frame(1, 'hi'))).toEqual({ channel: 1, payload: Buffer.from('hi') })
    expect(unframe(Buffer.alloc(0))).toBeUndefined()
    expect(statusExitCode(exitStatus(0))).toBe(0)
    expect(statusExitCode(exitStatus(3))).toBe(3)
    expect(statusExitCode(exitStatus(130, 'SIGINT'))).toBe(130)
    expect(statusExitCode(errorStatus('SpawnFailed', 'no such file'))).toBe(1)
  })
})
