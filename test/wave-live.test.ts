/**
 * Upgrade waves on real parts: three agent processes over hyperswarm on loopback
 * (agent/main.ts with the upgrade block), a real Ceph with one CRUSH host per worker, the
 * fake Kubernetes API, and the real coordinator (coordinator/coordinator.ts in this
 * process: enrollment, boot scripts, its DHT bootstrap node and mesh peer, the waves API
 * driven over HTTP and `shoal upgrade status`). A worker's reboot is its agent exiting 75;
 * the harness stops its OSD and starts both again on the image its boot script names.
 *
 * Sampled every ~150 ms throughout: workers unavailable (agent down, OSD down, or node
 * cordoned) — never more than K=1; PGs
 * inactive (from `ceph status`) — never any; noout on the rebooting host at the moment it
 * goes down. Waits are on conditions with deadlines. Figures (makespan vs ceil(N/K) x
 * per-node cycle, release -> next reboot) are printed as JSON lines.
 */
import { appendFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CephSession } from '../agent/health/ceph-session.js'
import { CephOsdDump, CephStatus } from '../agent/health/ceph-schemas.js'
import { run as upgradeCli } from '../cli/commands/upgrade.js'
import { CephCluster, hasCeph } from '../harness/ceph-cluster.js'
import { LiveCluster } from './support/live-cluster.js'
import { agentSelf as self, agentsNow, startWave, until as waitUntil, untilReadyForWave, untilWaveDone } from './support/wave-watch.js'

const cephInstalled = await hasCeph()
if (!cephInstalled) console.log('wave-live: skipped, the Ceph daemons/CLI (ceph-mon, ceph-osd, ceph) are not installed (npm run setup)')

const W = ['w1', 'w2', 'w3']

let live!: LiveCluster

/** Re-checks `pred` every 150 ms until it holds (test/support/wave-watch.ts), on this file's cluster. */
const until = (pred: () => boolean | Promise<boolean>, deadlineMs: number, what: () => string | Promise<string>) => waitUntil(live, pred, deadlineMs, what)

/** `shoal upgrade status ID` as an operator runs it: exit code and printed text. */
async function statusCli(id: string): Promise<{ code: number; text: string }> {
  const out: string[] = []
  const code = await upgradeCli(['status', id, '--coordinator', live.coordinator.url, '--admin-token', live.coordinator.adminToken], { out: (l) => out.push(l), err: (l) => out.push(l) })
  return { code, text: out.join('\n') }
}

