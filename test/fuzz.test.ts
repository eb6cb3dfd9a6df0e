/**
 * A fixed-seed slice of `npm run fuzz` (test/fuzz): every edge parser gets the same
 * inputs on every run, and the coordinator a few hundred mutated requests over loopback
 * with its stored state checked afterwards. Zero crashes, hangs and corruptions; a failure
 * prints the offending inputs (and the seed reproduces them: npm run fuzz -- --seed 20261206).
 */
import { describe, expect, it } from 'vitest'
import { fuzzCoordinatorHttp } from './fuzz/coordinator-http.js'
import { fuzzTarget } from './fuzz/fuzz.js'
import { targets } from './fuzz/targets.js'

const SEED = 20261206
const RUNS = 1200
/** Generous: a loaded 2-core machine runs these ~10x slower than an idle one. */
const HANG_MS = 5000

describe('fuzz slice (seed 20261206)', () => {
  it('the loop counts what a target does wrong, and keeps the inputs', async () => {
    const fc = (await import('fast-check')).default
    const r = fuzzTarget({ name: 'broken', arbitrary: fc.nat({ max: 9 }), run: (n) => void ((n as number) > 6 && (null as unknown as { x: number }).x) }, 200, SEED, HANG_MS)
    expect(r.crashes).toBeGreaterThan(0)
    expect(r.examples[0]).toMatch(/^[789] -> TypeError/)
  })

  it.each(targets.map((t) => [t.name, t] as const))('%s: no crash, no hang', (_name, t) => {
    const r = fuzzTarget(t, RUNS, SEED, HANG_MS)
    expect(r.inputs).toBe(RUNS)
    expect({ crashes: r.crashes, hangs: r.hangs, examples: r.examples }).toEqual({ crashes: 0, hangs: 0, examples: [] })
  })

  it('coordinator over HTTP: no 5xx, no hang, stored state intact and it starts again', async () => {
    const r = await fuzzCoordinatorHttp(250, SEED, HANG_MS)
    expect(r.inputs).toBe(250)
    expect({ crashes: r.crashes, hangs: r.hangs, corruptions: r.corruptions, examples: r.examples }).toEqual({ crashes: 0, hangs: 0, corruptions: 0, examples: [] })
  }, 120_000)
})
