/**
 * A throwaway self-signed certificate for 127.0.0.1 (openssl CLI), so the fake API server
 * can speak HTTPS the way a real one does: CA-pinned clients, bearer tokens over TLS.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface SelfSignedCert {
  key: string
  cert: string
}

/** Rejects with a clear message when openssl is missing. */
export async function selfSignedCert(host = '127.0.0.1'): Promise<SelfSignedCert> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-cert-'))
  try {
    const san = /^[\d.]+$/.test(host) ? `IP:${host}` : `DNS:${host}`
    await new Promise<void>((resolve, reject) =>
      execFile('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', `/CN=${host}`,
        '-addext', `subjectAltName=${san}`], { timeout: 20_000 }, (err, _o, stderr) =>
        err ? reject(new Error(`openssl could not make a test certificate (is openssl installed?): ${stderr || err.message}`)) : resolve()),
    )
    return { key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(join(dir, 'cert.pem'), 'utf8') }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
