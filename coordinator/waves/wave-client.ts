/**
 * One call to the coordinator's admin APIs — for every command that talks to it (`shoal
 * upgrade`, `shoal lease`, `shoal coordinator nodes|audit|...`; where the coordinator and
 * the token are is cli/clients.ts), with one error mapping: unreachable -> exit
 * 3, a refusal by the coordinator -> its message and exit 1 (a 400 may count as a usage
 * error, exit 2, where the caller says so).
 */
import { ShoalError } from '../../agent/protocol/errors.js'
import type { ErrorCode } from '../../agent/protocol/error-codes.js'
import { readCapped } from '../../agent/api/read-capped.js'

/** Largest admin answer read (a node listing of 10,000 nodes, an audit page of 10,000 entries: a few MB). */
const MAX_ADMIN_ANSWER_BYTES = 64 * 1024 * 1024
async function* emptyBody(): AsyncGenerator<Uint8Array> {}

export interface AdminCallOptions {
  /** How a 400 answer counts: `refused` (exit 1, default) or `usage` (exit 2: the operator's input was wrong). */
  badRequest?: 'refused' | 'usage'
  /** The flag that names the coordinator, for the unreachable message. Default `--coordinator URL`. */
  urlFlag?: string
  /** ShoalError code of every other refusal (default: `unauthorized` for 401, else `refused`); the exit code is 1 either way. */
  refusedCode?: ErrorCode
}

/** One admin API call: GET without a body, POST with one; the JSON answer, or a ShoalError saying why not. */
export async function adminCall(url: string, token: string, path: string, body?: unknown, opts: AdminCallOptions = {}): Promise<unknown> {
  let res: Response
  try {
    res = await fetch(`${url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    })
  } catch (err) {
    const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message
    throw new ShoalError('unreachable', `cannot reach the coordinator at ${url} (${cause}); is it running? pass ${opts.urlFlag ?? '--coordinator URL'} of a running coordinator`)
  }
  let text: string
  try {
    text = (await readCapped(res.body ?? emptyBody(), MAX_ADMIN_ANSWER_BYTES, `the coordinator's answer to ${path}`)).toString('utf8')
  } catch (err) {
    if (err instanceof ShoalError) throw new ShoalError('bad-answer', err.message)
    throw new ShoalError('unreachable', `the coordinator at ${url} broke off its answer: ${(err as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new ShoalError('bad-answer', `the coordinator answered ${res.status} with a body that is not JSON`)
  }
  if (!res.ok) {
    const msg = (json as { error?: { message?: string } })?.error?.message ?? `HTTP ${res.status}`
    if (res.status === 401) throw new ShoalError(opts.refusedCode ?? 'unauthorized', `the coordinator at ${url} refused the admin token (${msg}); give the right one with --admin-token-file FILE (the coordinator wrote it to <data-dir>/admin-token)`)
    throw new ShoalError(res.status === 400 && opts.badRequest === 'usage' ? 'usage' : (opts.refusedCode ?? (res.status === 401 ? 'unauthorized' : 'refused')), msg)
  }
  return json
}