describe.skipIf(!cephInstalled)('upgrade wave on real agents, real Ceph, fake Kubernetes, the real coordinator', () => {
  let ceph: CephCluster
  let session: CephSession
  const logs: { id: string; t: number; msg: string; j: Record<string, any> }[] = []
  const reboots: { id: string; at: number; noout: boolean }[] = []
  let sampling = true
  let maxUnavailable = 0
  const overLimit: string[] = []
  let maxInactive = 0
  let maxTransient = 0
  const inactiveStates = new Set<string>()
  let cephSamples = 0
  let samples = 0
  const samplers: Promise<void>[] = []

  beforeAll(async () => {
    ceph = new CephCluster({ hosts: W, heartbeatGraceS: 6 })
    await ceph.start()
    session = new CephSession({ conf: ceph.conf, keyring: ceph.keyring, timeoutMs: 10_000 })
    const l = (live = new LiveCluster({ workers: W, images: ['v1', 'v2', 'v3'], ceph }))
    l.on('log', (id: string, j: Record<string, any>) => {
      if (typeof j.msg === 'string') logs.push({ id, t: typeof j.time === 'number' ? j.time : Date.now(), msg: j.msg, j })
      // WAVE_LIVE_LOG=FILE keeps every agent and coordinator line for a post-mortem.
      if (process.env.WAVE_LIVE_LOG) appendFileSync(process.env.WAVE_LIVE_LOG, JSON.stringify({ src: id, ...j }) + '\n')
    })
    l.on('reboot', (id: string, at: number) => {
      const entry = { id, at, noout: false }
      reboots.push(entry)
      // At the moment the machine goes down: is noout set on its CRUSH host?
      void session
        .json(['osd', 'dump'], CephOsdDump)
        .then((d) => (entry.noout = (d.crush_node_flags[id] ?? []).includes('noout')))
        .catch(() => {})
    })
    await l.start()
    // Unavailable = agent down, its OSD down, or its node cordoned (draining or not yet back).
    samplers.push(
      (async () => {
        while (sampling) {
          const down = live.workers.filter((w) => !live.running(w) || ceph.osdsOf(w.id).some((i) => !ceph.osdRunning(i)) || live.kube.nodes.get(w.id)?.spec.unschedulable === true)
          samples++
          if (down.length > maxUnavailable) maxUnavailable = down.length
          if (down.length > 1) overLimit.push(`${new Date().toISOString()} ${down.map((w) => w.id).join(',')}`)
          await new Promise<void>((r) => setTimeout(r, 150))
        }
      })(),
      (async () => {
        while (sampling) {
          try {
            const s = await session.json(['status'], CephStatus)
            // Inactive = not active and not on its way there: `peering`/`activating` are the
            // sub-second transitions every OSD stop or start causes (counted apart);
            // `peered`, `down`, `incomplete`, `stale` mean I/O stops.
            let inactive = 0
            let transient = 0
            for (const p of s.pgmap.pgs_by_state) {
              const st = p.state_name.split('+')
              if (st.includes('active')) continue
              if (st.includes('peering') || st.includes('activating')) transient += p.count
              else {
                inactive += p.count
                inactiveStates.add(p.state_name)
              }
            }
            cephSamples++
            if (inactive > maxInactive) maxInactive = inactive
            if (transient > maxTransient) maxTransient = transient
          } catch {}
          await new Promise<void>((r) => setTimeout(r, 150))
        }
      })(),
    )
    // Before the wave: every worker judges itself ready to go down (its pre gate), and its
    // vote has finished the after-boot quiet period (a node that boots within the clock-skew
    // bound of a wave's start must relearn promises from others that are relearning too:
    // see docs/waves-agent.md, "cold start").
    await untilReadyForWave(live, 60_000)
  }, 240_000)

  afterAll(async () => {
    sampling = false
    await Promise.all(samplers)
    session?.close()
    await live?.stop()
    await ceph?.stop()
  }, 60_000)

  it('K=1 over 3 workers: one at a time, noout on the rebooting host, no PG inactive, all on v2, the wave done', async () => {
    const t0 = Date.now()
    const id = await startWave(live, { target: 'v2', maxUnavailable: 1, failureDomain: 'domain', nodeTimeoutMs: 90_000 })
    await untilWaveDone(live, id, 'v2', 150_000)
    const makespan = Date.now() - t0
    // noout is cleared everywhere once the wave is over.
    const dump = await session.json(['osd', 'dump'], CephOsdDump)
    expect(Object.entries(dump.crush_node_flags).filter(([, f]) => f.includes('noout'))).toEqual([])

    expect(reboots.map((x) => x.id).sort()).toEqual(W)
    expect(reboots.every((x) => x.noout)).toBe(true)
    expect(overLimit).toEqual([])
    expect(maxUnavailable).toBe(1)
    expect([...inactiveStates]).toEqual([])
    expect(maxInactive).toBe(0)
    expect(samples).toBeGreaterThan(50)
    expect(cephSamples).toBeGreaterThan(10)
    const assigned = (await live.coordinator.assignments()).filter((a) => a.wave === id)
    expect(assigned.map((a) => a.node).sort()).toEqual(W)
    expect(live.workers.map((w) => w.image)).toEqual(['v2', 'v2', 'v2'])
    const st = (await live.coordinator.call('GET', `/v1/waves/${id}`)).json
    expect(st.nodes.map((n: { node: string; state: string; image: string }) => [n.node, n.state, n.image])).toEqual(W.map((n) => [n, 'done', 'v2']))
    const cli = await statusCli(id)
    expect(cli.code).toBe(0)
    expect(cli.text).toMatch(new RegExp(`wave ${id} -> v2 \\(from v1\\): DONE`))

    // Figures: per-node cycle = lease acquired -> released; overhead = release -> next reboot start.
    const ev = (n: string, msg: string) => logs.filter((l) => l.id === n && l.msg === msg && (l.j.lease?.wave ?? id) === id).map((l) => l.t)
    const cycles = W.map((n) => ({ id: n, acquired: Math.min(...ev(n, 'lease acquired')), released: Math.max(...ev(n, 'lease released')), reboot: Math.min(...ev(n, 'rebooting (process exit)')) })).sort((a, b) => a.acquired - b.acquired)
    const cycleMs = cycles.map((c) => c.released - c.acquired)
    const gaps = cycles.slice(1).map((c, i) => ({ toAcquire: c.acquired - cycles[i]!.released, toReboot: c.reboot - cycles[i]!.released }))
    const meanCycle = cycleMs.reduce((a, b) => a + b, 0) / cycleMs.length
    const bound = Math.ceil(W.length / 1) * meanCycle
    console.log(
      JSON.stringify({
        bench: 'wave.live',
        n: W.length,
        k: 1,
        makespanMs: makespan,
        cycleMs,
        lowerBoundMs: Math.round(bound),
        overRatio: +(makespan / bound).toFixed(2),
        releaseToNextLeaseMs: gaps.map((g) => g.toAcquire),
        releaseToNextRebootMs: gaps.map((g) => g.toReboot),
        samples,
        cephSamples,
        maxPeeringPgs: maxTransient,
      }),
    )
    // Every holder logs its own acquire and release; a missing line is a lease that ended
    // another way (lost, superseded) — say which node and what its vote logged.
    for (const c of cycles) {
      expect(c.released - c.acquired, `${c.id}'s lease: ${JSON.stringify(logs.filter((l) => l.id === c.id && /lease|vote|release/.test(l.msg)).map((l) => [l.t, l.msg]))}`).toBeGreaterThan(0)
    }
  }, 200_000)

  it('a worker that never comes back halts the wave with the reason; rollback returns the others once it is back', async () => {
    const NODE_TIMEOUT_MS = 8000
    const before = reboots.length
    // The second worker to reboot in this wave never comes back.
    let gone = ''
    const onReboot = (n: string) => {
      if (reboots.length - before === 1) for (const w of live.workers) if (w.id !== n) w.stayDown = true
    }
    live.on('reboot', onReboot)
    live.once('down', (n: string) => {
      gone = n
    })
    const id = await startWave(live, { target: 'v3', maxUnavailable: 1, failureDomain: 'domain', nodeTimeoutMs: NODE_TIMEOUT_MS })
    await until(() => gone !== '', 90_000, async () => `a second worker rebooting in ${id}; agents ${await agentsNow(live)}`)
    live.off('reboot', onReboot)
    for (const w of live.workers) w.stayDown = false
    const upgraded = live.workers.filter((w) => w.id !== gone && w.image === 'v3').map((w) => w.id)
    expect(upgraded).toHaveLength(1)

    // The coordinator shows the wave halted on that node, with the reason, past the node timeout.
    let st: any
    await until(
      async () => {
        st = (await live.coordinator.call('GET', `/v1/waves/${id}`)).json
        return st.state === 'halted'
      },
      NODE_TIMEOUT_MS + 30_000,
      () => `wave ${id} halted on ${gone}; last status ${JSON.stringify(st)}`,
    )
    // From the moment its agent went down (the exit; its phase `rebooting` left ~0.2 s before).
    const wentDownAt = reboots.filter((x) => x.id === gone).at(-1)!.at
    const haltMs = Date.now() - wentDownAt
    // Unavailable — and on the halt rule's clock — since it left `ready` to drain, after it won
    // its slot: the joint Ceph check right before the reboot can keep it draining a while.
    const leasedAt = Math.min(...logs.filter((l) => l.id === gone && l.msg === 'lease acquired' && l.j.lease?.wave === id).map((l) => l.t))
    const sinceLeaseMs = Date.now() - leasedAt
    expect(st.reason).toMatch(new RegExp(`halted: node ${gone} has been .* past the wave's node timeout of ${NODE_TIMEOUT_MS / 1000} s`))
    expect(st.nodes.find((n: { node: string }) => n.node === gone).state).toBe('rebooting')
    // Not before the timeout: a slow node is not a failed one.
    expect(sinceLeaseMs).toBeGreaterThanOrEqual(NODE_TIMEOUT_MS - 1500)
    const cli = await statusCli(id)
    expect(cli.text).toMatch(new RegExp(`wave ${id} -> v3 \\(from v2\\): HALTED — halted: node ${gone} `))
    expect(cli.text).toMatch(new RegExp(`${gone}\\s+rebooting`))
    // The survivors hold new slots back too (each decides from its own view).
    const others = live.workers.filter((w) => w.id !== gone)
    await until(
      async () => (await Promise.all(others.map((w) => self(w.api)))).every((x) => x?.wave?.held.halted && (x.wave.held.reason ?? '').includes(gone)),
      30_000,
      async () => `survivors report the wave halted on ${gone}: ${await agentsNow(live)}`,
    )
    expect(reboots.length - before).toBe(2)
    console.log(JSON.stringify({ bench: 'wave.live.halt', node: gone, nodeTimeoutMs: NODE_TIMEOUT_MS, downToHaltedMs: haltMs, leaseToHaltedMs: sinceLeaseMs, reason: st.reason }))

    // Rollback: a new wave back to v2. With three Ceph hosts and size-3 pools, a second host
    // down would leave PGs with one replica: the survivors' pre gates refuse while the dead
    // host is down, and the rollback wave itself halts on it — nobody else goes down.
    const rb = await live.coordinator.call('POST', `/v1/waves/${id}/rollback`)
    expect(rb.status, JSON.stringify(rb.json)).toBe(201)
    expect(rb.json).toMatchObject({ target: 'v2', rollbackOf: id })
    const rid = rb.json.id as string
    expect((await live.coordinator.call('GET', `/v1/waves/${id}`)).json.state).toBe('aborted')
    await until(
      async () => {
        st = (await live.coordinator.call('GET', `/v1/waves/${rid}`)).json
        return st.state === 'halted' && (st.reason ?? '').includes(gone)
      },
      NODE_TIMEOUT_MS + 30_000,
      () => `rollback ${rid} held on ${gone}; last status ${JSON.stringify(st)}`,
    )
    expect(reboots.length - before).toBe(2)
    // The operator gets the machine back: it netboots what its boot script names (v3, assigned
    // on its lease in the halted wave), finishes the cycle it was in (uncordon, noout cleared),
    // and the rollback takes every worker back to v2, one at a time.
    await live.powerOn(gone)
    await until(
      async () => {
        if (!live.workers.every((w) => w.image === 'v2' && live.running(w) && w.api)) return false
        if (!W.every((n) => live.kube.nodes.get(n)?.spec.unschedulable !== true)) return false
        return (await live.coordinator.call('GET', `/v1/waves/${rid}`)).json.state === 'done'
      },
      150_000,
      async () => `rollback ${rid} done with every worker on v2; coordinator ${JSON.stringify((await live.coordinator.call('GET', `/v1/waves/${rid}`)).json)}; agents ${await agentsNow(live)}`,
    )
    const end = (await live.coordinator.call('GET', `/v1/waves/${rid}`)).json
    expect(end.nodes.map((n: { node: string; state: string; image: string }) => [n.node, n.state, n.image])).toEqual(W.map((n) => [n, 'done', 'v2']))
    const rolled = (await live.coordinator.assignments()).filter((a) => a.wave === rid).map((a) => a.node).sort()
    expect(rolled).toEqual([gone, upgraded[0]!].sort())
    const dump = await session.json(['osd', 'dump'], CephOsdDump)
    expect(Object.entries(dump.crush_node_flags).filter(([, f]) => f.includes('noout'))).toEqual([])
    expect(overLimit).toEqual([])
    expect(maxUnavailable).toBe(1)
    expect(maxInactive).toBe(0)
  }, 240_000)
})
