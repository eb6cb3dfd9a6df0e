/**
 * The cluster signing key as a file: the 32-byte ed25519 seed in hex (64 characters and a
 * newline), mode 0600. The same seed signs manifests here and certificates in the coordinator.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { ShoalError } from '../agent/protocol/errors.js'
import { ed25519Keyring } from '../agent/protocol/ed25519.js'
import type { Keyring } from '../agent/protocol/ports.js'

export async function readClusterKey(path: string): Promise<Keyring> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ShoalError('not-found', `cluster key file ${path} cannot be read (${(err as Error).message}); pass --key FILE or --new-key`, { cause: err })
  }
  const hex = text.trim()
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new ShoalError('malformed', `cluster key file ${path} must hold 64 lowercase hex characters (a 32-byte ed25519 seed)`)
  return ed25519Keyring(Buffer.from(hex, 'hex'))
}

/** Writes a fresh random seed to `path` (0600) and returns its keyring. */
export async function createClusterKey(path: string): Promise<Keyring> {
  const seed = randomBytes(32)
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, seed.toString('hex') + '\n', { mode: 0o600 })
  await chmod(path, 0o600)
  return ed25519Keyring(seed)
}
