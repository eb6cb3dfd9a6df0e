/**
 * `shoal` — the operator's CLI. Each command lives in its own module under ./commands,
 * loaded on demand so one command's dependencies never slow another's start.
 * Exit codes (kubectl-like): 0 ok, 1 the command ran and the answer is "no"/failure,
 * 2 usage error, 3 could not reach what it talks to.
 *
 * A new command: a file commands/NAME.ts exporting `summary` and `run(argv, io)` that
 * parses with ./args.ts `parse` (which gives it --help), plus one line in `commands`
 * below. A command with subcommands also exports `subcommands` (for help and completion).
 * Errors are ONE line on stderr; a usage error points at the command's --help.
 */
import { ShoalError } from '../agent/protocol/errors.js'
import { errorCodeInfo } from '../agent/protocol/error-codes.js'
import { HelpRequested } from './args.js'

export interface CommandModule {
  /** One line for `shoal help`. */
  summary: string
  /** Subcommand names, for help and shell completion. */
  subcommands?: readonly string[]
  /** Returns the process exit code. */
  run(argv: string[], io: CliIo): Promise<number>
}

export interface CliIo {
  out(line: string): void
  err(line: string): void
}

/** command name -> module file name under ./commands (without extension). */
export const commands: Record<string, string> = {
  status: 'status',
  nodes: 'nodes',
  node: 'node',
  watch: 'watch',
  bootstrap: 'bootstrap',
  agent: 'agent',
  fingerprint: 'fingerprint',
  inventory: 'inventory',
  health: 'health',
  gate: 'gate',
  coordinator: 'coordinator',
  upgrade: 'upgrade',
  lease: 'lease',
  shell: 'shell',
  audit: 'audit',
  config: 'config',
  version: 'version',
  completion: 'completion',
}

const stdio: CliIo = {
  out: (l) => process.stdout.write(l + '\n'),
  err: (l) => process.stderr.write(l + '\n'),
}

export async function main(argv: string[], io: CliIo = stdio): Promise<number> {
  let [name, ...rest] = argv
  if (name === 'help' && rest[0] && !rest[0].startsWith('-')) {
    // `shoal help upgrade start` = `shoal upgrade start --help`
    ;[name, ...rest] = [...rest, '--help']
  }
  if (name === '--version') name = 'version'
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    io.out('usage: shoal <command> [subcommand] [flags]   (every command takes --help)\n')
    for (const [cmd, file] of Object.entries(commands)) {
      const mod = await load(file).catch(() => undefined)
      if (mod) io.out(`  ${cmd.padEnd(12)} ${mod.summary}`)
    }
    io.out('\nconfig: $XDG_CONFIG_HOME/shoal/config.yaml (see: shoal config --help); precedence: flags > env > config context > defaults')
    return name ? 0 : 2
  }
  const file = commands[name]
  if (!file) {
    io.err(`error: unknown command "${name}" (see: shoal help)`)
    return 2
  }
  let mod: CommandModule
  try {
    mod = await load(file)
  } catch (err) {
    io.err(`error: command "${name}" is not available in this build: ${firstLine((err as Error).message)}`)
    return 2
  }
  try {
    return await mod.run(rest, io)
  } catch (err) {
    if (err instanceof HelpRequested) {
      io.out(err.message)
      return 0
    }
    const [line, code] = describeError(err, name)
    io.err(`error: ${line}`)
    if (process.env.SHOAL_DEBUG && err instanceof ShoalError) io.err(explainCode(err.code))
    if (process.env.SHOAL_DEBUG && err instanceof Error && err.stack) io.err(err.stack)
    return code
  }
}

/** One line and an exit code for anything a command threw. */
export function describeError(err: unknown, command: string): [string, number] {
  if (err instanceof ShoalError) {
    let line = firstLine(err.message)
    if (err.code === 'usage' && !/--help|shoal \w/.test(line)) line += ` (see: shoal ${command} --help)`
    // The exit status comes from the registry: 2 usage, 3 unreachable and its twins (kube-, kubelet-, peer-), else 1.
    return [line, errorCodeInfo(err.code)?.exit ?? 1]
  }
  const e = err as { name?: string; issues?: { path: PropertyKey[]; message: string }[]; message?: string }
  if (e?.name === 'ZodError' && Array.isArray(e.issues)) {
    // An answer a command parsed without its own message: still one line, naming the field.
    const i = e.issues[0]
    const at = i?.path.length ? i.path.map(String).join('.') : '(top)'
    return [`an answer had an unexpected shape (field ${at}: ${i?.message ?? '?'}); are the CLI and the server the same version? (compare with: shoal version)`, 1]
  }
  return [`${firstLine(e?.message ?? String(err))} (a bug in shoal ${command}; SHOAL_DEBUG=1 shows more)`, 1]
}

/** `code X: what it means; what to do` from the registry (SHOAL_DEBUG=1 prints it under the error). */
export function explainCode(code: string): string {
  const info = errorCodeInfo(code)
  return info ? `code ${code}: ${info.meaning}; ${info.fix}` : `code ${code} (not known to this CLI: a newer server?)`
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim()
}

export async function load(file: string): Promise<CommandModule> {
  return (await import(`./commands/${file}.ts`)) as CommandModule
}
