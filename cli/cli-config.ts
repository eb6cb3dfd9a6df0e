/**
 * The CLI's config file, kubectl-style contexts: where the agents and the coordinator of
 * one cluster are, and where its admin token lives.
 *
 *   # $XDG_CONFIG_HOME/shoal/config.yaml (else ~/.config/shoal/config.yaml; $SHOAL_CONFIG overrides)
 *   current-context: lab
 *   contexts:
 *     lab:
 *       agents: [10.0.0.11:7400, 10.0.0.12:7400]   # the first is asked; watch fails over to the others
 *       coordinator: http://10.0.0.1:8080
 *       admin-token-file: ~/.config/shoal/lab.token
 *
 * Precedence, for every setting: flag > environment variable > the context in this file >
 * built-in default. The context is `--context`, else $SHOAL_CONTEXT, else current-context.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { z } from 'zod'
import { ShoalError } from '../agent/protocol/errors.js'

const HostPort = z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'expected HOST:PORT')

export const CliContext = z
  .object({
    agents: z.array(HostPort).optional(),
    coordinator: z.string().regex(/^https?:\/\/[^\s/]+\/?$/, 'expected http(s)://host[:port]').optional(),
    'admin-token-file': z.string().min(1).optional(),
  })
  .strict()
export type CliContext = z.infer<typeof CliContext>

export const CliConfig = z
  .object({
    'current-context': z.string().optional(),
    contexts: z.record(z.string(), CliContext).default({}),
  })
  .strict()
export type CliConfig = z.infer<typeof CliConfig>

type Env = Record<string, string | undefined>

export function configPath(env: Env = process.env): string {
  if (env.SHOAL_CONFIG) return env.SHOAL_CONFIG
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config')
  return join(base, 'shoal', 'config.yaml')
}

/** The config file, or an empty one when there is none. A broken file is an error naming the field. */
export function readCliConfig(env: Env = process.env): CliConfig {
  const path = configPath(env)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: {} }
    throw new ShoalError('config', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  let raw: unknown
  try {
    raw = parseYaml(text) ?? {}
  } catch (err) {
    throw new ShoalError('config', `${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}; fix it, or move it away`)
  }
  const r = CliConfig.safeParse(raw)
  if (!r.success) {
    const i = r.error.issues[0]!
    throw new ShoalError('config', `${path}: ${i.path.join('.') || '(top)'}: ${i.message}; fix it (see: shoal config --help)`)
  }
  return r.data
}

export function writeCliConfig(config: CliConfig, env: Env = process.env): string {
  const path = configPath(env)
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, toYaml(config), { mode: 0o600 })
  renameSync(tmp, path)
  return path
}

/** The selected context (flag > SHOAL_CONTEXT > current-context), or an empty one. A named context that does not exist is an error. */
export function currentContext(flag: string | undefined, env: Env = process.env, config: CliConfig = readCliConfig(env)): { name: string | undefined; context: CliContext } {
  const name = flag ?? env.SHOAL_CONTEXT ?? config['current-context']
  if (name === undefined) return { name: undefined, context: {} }
  const context = config.contexts[name]
  if (!context) {
    const known = Object.keys(config.contexts)
    throw new ShoalError('usage', `no context "${name}" in ${configPath(env)}${known.length ? ` (known: ${known.join(', ')})` : ''}; create it with: shoal config set-context ${name} --agent HOST:PORT`)
  }
  return { name, context }
}

const expandHome = (p: string, env: Env) => (p.startsWith('~/') ? join(env.HOME || homedir(), p.slice(2)) : p)

export const DEFAULT_AGENT = '127.0.0.1:7400'
export const DEFAULT_COORDINATOR = 'http://127.0.0.1:8080'

/** Agents to ask, in order: the one named (flag > env > context's first > default), then the context's others. */
export function agentAddresses(values: Record<string, unknown>, env: Env = process.env): string[] {
  const { context } = currentContext(values.context as string | undefined, env)
  const first = (values.agent as string | undefined) ?? env.SHOAL_AGENT ?? context.agents?.[0] ?? DEFAULT_AGENT
  return [...new Set([first, ...(context.agents ?? [])])]
}

export function coordinatorUrl(values: Record<string, unknown>, env: Env = process.env): string {
  const { context } = currentContext(values.context as string | undefined, env)
  const url = String(values.coordinator ?? env.SHOAL_COORDINATOR_URL ?? context.coordinator ?? DEFAULT_COORDINATOR).replace(/\/+$/, '')
  if (!/^https?:\/\/[^\s/]+$/.test(url)) throw new ShoalError('usage', `--coordinator must be http(s)://host[:port], not "${url}"`)
  return url
}

/** Where the admin token comes from, in precedence order; the first that yields one wins. */
export function adminTokenSource(values: Record<string, unknown>, env: Env = process.env): { token: string } | { file: string; from: string } {
  if (values['admin-token']) return { token: String(values['admin-token']) }
  if (values['admin-token-file']) return { file: expandHome(String(values['admin-token-file']), env), from: '--admin-token-file' }
  if (env.SHOAL_ADMIN_TOKEN) return { token: env.SHOAL_ADMIN_TOKEN }
  if (env.SHOAL_ADMIN_TOKEN_FILE) return { file: expandHome(env.SHOAL_ADMIN_TOKEN_FILE, env), from: 'SHOAL_ADMIN_TOKEN_FILE' }
  const { name, context } = currentContext(values.context as string | undefined, env)
  if (context['admin-token-file']) return { file: expandHome(context['admin-token-file'], env), from: `context "${name}"` }
  const dataDir = (values['data-dir'] as string | undefined) ?? env.SHOAL_COORDINATOR_DATA_DIR ?? '.shoal/coordinator'
  return { file: join(dataDir, 'admin-token'), from: '--data-dir' }
}

export function adminTokenFrom(values: Record<string, unknown>, env: Env = process.env): string {
  const s = adminTokenSource(values, env)
  if ('token' in s) return s.token
  try {
    const t = readFileSync(s.file, 'utf8').trim()
    if (t) return t
  } catch {
    // fall through to the one error below
  }
  throw new ShoalError('usage', `no admin token: ${s.file} (from ${s.from}) is missing or empty; pass --admin-token-file FILE, set SHOAL_ADMIN_TOKEN, or run: shoal config set-context NAME --admin-token-file FILE`)
}
