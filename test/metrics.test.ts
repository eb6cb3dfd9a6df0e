/**
 * Prometheus metrics as a scraper sees them: live agents (hyperswarm on loopback, agents in
 * this process) and a coordinator running a wave, each exposition checked by Debian's
 * `promtool check metrics`, and a handful of values asserted after a join, a death and a
 * wave. Without promtool the lint step skips with one line; the value checks still run.
 */
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AgentMetrics } from '../agent/api/agent-metrics.js'
import type { RunningAgent } from '../agent/main.js'
import type { MeshEvent } from '../agent/protocol/mesh-types.js'
import { startWaveHarness, type WaveHarness } from '../coordinator/waves/wave-testing.js'
import { syntheticMachine } from '../sim/demo/synthetic-hardware.js'
import { InProcessCluster } from './support/in-process-cluster.js'

const hasPromtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0
if (!hasPromtool) console.log('metrics: promtool lint skipped, Debian package prometheus not installed (npm run setup)')

/** `promtool check metrics` on an exposition: its complaints (empty = clean). */
function promtool(text: string): string {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 })
  return r.status === 0 ? '' : `${r.stdout}${r.stderr}`.trim() || `exit ${r.status}`
}

/** The value of one series (`name{labels}` exactly as exposed, labels in exposition order), or undefined. */
function value(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1).split(' ')[0])
  }
  return undefined
}

async function scrape(base: string): Promise<string> {
  const r = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })
  expect(r.status).toBe(200)
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return r.text()
}

/** Scrapes until `pred` holds on the exposition; throws with the last one at the deadline. */
async function scrapeUntil(base: string, pred: (text: string) => boolean, deadlineMs: number, what: string): Promise<string> {
  const end = Date.now() + deadlineMs
  for (;;) {
    const text = await scrape(base)
    if (pred(text)) return text
    if (Date.now() > end) throw new Error(`not within ${deadlineMs} ms: ${what}\n${text.split('\n').filter((l) => l.startsWith('shoal_mesh')).join('\n')}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

describe('agent /metrics on live agents', () => {
  let c: InProcessCluster
  const agents: RunningAgent[] = []
  const machines = [0, 1, 2].map((i) => syntheticMachine(i, 'metrics'))

  beforeAll(async () => {
    c = await InProcessCluster.create('metrics', machines.map((m) => ({ id: m.id })))
    for (const [i, m] of machines.entries()) agents.push(await c.start(i, { image: 'v1', domain: m.domain, inventory: m.inventory }))
  }, 60_000)

  afterAll(() => c?.close(), 30_000)

  it('after a join: members, joins, gossip by type, probe round trips; promtool-clean', async () => {
    const base = `http://${agents[0]!.api}`
    const text = await scrapeUntil(
      base,
      (t) => value(t, 'shoal_mesh_members{status="alive"}') === 3 && (value(t, 'shoal_mesh_probe_rtt_seconds_count') ?? 0) > 0,
      60_000,
      'three alive members and a measured probe',
    )
    if (hasPromtool) expect(promtool(text)).toBe('')
    expect(value(text, 'shoal_mesh_member_joins_total')).toBeGreaterThanOrEqual(2)
    expect(value(text, 'shoal_mesh_members{status="dead"}')).toBe(0)
    // a measured round trip means this agent sent a ping and got its ack
    expect(value(text, 'shoal_mesh_messages_total{direction="in",type="ack"}')).toBeGreaterThan(0)
    expect(value(text, 'shoal_mesh_message_bytes_total{direction="out",type="ping"}')).toBeGreaterThan(0)
    expect(value(text, 'shoal_node_phase{phase="ready"}')).toBe(1)
    expect(value(text, 'shoal_node_phase{phase="draining"}')).toBe(0)
    expect(value(text, 'shoal_agent_info{version="0.1.0",protocol="1"}')).toBe(1)
    expect(value(text, 'process_resident_memory_bytes')).toBeGreaterThan(1e6)
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m)
    // never a label per peer: no node id appears in any label
    for (const m of machines) expect(text).not.toContain(m.id)
  }, 90_000)

  it('after a death: the dead member is counted and the others are still alive', async () => {
    const victim = agents[2]!
    const watcher = agents[0]!
    const dead = new Promise<void>((resolve) => {
      const on = (e: MeshEvent) => {
        if (e.type === 'member' && e.id === victim.id && e.status === 'dead') {
          watcher.runtime.off('event', on)
          resolve()
        }
      }
      watcher.runtime.on('event', on)
    })
    await victim.close()
    await Promise.race([dead, new Promise((_, reject) => setTimeout(() => reject(new Error('victim not declared dead within 60 s')), 60_000).unref())])
    const text = await scrape(`http://${watcher.api}`)
    expect(value(text, 'shoal_mesh_member_deaths_total')).toBeGreaterThanOrEqual(1)
    expect(value(text, 'shoal_mesh_member_suspicions_total')).toBeGreaterThanOrEqual(1)
    expect(value(text, 'shoal_mesh_members{status="dead"}')).toBe(1)
    expect(value(text, 'shoal_mesh_members{status="alive"}')).toBe(2)
    if (hasPromtool) expect(promtool(text)).toBe('')
  }, 90_000)
})

