/**
 * Flag parsing shared by every command: node:util parseArgs in strict mode, turned into
 * ShoalError('usage') with ONE line that names the bad flag and where help is; `--help` /
 * `-h` on every command (usage and every flag with its default and env var, exit 0); one
 * name per concept (old names stay as hidden aliases); `-o table|wide|json|yaml`; unique
 * id prefixes.
 *
 * A command file slots in by calling `parse(argv, options, usage, { summary, docs })`: help
 * and completion come from the same options it parses with, and `flagDocs` below documents
 * the flags commands share, so a new command documents only its own.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { stringify as toYaml } from 'yaml'
import { ShoalError } from '../agent/protocol/errors.js'

export type Options = NonNullable<ParseArgsConfig['options']>

/** How `--help` describes a flag. */
export interface FlagDoc {
  /** Placeholder of its value (string flags), e.g. HOST:PORT. */
  value?: string
  help?: string
  /** The environment variable read when the flag is absent. */
  env?: string
  /** Shown as the default when the option has none of its own (a computed default). */
  default?: string
  /** An old name kept working but not shown: its value goes to `aliasOf`. */
  aliasOf?: string
}

/** Flags several commands share: one name, one meaning, one description. */
export const flagDocs: Record<string, FlagDoc> = {
  agent: { value: 'HOST:PORT', help: "an agent's API; any agent answers for the whole cluster", env: 'SHOAL_AGENT', default: "the context's first agent, else 127.0.0.1:7400" },
  coordinator: { value: 'URL', help: 'the coordinator, http(s)://host[:port]', env: 'SHOAL_COORDINATOR_URL', default: "the context's coordinator, else http://127.0.0.1:8080" },
  url: { aliasOf: 'coordinator' },
  'admin-token': { value: 'TOKEN', help: "the coordinator's admin token", env: 'SHOAL_ADMIN_TOKEN', default: 'read from --admin-token-file' },
  'admin-token-file': { value: 'FILE', help: 'file holding the admin token', env: 'SHOAL_ADMIN_TOKEN_FILE', default: "the context's admin-token-file, else <data-dir>/admin-token" },
  'data-dir': { value: 'DIR', help: "the coordinator's data dir (it writes admin-token there on first start)", env: 'SHOAL_COORDINATOR_DATA_DIR', default: '.shoal/coordinator' },
  context: { value: 'NAME', help: 'config context to use (see: shoal config get-contexts)', env: 'SHOAL_CONTEXT', default: "the config file's current-context" },
  output: { value: 'FORMAT', help: 'table, wide, json or yaml' },
  'timeout-ms': { value: 'MS', help: 'give up after this many milliseconds' },
  help: { help: 'print this help and exit' },
}

export const outputOption = { output: { type: 'string', short: 'o', default: 'table' } } as const

/** What `--help` found: printed by main (exit 0), and read by `shoal completion`. */
export class HelpRequested extends ShoalError {
  constructor(
    text: string,
    readonly flags: string[],
    readonly subcommands: string[] = [],
  ) {
    super('help', text)
  }
}

export interface HelpInfo {
  /** One line under the usage. */
  summary?: string
  /** Docs for this command's own flags (shared ones come from flagDocs). */
  docs?: Record<string, FlagDoc>
  subcommands?: string[]
}

/** `--help` or `-h` before a `--`. */
export function wantsHelp(argv: string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false
    if (a === '--help' || a === '-h') return true
  }
  return false
}

/** `shoal upgrade start --to V ...` -> `shoal upgrade start`: the words that name the command. */
export function commandOf(usage: string): string {
  const words: string[] = []
  for (const w of usage.trim().split(/\s+/)) {
    if (!/^[a-z][a-z-]*$/.test(w)) break
    words.push(w)
  }
  return words.join(' ') || 'shoal'
}

