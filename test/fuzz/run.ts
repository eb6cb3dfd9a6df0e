/**
 * `npm run fuzz [-- --inputs N] [--seed S] [--only NAME,...] [--http N]`: every parser at
 * a process edge (test/fuzz/targets.ts), then the coordinator over real HTTP with its
 * stored state checked afterwards (coordinator-http.ts). One JSON line per target
 * ({ target, inputs, inputsPerSec, crashes, hangs, corruptions, examples }), then a total
 * line. Exit code 1 when anything crashed, hung or corrupted stored state. The seed is
 * printed: the same seed replays the same inputs.
 */
import { parseArgs } from 'node:util'
import { fuzzCoordinatorHttp } from './coordinator-http.js'
import { fuzzTarget, type FuzzResult } from './fuzz.js'
import { targets } from './targets.js'

const { values } = parseArgs({
  options: { inputs: { type: 'string', default: '1000000' }, seed: { type: 'string' }, only: { type: 'string' }, http: { type: 'string', default: '3000' } },
  strict: true,
})
const total = Number(values.inputs)
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31
const only = values.only?.split(',')
const httpRuns = only && !only.includes('coordinator-http') ? 0 : Number(values.http)
const chosen = targets.filter((t) => !only || only.includes(t.name))
const per = Math.ceil(Math.max(0, total - httpRuns) / Math.max(1, chosen.length))

const line = (r: Omit<FuzzResult, 'target'> & { target: string; seed?: number }) =>
  console.log(JSON.stringify({ fuzz: r.target, inputs: r.inputs, inputsPerSec: Math.round(r.inputs / (r.ms / 1000)), seconds: +(r.ms / 1000).toFixed(1), crashes: r.crashes, hangs: r.hangs, corruptions: r.corruptions, ...(r.seed !== undefined ? { seed: r.seed } : {}), ...(r.examples.length ? { examples: r.examples } : {}) }))

const results: FuzzResult[] = []
for (const t of chosen) {
  const r = fuzzTarget(t, per, seed)
  results.push(r)
  line(r)
}
if (httpRuns > 0) {
  const r = { target: 'coordinator-http', ...(await fuzzCoordinatorHttp(httpRuns, seed)) }
  results.push(r)
  line(r)
}
const sum = (k: 'inputs' | 'ms' | 'crashes' | 'hangs' | 'corruptions') => results.reduce((a, r) => a + r[k], 0)
line({ target: 'total', inputs: sum('inputs'), ms: sum('ms'), crashes: sum('crashes'), hangs: sum('hangs'), corruptions: sum('corruptions'), seed, examples: [] })
process.exitCode = sum('crashes') + sum('hangs') + sum('corruptions') > 0 ? 1 : 0
