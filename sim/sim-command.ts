/**
 * `npm run sim -- --scenario NAME [--nodes N] [--seed S] [-o table|json] [scenario flags]`
 * as a function: argv in, text lines out, exit code back. sim/cli.ts prints them.
 * The same argv gives byte-identical output: nothing here reads the wall clock.
 */
import { parseArgs } from 'node:util'
import { ShoalError } from '../agent/protocol/errors.js'
import { MeshConfig } from '../agent/protocol/mesh-config.js'
import { latencyPresets, type LatencyPreset } from './engine/latency.js'
import type { NetworkConfig } from './engine/network.js'
import { scenarios, type OptionSpec, type OptionValue, type Scenario } from './scenarios/index.js'

const USAGE = 'npm run sim -- --scenario NAME [--nodes N] [--seed S] [-o table|json] [--latency lan|campus|wan] [--loss P] [--dup P] [--reorder P] [--start warm|cold] [--mesh k=v,...] [scenario flags]   (--help for the list)'

const COMMON: Record<string, OptionSpec & { short?: string }> = {
  scenario: { type: 'string', description: `what to simulate: ${[...scenarios.keys()].join(', ')}`, short: 's' },
  nodes: { type: 'int', description: 'cluster size (default: the scenario\'s)', min: 2, max: 20_000, short: 'n' },
  seed: { type: 'int', description: 'the run\'s seed; the same seed reproduces the run', default: 1, min: 0, max: Number.MAX_SAFE_INTEGER },
  output: { type: 'string', description: 'table (for people) or json (one JSON object on the last line)', default: 'table', choices: ['table', 'json'], short: 'o' },
  latency: { type: 'string', description: 'one-way latency model: lan 0.1-1 ms, campus 0.5-5 ms, wan 20-80 ms', default: 'lan', choices: Object.keys(latencyPresets) },
  loss: { type: 'number', description: 'probability a frame is lost (fault injection)', default: 0, min: 0, max: 1 },
  dup: { type: 'number', description: 'probability a frame is delivered twice', default: 0, min: 0, max: 1 },
  reorder: { type: 'number', description: 'probability a frame leaves its link\'s order', default: 0, min: 0, max: 1 },
  mesh: { type: 'string', description: 'protocol tuning over the sim preset, e.g. graftTimeoutMs=20,ihaveIntervalMs=10 (keys of agent/protocol/mesh-config.ts)', default: '' },
  start: { type: 'string', description: 'warm: nodes begin with the cluster\'s records; cold: all power on at once knowing nothing (slow past ~300 nodes)', default: 'warm', choices: ['warm', 'cold'] },
  help: { type: 'boolean', description: 'this text', short: 'h' },
}

export interface SimCommandResult {
  lines: string[]
  code: number
}

export async function simCommand(argv: string[]): Promise<SimCommandResult> {
  const lines: string[] = []
  try {
    return await run(argv, lines)
  } catch (err) {
    if (err instanceof ShoalError && err.code === 'usage') return { lines: [`error: ${err.message}`, `usage: ${USAGE}`], code: 2 }
    throw err
  }
}

async function run(argv: string[], lines: string[]): Promise<SimCommandResult> {
  // Pass 1: which scenario? Its own flags decide what else is legal.
  const first = parseArgs({ args: argv, options: toParseArgs(COMMON), strict: false, allowPositionals: true })
  if (first.values.help) return { lines: help(), code: 0 }
  const name = first.values.scenario
  if (typeof name !== 'string') throw usage(`--scenario is required; one of: ${[...scenarios.keys()].join(', ')}`)
  const scenario = scenarios.get(name)
  if (!scenario) throw usage(`unknown scenario "${name}"; known: ${[...scenarios.keys()].join(', ')}`)
  for (const k of Object.keys(scenario.options)) if (k in COMMON) throw new Error(`scenario ${name} redeclares the common option --${k}`)

  // Pass 2: strict, with the scenario's flags.
  const specs: Record<string, OptionSpec & { short?: string }> = { ...COMMON, ...scenario.options }
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: toParseArgs(specs), strict: true, allowPositionals: false })
  } catch (err) {
    const own = Object.keys(scenario.options).map((k) => `--${k}`).join(' ') || '(none)'
    throw usage(`${(err as Error).message.split('\n')[0]} (scenario ${name} takes: ${own})`)
  }
  const values: Record<string, OptionValue | undefined> = {}
  for (const [key, spec] of Object.entries(specs)) values[key] = convert(key, spec, parsed.values[key])

  const nodes = (values.nodes as number | undefined) ?? scenario.defaultNodes ?? 100
  const seed = values.seed as number
  const json = values.output === 'json'
  const latency = values.latency as LatencyPreset
  const network: Partial<NetworkConfig> = {
    latency: latencyPresets[latency],
    lossProbability: values.loss as number,
    duplicateProbability: values.dup as number,
    reorderProbability: values.reorder as number,
  }
  const options: Record<string, OptionValue | undefined> = {}
  for (const k of Object.keys(scenario.options)) options[k] = values[k]
  const start = values.start as 'warm' | 'cold'
  const mesh = parseMesh(values.mesh as string)

  if (!json && !scenario.describesItself) lines.push(`scenario ${name}: ${nodes} nodes, seed ${seed}, latency ${latency}, start ${start}${describeFaults(network)}${values.mesh ? `, mesh ${values.mesh}` : ''}`)
  const result = await scenario.run({ nodes, seed, network, mesh, latency, start, options, log: (l) => (json ? undefined : lines.push(l)) })
  const summary = { scenario: name, nodes, seed, latency, start, ...(Object.keys(mesh).length > 0 ? { mesh: values.mesh } : {}), ...options, ...result.summary, ok: result.ok }
  if (json) lines.push(JSON.stringify(summary))
  else lines.push(`result: ${result.ok ? 'ok' : 'FAILED'} (reproduce with --seed ${seed})`)
  return { lines, code: result.ok ? 0 : 1 }
}

