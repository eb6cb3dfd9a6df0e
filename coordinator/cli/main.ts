/**
 * `shoal` — the operator's CLI. Each command lives in its own module under ./commands,
 * loaded on demand so one command's dependencies never slow another's start.
 * Exit codes (kubectl-like): 0 ok, 1 the command ran and the answer is "no"/failure,
 * 2 usage error, 3 could not reach what it talks to.
 */
import { ShoalError } from '../../agent/protocol/errors.js'

export interface CommandModule {
  /** One line for `shoal help`. */
  summary: string
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
}

const stdio: CliIo = {
  out: (l) => process.stdout.write(l + '\n'),
  err: (l) => process.stderr.write(l + '\n'),
}

export async function main(argv: string[], io: CliIo = stdio): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    io.out('usage: shoal <command> [flags]\n')
    for (const [cmd, file] of Object.entries(commands)) {
      const mod = await load(file).catch(() => undefined)
      if (mod) io.out(`  ${cmd.padEnd(12)} ${mod.summary}`)
    }
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
    io.err(`error: command "${name}" is not available in this build: ${(err as Error).message}`)
    return 2
  }
  try {
    return await mod.run(rest, io)
  } catch (err) {
    if (err instanceof ShoalError) {
      io.err(`error: ${err.message}`)
      return err.code === 'usage' ? 2 : err.code === 'unreachable' ? 3 : 1
    }
    io.err(`error: ${(err as Error)?.message ?? String(err)}`)
    return 1
  }
}

async function load(file: string): Promise<CommandModule> {
  return (await import(`./commands/${file}.ts`)) as CommandModule
}
