/**
 * `shoal completion bash|zsh|fish`: a completion script for every command, subcommand and
 * flag, built from the same --help the commands answer (so a new command file completes
 * without anything written here). Install: `source <(shoal completion bash)`, or write it to
 * ~/.local/share/bash-completion/completions/shoal, ~/.config/fish/completions/shoal.fish,
 * or a file on zsh's $fpath.
 */
import { ShoalError } from '../../agent/protocol/errors.js'
import { FORMATS, HelpRequested, parse, positionals } from '../args.js'
import { commands, load, type CliIo } from '../main.js'

export const summary = 'print a shell completion script (bash, zsh or fish)'
const usage = 'shoal completion bash|zsh|fish'

interface Node {
  name: string
  flags: string[]
  subs: Node[]
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { positionals: args } = parse(argv, {}, usage, { summary: 'bash: source <(shoal completion bash); zsh: source <(shoal completion zsh); fish: shoal completion fish > ~/.config/fish/completions/shoal.fish' })
  const [shell] = positionals(args, 1, 1, usage, 'the shell: bash, zsh or fish')
  if (shell !== 'bash' && shell !== 'zsh' && shell !== 'fish') throw new ShoalError('usage', `completion is for bash, zsh or fish, not "${shell}"`)
  const tree = await commandTree()
  io.out(shell === 'fish' ? fish(tree) : shell === 'zsh' ? `autoload -U +X bashcompinit && bashcompinit\n${bash(tree)}` : bash(tree))
  return 0
}

const quiet: CliIo = { out: () => {}, err: () => {} }

/** What `--help` of argv reports; nothing if the command does not answer --help within 2 s. */
async function helpOf(run: (argv: string[], io: CliIo) => Promise<number>, argv: string[]): Promise<HelpRequested | undefined> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([run([...argv, '--help'], quiet), new Promise((resolve) => (timer = setTimeout(resolve, 2000)))])
  } catch (err) {
    if (err instanceof HelpRequested) return err
  } finally {
    clearTimeout(timer)
  }
  return undefined
}

export async function commandTree(): Promise<Node[]> {
  const out: Node[] = []
  for (const [name, file] of Object.entries(commands)) {
    const mod = await load(file).catch(() => undefined)
    if (!mod) continue
    const top = await helpOf(mod.run, [])
    const subNames = [...(mod.subcommands ?? top?.subcommands ?? [])]
    const subs: Node[] = []
    for (const sub of subNames) subs.push({ name: sub, flags: (await helpOf(mod.run, [sub]))?.flags ?? [], subs: [] })
    out.push({ name, flags: top?.flags ?? [], subs })
  }
  return out
}

const words = (xs: string[]) => xs.join(' ')

function bash(tree: Node[]): string {
  const cases = tree.map((c) => {
    const subCases = c.subs.map((s) => `        ${s.name}) words="${words(s.flags)}" ;;`).join('\n')
    const body = c.subs.length
      ? `      if [ "$COMP_CWORD" -eq 2 ]; then words="${words([...c.subs.map((s) => s.name), ...c.flags])}"; else
        case "$sub" in
${subCases}
        *) words="${words(c.flags)}" ;;
        esac
      fi`
      : `      words="${words(c.flags)}"`
    return `    ${c.name})\n${body}\n      ;;`
  })
  return `# shoal completion for bash (shoal completion bash)
_shoal() {
  local cur prev cmd sub words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  sub="\${COMP_WORDS[2]}"
  if [ "$prev" = "-o" ] || [ "$prev" = "--output" ]; then
    COMPREPLY=($(compgen -W "${words([...FORMATS])}" -- "$cur")); return
  fi
  if [ "$prev" = "completion" ]; then COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")); return; fi
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${words(tree.map((c) => c.name))} help --help --version" -- "$cur")); return
  fi
  case "$cmd" in
${cases.join('\n')}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _shoal shoal
`
}

function fish(tree: Node[]): string {
  const esc = (s: string) => s.replace(/'/g, "\\'")
  const lines = ['# shoal completion for fish (shoal completion fish)', 'complete -c shoal -f']
  lines.push(`complete -c shoal -n '__fish_use_subcommand' -a '${esc(tree.map((c) => c.name).join(' '))}'`)
  for (const c of tree) {
    if (c.subs.length) lines.push(`complete -c shoal -n '__fish_seen_subcommand_from ${c.name}' -a '${esc(c.subs.map((s) => s.name).join(' '))}'`)
    for (const f of c.flags) lines.push(`complete -c shoal -n '__fish_seen_subcommand_from ${c.name}' -l ${f.slice(2)}`)
    for (const s of c.subs) for (const f of s.flags) lines.push(`complete -c shoal -n '__fish_seen_subcommand_from ${c.name}; and __fish_seen_subcommand_from ${s.name}' -l ${f.slice(2)}`)
  }
  lines.push(`complete -c shoal -s o -l output -x -a '${FORMATS.join(' ')}'`)
  return lines.join('\n')
}