/** "k=v,k=v" -> validated mesh overrides (unknown keys and bad values are usage errors). */
function parseMesh(text: string): Partial<MeshConfig> {
  if (text === '') return {}
  const out: Record<string, number> = {}
  for (const part of text.split(',')) {
    const m = /^([A-Za-z]+)=(\d+(?:\.\d+)?)$/.exec(part.trim())
    if (!m) throw usage(`--mesh takes key=number pairs separated by commas, not "${part}"`)
    out[m[1]!] = Number(m[2])
  }
  const r = MeshConfig.partial().strict().safeParse(out)
  if (!r.success) throw usage(`--mesh: ${r.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ')}`)
  return r.data
}

function describeFaults(n: Partial<NetworkConfig>): string {
  const parts: string[] = []
  if (n.lossProbability) parts.push(`loss ${n.lossProbability}`)
  if (n.duplicateProbability) parts.push(`dup ${n.duplicateProbability}`)
  if (n.reorderProbability) parts.push(`reorder ${n.reorderProbability}`)
  return parts.length > 0 ? `, ${parts.join(', ')}` : ''
}

function usage(msg: string): ShoalError {
  return new ShoalError('usage', msg)
}

function toParseArgs(specs: Record<string, OptionSpec & { short?: string }>) {
  const out: Record<string, { type: 'string' | 'boolean'; short?: string }> = {}
  for (const [k, s] of Object.entries(specs)) out[k] = s.short ? { type: s.type === 'boolean' ? 'boolean' : 'string', short: s.short } : { type: s.type === 'boolean' ? 'boolean' : 'string' }
  return out
}

/** Parses one flag's text by its spec; throws a usage error naming the flag. */
export function convert(key: string, spec: OptionSpec, raw: unknown): OptionValue | undefined {
  if (spec.type === 'boolean') return raw === true
  if (raw === undefined) {
    if (!('default' in spec) || spec.default === undefined) return undefined
    raw = String(spec.default)
  }
  const text = String(raw)
  switch (spec.type) {
    case 'int':
    case 'number': {
      if (!/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(text)) throw usage(`--${key} must be a number, not "${text}"`)
      const v = Number(text)
      if (spec.type === 'int' && !Number.isSafeInteger(v)) throw usage(`--${key} must be a whole number, not "${text}"`)
      if (spec.min !== undefined && v < spec.min) throw usage(`--${key} must be at least ${spec.min}, not ${text}`)
      if (spec.max !== undefined && v > spec.max) throw usage(`--${key} must be at most ${spec.max}, not ${text}`)
      return v
    }
    case 'string':
      if (spec.choices && !spec.choices.includes(text)) throw usage(`--${key} must be one of ${spec.choices.join(', ')}, not "${text}"`)
      return text
    case 'range': {
      const m = /^(\d+)(?:-(\d+))?$/.exec(text)
      if (!m) throw usage(`--${key} must be a range like 1-10000 (or one number), not "${text}"`)
      const from = Number(m[1])
      const to = m[2] === undefined ? from : Number(m[2])
      if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || to < from) throw usage(`--${key}: "${text}" is not an ascending range of whole numbers`)
      return { from, to }
    }
  }
}

function help(): string[] {
  const fmt = (k: string, s: OptionSpec & { short?: string }) => {
    const def = 'default' in s && s.default !== undefined ? ` (default ${s.default})` : ''
    return `  --${k}${s.short ? `, -${s.short}` : ''}  ${s.description}${def}`
  }
  const out = [`usage: ${USAGE}`, '', 'common flags:', ...Object.entries(COMMON).map(([k, s]) => fmt(k, s))]
  for (const s of scenarios.values() as Iterable<Scenario>) {
    out.push('', `--scenario ${s.name}: ${s.summary}`)
    for (const [k, o] of Object.entries(s.options)) out.push(fmt(k, o))
  }
  return out
}
