/**
 * CLI start cost: wall and CPU time of `shoal fingerprint -o json` and `shoal help`, run as
 * real processes through bin/shoal.js, in three modes:
 * - tsx:  SHOAL_CLI_BUNDLE=0, the TypeScript-through-tsx path (what every run cost before the cache);
 * - cold: an empty SHOAL_CLI_CACHE dir per run, so each run builds the bundle first;
 * - warm: a cache dir built once, then reused.
 * CPU is the children's user+sys time from /proc/self/stat (10 ms ticks), summed over the
 * runs and divided by their number. One JSON line per figure.
 * Run: npx tsx bench/cli.ts [--runs N]   (default 5 warm/tsx runs, 3 cold ones)
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const repoRoot = join(import.meta.dirname, '..')
const runsArg = process.argv.indexOf('--runs')
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5
const coldRuns = Math.max(1, Math.min(3, runs))
const TICKS_PER_S = 100 // CLK_TCK on Linux

function childCpuMs(): number {
  // /proc/self/stat: fields after the ")" of comm; cutime and cstime are fields 16 and 17.
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(f[13]) + Number(f[14])) * 1000) / TICKS_PER_S
}

function runOnce(args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin/shoal.js'), ...args], { cwd: repoRoot, env, encoding: 'utf8', timeout: 120_000 })
  const wall = performance.now() - t0
  if (r.status !== 0 && !(args[0] === 'help' && r.status === 0)) {
    throw new Error(`shoal ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 500)}`)
  }
  return wall
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

function measure(name: string, mode: string, args: string[], n: number, envFor: (i: number) => NodeJS.ProcessEnv): void {
  const walls: number[] = []
  const cpu0 = childCpuMs()
  for (let i = 0; i < n; i++) walls.push(runOnce(args, envFor(i)))
  const cpuMs = (childCpuMs() - cpu0) / n
  console.log(JSON.stringify({ bench: `cli.${name}`, mode, runs: n, wallP50Ms: Math.round(median(walls)), wallMinMs: Math.round(Math.min(...walls)), cpuMeanMs: Math.round(cpuMs) }))
}

const base = { ...process.env }
delete base.SHOAL_DEBUG
const cases: [string, string[]][] = [
  ['fingerprint', ['fingerprint', '-o', 'json']],
  ['help', ['help']],
]
const scratch = mkdtempSync(join(tmpdir(), 'shoal-bench-cli-'))
try {
  for (const [name, args] of cases) {
    measure(name, 'tsx', args, runs, () => ({ ...base, SHOAL_CLI_BUNDLE: '0' }))
    measure(name, 'cold', args, coldRuns, (i) => ({ ...base, SHOAL_CLI_CACHE: join(scratch, `cold-${name}-${i}`) }))
    const warmDir = join(scratch, `warm-${name}`)
    runOnce(args, { ...base, SHOAL_CLI_CACHE: warmDir }) // build once
    measure(name, 'warm', args, runs, () => ({ ...base, SHOAL_CLI_CACHE: warmDir }))
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}
