/**
 * Operator key files: the private key signs shell grants (`shoal shell`), the public key
 * goes on the roster (`shoal coordinator operator add NAME --key FILE.pub`). Accepted: our
 * own format (64 hex characters: the private seed, or the public key) or PEM as
 * `openssl genpkey -algorithm ed25519` / `openssl pkey -pubout` write them.
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { ed25519Keyring, publicKeyHexFromSeed } from '../agent/protocol/ed25519.js'
import { ShoalError } from '../agent/protocol/errors.js'
import type { Keyring } from '../agent/protocol/ports.js'

async function readKeyFile(file: string, what: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch (err) {
    throw new ShoalError('usage', `cannot read the ${what} ${file}: ${(err as Error).message}`)
  }
}

/** The operator's signing key from a file. */
export async function readOperatorKey(file: string): Promise<Keyring> {
  const text = await readKeyFile(file, 'operator key')
  if (/^[0-9a-f]{64}$/i.test(text)) return ed25519Keyring(Buffer.from(text, 'hex'))
  if (text.startsWith('-----BEGIN PRIVATE KEY-----')) {
    try {
      const der = createPrivateKey(text).export({ format: 'der', type: 'pkcs8' })
      return ed25519Keyring(der.subarray(der.length - 32))
    } catch (err) {
      throw new ShoalError('usage', `${file} is not an ed25519 private key: ${(err as Error).message}`)
    }
  }
  throw new ShoalError('usage', `${file} is not an operator private key (64 hex characters or an ed25519 PEM; make one with: shoal coordinator operator keygen FILE)`)
}

/** A public key (hex) from a .pub file. */
export async function readPublicKey(file: string): Promise<string> {
  const text = await readKeyFile(file, 'public key')
  if (/^[0-9a-f]{64}$/i.test(text)) return text.toLowerCase()
  if (text.startsWith('-----BEGIN PUBLIC KEY-----')) {
    try {
      const key = createPublicKey(text)
      if (key.asymmetricKeyType !== 'ed25519') throw new Error(`it is ${key.asymmetricKeyType}`)
      const der = key.export({ format: 'der', type: 'spki' })
      return Buffer.from(der.subarray(der.length - 32)).toString('hex')
    } catch (err) {
      throw new ShoalError('usage', `${file} is not an ed25519 public key: ${(err as Error).message}`)
    }
  }
  throw new ShoalError('usage', `${file} is not a public key (64 hex characters or an ed25519 PEM)`)
}

/** Writes FILE (private seed, mode 0600, never overwritten) and FILE.pub; returns the public key. */
export async function writeOperatorKey(file: string): Promise<string> {
  const seed = randomBytes(32)
  const pub = publicKeyHexFromSeed(seed)
  await writeFile(file, seed.toString('hex') + '\n', { mode: 0o600, flag: 'wx' }).catch((err) => {
    throw new ShoalError('usage', `cannot create ${file}: ${(err as Error).message}`)
  })
  await writeFile(`${file}.pub`, pub + '\n')
  return pub
}
