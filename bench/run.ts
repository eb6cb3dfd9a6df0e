/**
 * `npm run bench [-- AREA ...]`: runs every bench/<area>.ts (or the named ones) in its own
 * process, one after another (they measure; they must not compete for the 2 cores), and
 * prints each figure as one JSON line tagged with its area. The last line is a summary
 * object; the whole run is also written to .cache/bench/latest.jsonl.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const perAreaTimeoutMs = Number(process.env.SHOAL_BENCH_TIMEOUT_MS ?? 600_000)

const all = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts') && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort()
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const unknown = wanted.filter((w) => !all.includes(w))
if (unknown.length > 0) {
  console.error(`error: unknown benchmark area(s) ${unknown.join(', ')}; known: ${all.join(', ')}`)
  process.exit(2)
}
const areas = wanted.length > 0 ? wanted : all

const lines: string[] = []
const failed: string[] = []
for (const area of areas) {
  const started = Date.now()
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, `${area}.ts`)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
    const timer = setTimeout(() => child.kill('SIGKILL'), perAreaTimeoutMs)
    let buf = ''
    child.stdout.on('data', (chunk: Buffer) => {
      buf += chunk.toString()
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim()
        buf = buf.slice(nl + 1)
        if (!line.startsWith('{')) {
          process.stderr.write(`[${area}] ${line}\n`)
          continue
        }
        try {
          const out = JSON.stringify({ area, ...JSON.parse(line) })
          lines.push(out)
          console.log(out)
        } catch {
          process.stderr.write(`[${area}] ${line}\n`)
        }
      }
    })
    child.on('exit', (c, sig) => {
      clearTimeout(timer)
      resolve(c ?? (sig ? 128 : 1))
    })
  })
  if (code !== 0) failed.push(area)
  process.stderr.write(`[${area}] finished in ${((Date.now() - started) / 1000).toFixed(1)} s (exit ${code})\n`)
}
mkdirSync(join(root, '.cache/bench'), { recursive: true })
writeFileSync(join(root, '.cache/bench/latest.jsonl'), lines.join('\n') + '\n')
console.log(JSON.stringify({ summary: true, areas, failed, figures: lines.length }))
process.exit(failed.length > 0 ? 1 : 0)