/** The usage line(s) plus every visible flag with its default and env var. */
export function helpText(usage: string, options: Options, info: HelpInfo = {}): HelpRequested {
  const all: Options = { ...options, help: { type: 'boolean', short: 'h' } }
  const rows: [string, string][] = []
  for (const [name, opt] of Object.entries(all)) {
    const doc = { ...flagDocs[name], ...info.docs?.[name] }
    if (doc.aliasOf) continue
    const left = `${opt.short ? `-${opt.short}, ` : '    '}--${name}${opt.type === 'string' ? ` ${doc.value ?? 'VALUE'}` : ''}${opt.multiple ? ' ...' : ''}`
    const def = opt.default !== undefined && opt.type === 'string' ? String(opt.default) : doc.default
    const notes = [def !== undefined ? `default: ${def}` : undefined, doc.env ? `env: ${doc.env}` : undefined].filter(Boolean)
    rows.push([left, `${doc.help ?? ''}${notes.length ? `${doc.help ? ' ' : ''}(${notes.join('; ')})` : ''}`])
  }
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)))
  const lines = [`usage: ${usage}`]
  if (info.summary) lines.push('', info.summary)
  if (info.subcommands?.length) lines.push('', `subcommands: ${info.subcommands.join(', ')} (each takes --help)`)
  lines.push('', 'flags:', ...rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`.trimEnd()))
  const flags = Object.entries(all).filter(([n]) => !(info.docs?.[n]?.aliasOf ?? flagDocs[n]?.aliasOf)).map(([n]) => `--${n}`)
  return new HelpRequested(lines.join('\n'), flags, info.subcommands)
}

/** Throws HelpRequested when argv asks for help; the usage error of a command with subcommands otherwise. */
export function subcommandHelp(argv: string[], usage: string, subcommands: string[], options: Options = {}, info: HelpInfo = {}): never {
  const [sub] = argv
  const command = commandOf(usage).split(' ').slice(0, 2).join(' ')
  if (sub === undefined || sub === 'help' || wantsHelp(argv)) {
    if (sub === undefined) throw new ShoalError('usage', `missing subcommand: one of ${subcommands.join(', ')} (see: ${command} --help)`)
    throw helpText(usage, options, { ...info, subcommands })
  }
  throw new ShoalError('usage', `unknown subcommand "${sub}": one of ${subcommands.join(', ')} (see: ${command} --help)`)
}

export function parse<O extends Options>(argv: string[], options: O, usage: string, info: HelpInfo = {}) {
  if (wantsHelp(argv)) throw helpText(usage, options, info)
  let r
  try {
    r = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err) {
    const text = (err as Error).message
    const msg = text.split('\n')[0]!.replace(/\.$/, '').replace(/\. To specify a positional argument.*$/, '')
    // node:util's fix for a value that starts with a dash ("--dht-port=-XYZ") is on a later line: keep it.
    const dash = /use '(--[\w-]+=-XYZ)'/.exec(text)?.[1]
    throw new ShoalError('usage', `${msg}${dash ? `: write it as ${dash.replace('XYZ', '1')}` : ''} (see: ${commandOf(usage)} --help)`)
  }
  const values = r.values as Record<string, unknown>
  for (const name of Object.keys(options)) {
    const to = info.docs?.[name]?.aliasOf ?? flagDocs[name]?.aliasOf
    if (to && values[name] !== undefined && values[to] === undefined) values[to] = values[name]
  }
  return r
}

/** Checks the number of positional arguments; the error names what is missing or extra. */
export function positionals(given: string[], min: number, max: number, usage: string, what = 'argument'): string[] {
  if (given.length < min) throw new ShoalError('usage', `missing ${what} (see: ${commandOf(usage)} --help)`)
  if (given.length > max) throw new ShoalError('usage', `unexpected argument "${given[max]}" (see: ${commandOf(usage)} --help)`)
  return given
}

export type Format = 'table' | 'wide' | 'json' | 'yaml'
export const FORMATS: readonly Format[] = ['table', 'wide', 'json', 'yaml']

export function outputFormat(value: unknown): Format {
  if (value === undefined) return 'table'
  if (FORMATS.includes(value as Format)) return value as Format
  throw new ShoalError('usage', `-o must be one of table, wide, json, yaml, not "${String(value)}"`)
}

/**
 * One answer in the chosen format: json and yaml print `data` itself (what the API said);
 * table and wide print `text(wide)`, where wide adds columns a terminal has room for.
 */
export function formatted(format: Format, data: unknown, text: (wide: boolean) => string): string {
  if (format === 'json') return JSON.stringify(data, null, 2)
  if (format === 'yaml') return toYaml(data, { lineWidth: 0 }).trimEnd()
  return text(format === 'wide')
}

/**
 * A node id from what the operator typed: the id itself, or a unique prefix of one
 * `known` id (the demo prints 8 characters). An ambiguous prefix lists the candidates (a
 * usage error, exit 2); no match returns undefined, so the caller says who does not know it.
 */
export function resolveId(given: string, known: Iterable<string>, what = 'node'): string | undefined {
  const ids = [...known]
  if (ids.includes(given)) return given
  const hits = ids.filter((id) => id.startsWith(given)).sort()
  if (hits.length === 1) return hits[0]
  if (hits.length > 1) {
    const shown = hits.slice(0, 8).join(', ') + (hits.length > 8 ? `, … (${hits.length - 8} more)` : '')
    throw new ShoalError('usage', `"${given}" matches ${hits.length} ${what}s: ${shown}; give more characters`)
  }
  return undefined
}

/** The one table renderer (agent/api/render.ts), re-exported for the CLI's commands. */
export { table } from '../agent/api/render.js'
