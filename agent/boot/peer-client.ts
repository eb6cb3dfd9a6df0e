/**
 * Asks one agent for the cluster's known fingerprints (GET /v1/fingerprints) with the one
 * bounded client (agent/http/http-client.ts: node:http only, as the initramfs wants).
 * Everything about the answer is bounded: one deadline for the whole exchange and a byte cap on the body, so a peer that
 * is down, hangs or streams without end costs at most `timeoutMs` and `maxBytes`.
 * Returns the decoded JSON (the caller checks its schema); failures are ShoalErrors whose
 * code names the drop reason: unreachable, too-large, peer-http-status, peer-not-json.
 */
import { ShoalError } from '../protocol/errors.js'
import { httpExchange, HttpClientError, type HttpAnswer } from '../http/http-client.js'

export const FINGERPRINTS_PATH = '/v1/fingerprints'

export interface PeerClientOptions {
  /** Deadline for connect + headers + body. */
  timeoutMs: number
  /** Bodies longer than this are cut off and dropped. */
  maxBytes: number
}

export async function fetchPeerFingerprints(address: string, opts: PeerClientOptions): Promise<unknown> {
  let res: HttpAnswer
  try {
    res = await httpExchange(`http://${address}${FINGERPRINTS_PATH}`, { headers: { accept: 'application/json' }, timeoutMs: opts.timeoutMs, maxBytes: opts.maxBytes })
  } catch (err) {
    if (err instanceof HttpClientError && err.code === 'too-large') {
      throw new ShoalError('too-large', `the agent at ${address} sent more than ${opts.maxBytes} bytes for ${FINGERPRINTS_PATH}; ignoring its answer`)
    }
    const why = err instanceof HttpClientError && err.phase === 'body' ? `the answer of the agent at ${address} broke off` : `cannot reach the agent at ${address}`
    throw new ShoalError('unreachable', `${why}: ${(err as Error).message}`, { cause: err })
  }
  const text = res.body.toString('utf8')
  if (res.status !== 200) {
    throw new ShoalError('peer-http-status', `the agent at ${address} answered ${FINGERPRINTS_PATH} with HTTP ${res.status} (an agent older than this boot image, or not an agent): ${text.slice(0, 120)}`)
  }
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new ShoalError('peer-not-json', `the agent at ${address} answered ${FINGERPRINTS_PATH} with a body that is not JSON`, { cause: err })
  }
}
