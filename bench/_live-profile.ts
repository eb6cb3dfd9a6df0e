/**
 * Where an agent's join goes, from the CPU profiles `SHOAL_BENCH_CPU_PROF=DIR npx tsx
 * bench/live.ts N` leaves in DIR (agents 0 to 3, sampled every 250 µs): V8's samples from
 * the agents' release to full knowledge (bench/live.ts writes that window to DIR/window.json, in the monotonic
 * clock V8's profiles use), samples grouped by package (node_modules) or, for our own
 * code, by source file, and the top functions (self time). Counted in samples, not weighted
 * by the wall time between them: on a loaded machine the sampler falls behind and a sample's
 * wall time says more about the scheduler than about the code. Read them as shares of the
 * main thread's busy samples (`samples` per profile; bench/live.ts samples every 250 µs).
 * `owners` charges each sample to the nearest of our functions on its stack (itself or a
 * caller: what our code asked for), or, with none of ours on the stack, to the outermost
 * package frame (hyperdht's connect, secret-stream's decryption, a timer...).
 *
 *   npx tsx bench/_live-profile.ts DIR [TOP]
 *
 * One JSON line per profile, then one for all: {"bench":"live.profile","samples":..,"groups":[[name,samples,percent],..],"functions":[..],"owners":[..]}
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[]; parent?: ProfileNode }
interface Profile { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] }

const [dir, topArg] = process.argv.slice(2)
if (!dir) {
  process.stderr.write('usage: npx tsx bench/_live-profile.ts DIR [TOP]   (DIR from SHOAL_BENCH_CPU_PROF=DIR npx tsx bench/live.ts N)\n')
  process.exit(2)
}
const top = Number(topArg ?? 25)
const windowFile = join(dir, 'window.json')
// Our code runs from one esbuild bundle (bench/live.ts copies it here): its `// path/file.ts` comments name the source of each line.
const bundleFile = join(dir, 'agent.mjs')
const sourceOfLine: string[] = []
if (existsSync(bundleFile)) {
  let current = 'shoal'
  for (const l of readFileSync(bundleFile, 'utf8').split('\n')) {
    const m = /^\/\/ ((?:agent|layers|coordinator|cli|sim)\/[\w./-]+\.ts)$/.exec(l)
    if (m) current = m[1]!
    sourceOfLine.push(current)
  }
}
const window = existsSync(windowFile) ? (JSON.parse(readFileSync(windowFile, 'utf8')) as { fromUs: number; toUs: number }) : undefined

/** A frame's group: the package under node_modules, node's own modules, V8's pseudo-frames, or our source file. */
function group(f: CallFrame): string {
  const url = f.url
  if (!url) return f.functionName.startsWith('(') ? f.functionName : '(native)'
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0]
  return sourceOfLine[f.lineNumber] ?? 'shoal'
}

function name(f: CallFrame): string {
  const g = group(f)
  return `${f.functionName || '(anonymous)'} ${g}`
}

type Tally = Map<string, number>
const add = (t: Tally, k: string, v: number) => t.set(k, (t.get(k) ?? 0) + v)

const ours = (g: string) => /^(agent|layers|coordinator|cli|sim)\//.test(g) || g === 'shoal'

/** Our nearest function on the stack, or the outermost package frame below node's own. */
function owner(node: ProfileNode): string {
  let outer = node
  for (let x: ProfileNode | undefined = node; x; x = x.parent) {
    const g = group(x.callFrame)
    if (ours(g)) return name(x.callFrame)
    if (!g.startsWith('node:') && !g.startsWith('(')) outer = x
  }
  return `${name(outer.callFrame)} (no caller of ours)`
}

function tally(p: Profile): { n: number; groups: Tally; functions: Tally; owners: Tally } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  for (const x of p.nodes) for (const c of x.children ?? []) byId.get(c)!.parent = x
  const groups: Tally = new Map()
  const functions: Tally = new Map()
  const owners: Tally = new Map()
  let t = p.startTime
  let n = 0
  // Without a window: from the end of the longest idle stretch (the agent held before release) to the end.
  let from = window?.fromUs ?? -Infinity
  const to = window?.toUs ?? Infinity
  if (!window) {
    let idleStart = p.startTime
    let best = 0
    let tt = p.startTime
    for (let i = 0; i < p.samples.length; i++) {
      tt += p.timeDeltas[i]!
      const idle = byId.get(p.samples[i]!)!.callFrame.functionName === '(idle)'
      if (!idle) {
        if (tt - idleStart > best) (best = tt - idleStart), (from = tt)
        idleStart = tt
      }
    }
  }
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!
    if (t < from || t > to) continue
    const node = byId.get(p.samples[i]!)!
    const f = node.callFrame
    if (f.functionName === '(idle)') continue
    n++
    add(groups, group(f), 1)
    add(functions, name(f), 1)
    add(owners, owner(node), 1)
  }
  return { n, groups, functions, owners }
}

const round = (x: number) => Math.round(x * 10) / 10
function line(label: string, n: number, groups: Tally, functions: Tally, owners: Tally, profiles: number): string {
  const rows = (t: Tally) =>
    [...t]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => [k, round(v / profiles), round((100 * v) / n)])
  return JSON.stringify({ bench: 'live.profile', profile: label, window: window ? 'release-to-full-knowledge' : 'after-longest-idle', samples: round(n / profiles), groups: rows(groups), functions: rows(functions), owners: rows(owners) })
}

const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
const allGroups: Tally = new Map()
const allFunctions: Tally = new Map()
const allOwners: Tally = new Map()
let allN = 0
for (const f of files) {
  const r = tally(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile)
  allN += r.n
  for (const [k, v] of r.groups) add(allGroups, k, v)
  for (const [k, v] of r.functions) add(allFunctions, k, v)
  for (const [k, v] of r.owners) add(allOwners, k, v)
  if (files.length > 1) process.stdout.write(line(f, r.n, r.groups, r.functions, r.owners, 1) + '\n')
}
process.stdout.write(line('all', allN, allGroups, allFunctions, allOwners, files.length) + '\n')
