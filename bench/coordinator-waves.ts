/**
 * Coordinator-side wave figures, on loopback with N enrolled machines (mesh view faked, so
 * only the coordinator's own work is measured):
 *   waves.start     POST /v1/waves (validate, sign roster, publish, pin N assignments, persist)
 *   waves.status    GET /v1/waves/{id} (per-node state of N nodes)
 *   waves.tiebreak  a signed request in -> the coordinator's vote out (persist to level included)
 *   waves.assign    POST /v1/assign of a holder (signature, grant check, assignment + audit)
 * Run: npx tsx bench/coordinator-waves.ts [N]   (one JSON object per line per figure)
 *
 * With --live [NODES[,K]] (default 4,1) instead: a whole wave on the demo's live cluster
 * (sim/demo/wave-demo.ts: the real coordinator, NODES agent processes over hyperswarm on
 * loopback, the fake Kubernetes API, Ceph skipped; a reboot = the agent process restarting
 * on the assigned image), timed from the agents' own log lines:
 *   waves.live   makespan over the lower bound ceil(N/K) x mean per-node cycle (lease
 *                acquired -> released), and release -> next lease / next reboot start.
 * Bounded: about a minute at 4 agents. Run it under the shared heavy lock.
 */
import { performance } from 'node:perf_hooks'
import { postJson } from '../coordinator/testing.js'
import { startWaveHarness } from '../coordinator/waves/wave-testing.js'

const N = Number(process.argv[2] ?? 200)
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!
const round = (x: number) => Math.round(x * 1000) / 1000

const liveAt = process.argv.indexOf('--live')
if (liveAt >= 0) {
  const [nodes, k] = (process.argv[liveAt + 1] ?? '4,1').split(',').map(Number)
  await live(nodes ?? 4, k ?? 1)
  process.exit(0)
}

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

async function live(nodes: number, k: number): Promise<void> {
  const { WaveDemo } = await import('../sim/demo/wave-demo.js')
  const logs: { node: string; t: number; msg: string; lease?: { wave?: string } }[] = []
  const demo = await WaveDemo.create(
    nodes,
    { reboot: () => {}, error: (id, err) => console.error(`${id}: ${err.message}`) },
    (node, j) => {
      if (typeof j.msg === 'string') logs.push({ node, t: typeof j.time === 'number' ? j.time : Date.now(), msg: j.msg, lease: j.lease as { wave?: string } | undefined })
    },
  )
  try {
    // Powered on one by one, as the demo does (simultaneous joins find nobody: hyperswarm trap 1).
    const started: Promise<unknown>[] = []
    for (const [i] of demo.cluster.agents.entries()) {
      started.push(demo.cluster.start(i))
      await new Promise((r) => setTimeout(r, 150))
    }
    await Promise.all(started)
    if (!(await demo.settled(90_000))) throw new Error('agents did not settle within 90 s')
    const t0 = Date.now()
    const s = await demo.runWave(k, () => {}, 150_000)
    const makespanMs = Date.now() - t0
    if (s.state !== 'done') throw new Error(`wave ${s.id} is ${s.state} after 150 s`)
    const ev = (n: string, msg: string) => logs.filter((l) => l.node === n && l.msg === msg && (l.lease?.wave ?? s.id) === s.id).map((l) => l.t)
    const cycles = demo.cluster.agents
      .map((a) => ({ id: a.id, acquired: Math.min(...ev(a.id, 'lease acquired')), released: Math.max(...ev(a.id, 'lease released')), reboot: Math.min(...ev(a.id, 'rebooting (process exit)')) }))
      .sort((a, b) => a.acquired - b.acquired)
    const cycleMs = cycles.map((c) => c.released - c.acquired)
    const mean = cycleMs.reduce((a, b) => a + b, 0) / cycleMs.length
    const bound = Math.ceil(nodes / k) * mean
    // The next start after each release (K=1: the next node; K>1: the first start after that release).
    const releases = cycles.map((c) => c.released).sort((a, b) => a - b)
    const next = (xs: number[], after: number) => xs.filter((x) => x > after).sort((a, b) => a - b)[0]
    const acquiredAll = cycles.map((c) => c.acquired)
    const rebootAll = cycles.map((c) => c.reboot)
    const gaps = releases.slice(0, -1).map((r) => ({ toLease: next(acquiredAll, r)! - r, toReboot: next(rebootAll, r)! - r })).filter((g) => Number.isFinite(g.toLease) && Number.isFinite(g.toReboot))
    const p50 = (xs: number[]) => (xs.length ? pct(xs, 50) : undefined)
    console.log(
      JSON.stringify({
        bench: 'waves.live',
        n: nodes,
        k,
        makespanMs,
        cycleMs,
        meanCycleMs: Math.round(mean),
        lowerBoundMs: Math.round(bound),
        overRatio: +(makespanMs / bound).toFixed(3),
        releaseToNextLeaseMs: gaps.map((g) => g.toLease),
        releaseToNextRebootMs: gaps.map((g) => g.toReboot),
        releaseToNextRebootP50Ms: p50(gaps.map((g) => g.toReboot)),
      }),
    )
  } finally {
    await demo.stop()
  }
}