describe('agent wave series', () => {
  it('mirrors votes cast, refusals by reason, the slot and gate verdicts', async () => {
    const listeners = new Set<(e: MeshEvent, at: number) => void>()
    const mesh = {
      selfId: 'n1',
      view: () => [],
      counters: () => ({ dropped: { 'bad-signature': 2 }, refused: { 'not-on-roster': 1, 'inbound-cap': 0 }, node: {}, transport: { in: {}, out: {} } }),
      on: (_: 'event', l: (e: MeshEvent, at: number) => void) => listeners.add(l),
      off: (_: 'event', l: (e: MeshEvent, at: number) => void) => listeners.delete(l),
    }
    const counters: Record<string, number> = { 'votes.cast': 3, 'nack.budget': 2, 'nack.gate': 1, leases: 1 }
    let lease: unknown = { slot: 0, term: 1 }
    const metrics = new AgentMetrics(mesh)
    metrics.attachWave({ status: () => ({ lease, abstaining: false, counters }) })
    metrics.observeGates(true, false)
    metrics.observeRound({ kubelet: 4, kube: 12, ceph: 0 })
    let text = (await metrics.expose()).text
    expect(value(text, 'shoal_vote_votes_cast_total')).toBe(3)
    expect(value(text, 'shoal_vote_refusals_total{reason="budget"}')).toBe(2)
    expect(value(text, 'shoal_vote_refusals_total{reason="gate"}')).toBe(1)
    expect(value(text, 'shoal_wave_slot_held')).toBe(1)
    expect(value(text, 'shoal_wave_gate_verdicts_total{gate="pre",result="pass"}')).toBe(1)
    expect(value(text, 'shoal_wave_gate_verdicts_total{gate="post",result="fail"}')).toBe(1)
    expect(value(text, 'shoal_health_probe_duration_seconds_count{source="kube"}')).toBe(1)
    expect(value(text, 'shoal_health_probe_duration_seconds_count{source="ceph"}')).toBeUndefined()
    expect(value(text, 'shoal_mesh_frames_dropped_total{reason="bad-signature"}')).toBe(2)
    // counters grow by their delta between scrapes; a released slot reads 0
    counters['votes.cast'] = 5
    lease = undefined
    text = (await metrics.expose()).text
    expect(value(text, 'shoal_vote_votes_cast_total')).toBe(5)
    expect(value(text, 'shoal_wave_slot_held')).toBe(0)
    if (hasPromtool) expect(promtool(text)).toBe('')
    metrics.close()
    expect(listeners.size).toBe(0)
  })
})

describe('coordinator /metrics over a wave', () => {
  let w: WaveHarness | undefined
  afterAll(() => w?.close())

  it('nodes by wave state while it runs, a halt by reason, duration when done; promtool-clean', async () => {
    w = await startWaveHarness(2)
    const base = w.h.url
    const before = await scrape(base)
    if (hasPromtool) expect(promtool(before)).toBe('')
    expect(value(before, 'process_cpu_seconds_total')).toBeGreaterThan(0)
    expect(value(before, 'shoal_coordinator_waves{state="running"}')).toBe(0)

    expect((await w.admin('/v1/waves', { target: 'v2', maxUnavailable: 2 })).status).toBe(201)
    const [a, b] = w.machines
    w.members.set(a!.id, { phase: 'draining' })
    const running = await scrape(base)
    expect(value(running, 'shoal_coordinator_waves{state="running"}')).toBe(1)
    expect(value(running, 'shoal_coordinator_wave_nodes{state="draining"}')).toBe(1)
    expect(value(running, 'shoal_coordinator_wave_nodes{state="waiting"}')).toBe(1)

    // A node failing its step halts the wave by itself: counted once, by reason.
    w.members.set(a!.id, { phase: 'failed' })
    const halted = await scrape(base)
    expect(value(halted, 'shoal_coordinator_waves{state="halted"}')).toBe(1)
    expect(value(halted, 'shoal_coordinator_wave_halts_total{reason="node-failed"}')).toBe(1)
    expect(value(await scrape(base), 'shoal_coordinator_wave_halts_total{reason="node-failed"}')).toBe(1)

    w.members.set(a!.id, { phase: 'ready', image: 'v2' })
    w.members.set(b!.id, { phase: 'ready', image: 'v2' })
    const done = await scrape(base)
    expect(value(done, 'shoal_coordinator_waves{state="done"}')).toBe(1)
    expect(value(done, 'shoal_coordinator_wave_nodes{state="done"}')).toBe(2)
    expect(value(done, 'shoal_coordinator_wave_slots_held')).toBe(0)
    expect(value(done, 'shoal_coordinator_wave_duration_seconds_count{outcome="done"}')).toBe(1)
    if (hasPromtool) expect(promtool(done)).toBe('')
  }, 60_000)
})
