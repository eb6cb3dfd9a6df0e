/**
 * Asks one agent for the cluster's known fingerprints (GET /v1/fingerprints) over plain
 * node:http — the initramfs carries no HTTP library. Everything about the answer is
 * bounded: one deadline for the whole exchange and a byte cap on the body, so a peer that
 * is down, hangs or streams without end costs at most `timeoutMs` and `maxBytes`.
 * Returns the decoded JSON (the caller checks its schema); failures are ShoalErrors whose
 * code names the drop reason: peer-unreachable, peer-http-status, peer-too-large, peer-not-json.
 */
import { get, type IncomingMessage } from 'node:http'
import { ShoalError } from '../protocol/errors.js'

export const FINGERPRINTS_PATH = '/v1/fingerprints'

export interface PeerClientOptions {
  /** Deadline for connect + headers + body. */
  timeoutMs: number
  /** Bodies longer than this are cut off and dropped. */
  maxBytes: number
}

export async function fetchPeerFingerprints(address: string, opts: PeerClientOptions): Promise<unknown> {
  const signal = AbortSignal.timeout(opts.timeoutMs)
  const url = `http://${address}${FINGERPRINTS_PATH}`
  let res: IncomingMessage
  try {
    res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = get(url, { signal, headers: { accept: 'application/json' } }, resolve)
      req.on('error', reject)
    })
  } catch (err) {
    throw new ShoalError('peer-unreachable', `cannot reach the agent at ${address}: ${describe(err, signal)}`, { cause: err })
  }
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of res) {
      size += (chunk as Buffer).length
      if (size > opts.maxBytes) {
        res.destroy()
        throw new ShoalError('peer-too-large', `the agent at ${address} sent more than ${opts.maxBytes} bytes for ${FINGERPRINTS_PATH}; ignoring its answer`)
      }
      chunks.push(chunk as Buffer)
    }
  } catch (err) {
    if (err instanceof ShoalError) throw err
    throw new ShoalError('peer-unreachable', `the answer of the agent at ${address} broke off: ${describe(err, signal)}`, { cause: err })
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (res.statusCode !== 200) {
    throw new ShoalError('peer-http-status', `the agent at ${address} answered ${FINGERPRINTS_PATH} with HTTP ${res.statusCode} (an agent older than this boot image, or not an agent): ${text.slice(0, 120)}`)
  }
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new ShoalError('peer-not-json', `the agent at ${address} answered ${FINGERPRINTS_PATH} with a body that is not JSON`, { cause: err })
  }
}

function describe(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) return 'timed out'
  const e = err as { code?: string; message?: string }
  return e?.code ?? e?.message ?? String(err)
}
