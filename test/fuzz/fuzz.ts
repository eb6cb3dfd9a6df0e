/**
 * The fuzz loop: a target's arbitrary drives `run` under fast-check with a seed; every
 * input that throws something other than an answer is a crash, every input slower than
 * `hangMs` a hang. Inputs are never shrunk here (the loop counts, it does not stop); the
 * first few offenders are kept, printable, to become regression tests.
 */
import fc from 'fast-check'
import type { FuzzTarget } from './targets.js'

export interface FuzzResult {
  target: string
  inputs: number
  ms: number
  crashes: number
  hangs: number
  corruptions: number
  examples: string[]
}

export function fuzzTarget(t: FuzzTarget, numRuns: number, seed: number, hangMs = 2000): FuzzResult {
  const r: FuzzResult = { target: t.name, inputs: 0, ms: 0, crashes: 0, hangs: 0, corruptions: 0, examples: [] }
  const t0 = performance.now()
  fc.check(
    fc.property(t.arbitrary, (input) => {
      r.inputs++
      const started = performance.now()
      try {
        t.run(input)
      } catch (err) {
        r.crashes++
        if (r.examples.length < 5) r.examples.push(`${show(input)} -> ${(err as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? String(err)}`)
      }
      if (performance.now() - started > hangMs) {
        r.hangs++
        if (r.examples.length < 5) r.examples.push(`${show(input)} took ${Math.round(performance.now() - started)} ms`)
      }
      return true
    }),
    { numRuns, seed },
  )
  r.ms = performance.now() - t0
  return r
}

function show(v: unknown): string {
  try {
    const s = JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? `bytes:${Buffer.from(x).toString('hex')}` : x === undefined ? '<undefined>' : typeof x === 'number' && !Number.isFinite(x) ? String(x) : x))
    return (s ?? String(v)).slice(0, 400)
  } catch {
    return String(v).slice(0, 400)
  }
}
