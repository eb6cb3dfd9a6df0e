/**
 * Where the agent's start goes, from the CPU profiles `SHOAL_BENCH_CPU_PROF=DIR npm run bench --
 * start` leaves in DIR (with the bundle's source map beside them): V8's samples from process
 * start to "agent ready", each named by the module it ran in (the map turns a place in the
 * minified bundle back into its source file, grouped by package or folder), and split into
 * the loader's phases: node's own start, the built-ins the loader loads and reading the
 * bundle (boot), compiling the bundle with its cache (compile), the bundle's top level (toplevel: every module's initialisation) and startAgent
 * up to ready (main). Figures are per start, averaged over the profiles; they are sampled
 * wall time of the main thread (a loaded machine inflates them), so read them as shares.
 *
 *   npx tsx bench/start-profile.ts DIR [TOP]
 *
 * One JSON line per phase and one for the whole start: {"bench":"start.profile","phase":..,"ms":..,"modules":[[name,ms],..],"functions":[[name,ms],..]}
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }
interface SourceMap { sources: string[]; mappings: string }

const [dir, topArg] = process.argv.slice(2)
if (!dir) {
  process.stderr.write('usage: npx tsx bench/start-profile.ts DIR [TOP]   (DIR from SHOAL_BENCH_CPU_PROF=DIR npm run bench -- start)\n')
  process.exit(2)
}
const top = Number(topArg ?? 15)
const map = JSON.parse(readFileSync(join(dir, 'shoal-agent.bundle.cjs.map'), 'utf8')) as SourceMap
const lines = decodeMappings(map.mappings)
// startAgent, from its first line to the "agent ready" log line: a sample inside it is before ready.
const mainSrc = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'agent/main.ts'), 'utf8').split('\n')
const startLine = mainSrc.findIndex((l) => l.startsWith('export async function startAgent(')) + 1
const readyLine = mainSrc.findIndex((l) => l.includes("'agent ready')")) + 1

/** Source-map "mappings" -> per generated line, [generatedColumn, sourceIndex, sourceLine] segments (absolute). */
function decodeMappings(mappings: string): number[][][] {
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const out: number[][][] = []
  let src = 0
  let srcLine = 0
  let srcCol = 0
  let name = 0
  for (const line of mappings.split(';')) {
    const segs: number[][] = []
    let col = 0
    for (const seg of line.split(',')) {
      if (!seg) continue
      const v: number[] = []
      let shift = 0
      let value = 0
      for (const ch of seg) {
        const d = B64.indexOf(ch)
        value += (d & 31) << shift
        if (d & 32) shift += 5
        else {
          v.push(value & 1 ? -(value >>> 1) : value >>> 1)
          shift = 0
          value = 0
        }
      }
      col += v[0]!
      if (v.length >= 4) {
        src += v[1]!
        srcLine += v[2]!
        srcCol += v[3]!
        if (v.length >= 5) name += v[4]!
        segs.push([col, src, srcLine])
      }
    }
    out.push(segs)
  }
  return out
}

function sourceOf(cf: CallFrame): { file: string; line: number } | undefined {
  const segs = lines[cf.lineNumber]
  if (!segs) return undefined
  let best: number[] | undefined
  for (const s of segs) {
    if (s[0]! > cf.columnNumber) break
    best = s
  }
  return best ? { file: map.sources[best[1]!]!, line: best[2]! + 1 } : undefined
}

function moduleOf(cf: CallFrame): string {
  if (cf.url.endsWith('.bundle.cjs')) {
    const s = sourceOf(cf)
    if (!s) return '(bundle, unmapped)'
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(s.file)
    return pkg ? pkg[1]! : s.file.replace(/^(\.\.\/)+/, '').replace(/\/[^/]+$/, '/')
  }
  if (cf.url.startsWith('node:')) return `node:${cf.url.replace(/^node:(internal\/)?/, '').split('/')[0]}`
  if (cf.url) return cf.url.split('/').pop()!
  return cf.functionName // (garbage collector), (program), native functions
}

type Tally = Map<string, number>
const add = (t: Tally, k: string, ms: number) => t.set(k, (t.get(k) ?? 0) + ms)
const phases = ['boot', 'compile', 'toplevel', 'main'] as const
const byPhase = new Map(phases.map((p) => [p, { ms: 0, modules: new Map() as Tally, functions: new Map() as Tally }]))
const all = { ms: 0, modules: new Map() as Tally, functions: new Map() as Tally }
const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
for (const f of files) {
  const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile
  const nodes = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const stack = (id: number) => {
    const frames: CallFrame[] = []
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) frames.push(nodes.get(x)!.callFrame)
    return frames
  }
  const inStartAgent = (cf: CallFrame) => {
    if (!cf.url.endsWith('.bundle.cjs')) return false
    const s = sourceOf(cf)
    return !!s && s.file.endsWith('agent/main.ts') && s.line >= startLine && s.line <= readyLine
  }
  const stacks = p.samples.map(stack)
  let last = -1
  stacks.forEach((st, i) => {
    if (st.some(inStartAgent)) last = i
  })
  let seenTop = false
  for (let i = 0; i <= last; i++) {
    const st = stacks[i]!
    const cf = st[0]!
    if (cf.functionName === '(idle)') continue
    const ms = (p.timeDeltas[i + 1] ?? 0) / 1000
    // The bundle's module wrapper (line 0) runs the top level; vm's Script compiles the bundle.
    let phase: (typeof phases)[number]
    if (st.some((c) => c.url.endsWith('.bundle.cjs') && c.lineNumber === 0 && c.columnNumber < 20)) {
      phase = 'toplevel'
      seenTop = true
    } else if (st.some((c) => c.functionName === 'Script' && c.url === 'node:vm')) phase = 'compile'
    else phase = seenTop ? 'main' : 'boot'
    const mod = moduleOf(cf)
    const fn = `${cf.functionName || '(anonymous)'} ${mod}${cf.url.endsWith('.bundle.cjs') ? ` ${sourceOf(cf)?.file.replace(/^.*node_modules\//, '').replace(/^(\.\.\/)+/, '') ?? ''}` : ''}`
    for (const t of [byPhase.get(phase)!, all]) {
      t.ms += ms
      add(t.modules, mod, ms)
      add(t.functions, fn, ms)
    }
  }
}
const n = Math.max(1, files.length)
const round = (x: number) => Math.round((x / n) * 10) / 10
const topOf = (t: Tally) => [...t].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => [k, round(v)])
for (const [phase, t] of [...byPhase, ['start', all] as const]) {
  process.stdout.write(JSON.stringify({ bench: 'start.profile', phase, profiles: files.length, ms: round(t.ms), modules: topOf(t.modules), functions: topOf(t.functions) }) + '\n')
}
