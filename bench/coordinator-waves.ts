/**
 * Coordinator-side wave figures, on loopback with N enrolled machines (mesh view faked, so
 * only the coordinator's own work is measured):
 *   waves.start     POST /v1/waves (validate, sign roster, publish, pin N assignments, persist)
 *   waves.status    GET /v1/waves/{id} (per-node state of N nodes)
 *   waves.tiebreak  a signed request in -> the coordinator's vote out (persist to level included)
 *   waves.assign    POST /v1/assign of a holder (signature, grant check, assignment + audit)
 * Run: npx tsx bench/coordinator-waves.ts [N]   (one JSON object per line per figure)
 */
import { performance } from 'node:perf_hooks'
import { postJson } from '../coordinator/testing.js'
import { startWaveHarness } from '../coordinator/waves/wave-testing.js'

const N = Number(process.argv[2] ?? 200)
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!
const round = (x: number) => Math.round(x * 1000) / 1000

const t0 = performance.now()
const w = await startWaveHarness(N)
const setupMs = performance.now() - t0

let t = performance.now()
const r = await w.admin('/v1/waves', { target: 'v2', maxUnavailable: 1, failureDomain: 'none' })
const startMs = performance.now() - t
if (r.status !== 201) throw new Error(`wave not started: ${JSON.stringify(r.json)}`)
console.log(JSON.stringify({ bench: 'waves.start', n: N, ms: round(startMs), setupMs: Math.round(setupMs) }))

const status: number[] = []
for (let i = 0; i < 50; i++) {
  t = performance.now()
  await w.admin('/v1/waves/w1')
  status.push(performance.now() - t)
}
console.log(JSON.stringify({ bench: 'waves.status', n: N, p50Ms: round(pct(status, 50)), p99Ms: round(pct(status, 99)) }))

// Tie-breaks: each machine asks for slot 0 at its own term; the coordinator answers each
// (a vote for the first, refusals after), every answer persisted first.
const tie: number[] = []
const reqs = Math.min(N, 100)
for (let i = 0; i < reqs; i++) {
  const m = w.machines[i]!
  t = performance.now()
  await w.deliver(m, { k: 'req', wave: 'w1', slot: 0, term: i + 1, cand: m.id })
  tie.push(performance.now() - t)
}
console.log(JSON.stringify({ bench: 'waves.tiebreak', n: N, requests: reqs, p50Ms: round(pct(tie, 50)), p99Ms: round(pct(tie, 99)) }))

// The first machine holds slot 0 at term 1; its assign is measured repeatedly (idempotent after the first).
const a = w.machines[0]!
await w.deliver(a, { k: 'grant', wave: 'w1', slot: 0, term: 1, holder: a.id, votes: 1 })
const assign: number[] = []
for (let i = 0; i < 50; i++) {
  t = performance.now()
  const res = await postJson(`${w.h.url}/v1/assign`, w.assignBody(a, 'w1', 0, 1))
  assign.push(performance.now() - t)
  if (res.status !== 200) throw new Error(`assign refused: ${JSON.stringify(res.json)}`)
}
console.log(JSON.stringify({ bench: 'waves.assign', n: N, p50Ms: round(pct(assign, 50)), p99Ms: round(pct(assign, 99)) }))
await w.close()
