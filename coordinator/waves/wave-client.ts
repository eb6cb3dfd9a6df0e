/**
 * The operator's client for the coordinator's admin APIs — one for every command that
 * talks to it (`shoal upgrade`, `shoal lease`, `shoal coordinator nodes|audit|...`): where
 * the coordinator is (--coordinator, SHOAL_COORDINATOR_URL, default
 * http://127.0.0.1:8080), the admin token (--admin-token, SHOAL_ADMIN_TOKEN, or the file
 * <data-dir>/admin-token the coordinator wrote), and one error mapping: unreachable -> exit
 * 3, a refusal by the coordinator -> its message and exit 1 (a 400 may count as a usage
 * error, exit 2, where the caller says so).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ShoalError } from '../../agent/protocol/errors.js'
import { defaultCoordinatorConfig } from '../coordinator-config.js'
import { readCapped } from '../../agent/api/read-capped.js'

/** Largest admin answer read (a node listing of 10,000 nodes, an audit page of 10,000 entries: a few MB). */
const MAX_ADMIN_ANSWER_BYTES = 64 * 1024 * 1024
async function* emptyBody(): AsyncGenerator<Uint8Array> {}

export const clientOptions = {
  coordinator: { type: 'string' },
  url: { type: 'string' },
  'admin-token': { type: 'string' },
  'data-dir': { type: 'string' },
} as const

export interface WaveClient {
  url: string
  call(path: string, body?: unknown): Promise<unknown>
}

export async function waveClient(values: Record<string, unknown>, env: Record<string, string | undefined> = process.env): Promise<WaveClient> {
  const url = String(values.coordinator ?? values.url ?? env.SHOAL_COORDINATOR_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '')
  if (!/^https?:\/\/[^\s/]+$/.test(url)) throw new ShoalError('usage', `--coordinator must be http(s)://host[:port], not "${url}"`)
  const token = await adminToken(values['admin-token'] as string | undefined, (values['data-dir'] as string | undefined) ?? env.SHOAL_COORDINATOR_DATA_DIR ?? defaultCoordinatorConfig.dataDir, env)
  return { url, call: (path, body) => adminCall(url, token, path, body) }
}

/** The admin token: the flag, else SHOAL_ADMIN_TOKEN, else `<dataDir>/admin-token`. */
export async function adminToken(flag: string | undefined, dataDir: string, env: Record<string, string | undefined> = process.env): Promise<string> {
  if (flag) return flag
  if (env.SHOAL_ADMIN_TOKEN) return env.SHOAL_ADMIN_TOKEN
  const file = join(dataDir, 'admin-token')
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch {
    throw new ShoalError('usage', `no admin token: pass --admin-token, set SHOAL_ADMIN_TOKEN, or run on the coordinator host where ${file} exists (--data-dir)`)
  }
}

export interface AdminCallOptions {
  /** How a 400 answer counts: `refused` (exit 1, default) or `usage` (exit 2: the operator's input was wrong). */
  badRequest?: 'refused' | 'usage'
  /** The flag that names the coordinator, for the unreachable message. Default `--coordinator URL`. */
  urlFlag?: string
  /** ShoalError code of every other refusal (default: `unauthorized` for 401, else `refused`); the exit code is 1 either way. */
  refusedCode?: string
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
    throw new ShoalError('unreachable', `cannot reach the coordinator at ${url}: ${cause} (is it running? ${opts.urlFlag ?? '--coordinator URL'})`)
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
    throw new ShoalError(res.status === 400 && opts.badRequest === 'usage' ? 'usage' : (opts.refusedCode ?? (res.status === 401 ? 'unauthorized' : 'refused')), msg)
  }
  return json
}
