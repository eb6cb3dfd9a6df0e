/**
 * `shoal upgrade …` and `shoal lease release` against a real coordinator on loopback: what
 * the operator types, the exit codes (0 ok, 1 refused, 2 usage, 3 unreachable), and that
 * a refused command changes nothing.
 */
import { shoalAgainst } from './support/shoal-cli.js'
import { afterEach, describe, expect, it } from 'vitest'
import { main } from '../cli/main.js'
import { startWaveHarness, type WaveHarness } from '../coordinator/waves/wave-testing.js'

let w: WaveHarness | undefined
afterEach(async () => {
  await w?.close()
  w = undefined
})

const shoal = (...argv: string[]) => shoalAgainst(w, argv)

describe('shoal upgrade', () => {
  it('start takes several --window with days and zones, --at and --settle; status shows them', async () => {
    w = await startWaveHarness(2)
    w.h.clock.set(Date.parse('2026-12-04T18:00Z'))
    expect(await shoal('upgrade', 'start', '--to', 'v2', '--window', 'Funday 22:00-06:00')).toMatchObject({ code: 2, err: expect.stringMatching(/"Funday" is not a day/) })
    expect(await shoal('upgrade', 'start', '--to', 'v2', '--settle', 'soon')).toMatchObject({ code: 2, err: expect.stringMatching(/--settle must look like 90s/) })
    const started = await shoal('upgrade', 'start', '--to', 'v2', '--window', 'Mon-Fri 22:00-06:00 Europe/Berlin', '--window', 'Sat,Sun 00:00-24:00', '--at', '2026-12-04T21:00Z', '--settle', '5m')
    expect(started.code).toBe(0)
    const status = await shoal('upgrade', 'status')
    expect(status.out).toContain('window Mon-Fri 22:00-06:00 Europe/Berlin; Sat,Sun 00:00-24:00, starts 2026-12-04T21:00:00.000Z, settle 300 s')
    expect(status.out).toMatch(/scheduled: starts at 2026-12-04T21:00:00.000Z \(in 3 h 0 min\)/)
  })

  it('start --dry-run prints the order the vote would take and why each node is where it is', async () => {
    w = await startWaveHarness(3)
    const [a, b, c] = w.machines.map((m) => m.id) as [string, string, string]
    w.members.set(a, { work: { pods: 1, load: 0, blocked: 1, pgs: 17, primaries: 0 } })
    w.members.set(b, { work: { pods: 4, load: 0.2, blocked: 0, pgs: 17, primaries: 9 } })
    w.members.set(c, { work: { pods: 30, load: 0.9, blocked: 0, pgs: 17, primaries: 4 } })
    const dry = await shoal('upgrade', 'start', '--to', 'v2', '--dry-run')
    expect(dry.code).toBe(0)
    expect(dry.out).toContain(`order the vote would pick now: ${c}, ${b}, ${a}`)
    const line = (id: string) => dry.out.split('\n').find((l) => /^\d+\s/.test(l) && l.includes(id))!
    expect(line(c)).toMatch(/first: ranks ahead on every rule/)
    expect(line(b)).toContain(`more Ceph primary PGs on its OSDs (9 > 4 on ${c})`)
    expect(line(a)).toContain(`a PodDisruptionBudget blocks 1 pod of its drain (${b}: 0)`)
    const json = JSON.parse((await shoal('upgrade', 'start', '--to', 'v2', '--dry-run', '-o', 'json')).out)
    expect(json.ranked.map((r: { node: string; primaries: number; blocked: number }) => [r.node, r.primaries, r.blocked])).toEqual([
      [c, 4, 0],
      [b, 9, 0],
      [a, 0, 1],
    ])
  })

  it('start refuses bad waves (non-zero, nothing changed), then starts, shows status, pauses, resumes, aborts', async () => {
    w = await startWaveHarness(3)
    const before = await w.h.coordinator.dumpState()
    const unknown = await shoal('upgrade', 'start', '--to', 'v9')
    expect(unknown).toMatchObject({ code: 1, err: expect.stringMatching(/no image version "v9"/) })
    expect(await shoal('upgrade', 'start', '--to', 'v2', '--max-unavailable', '0')).toMatchObject({ code: 1, err: expect.stringMatching(/at least 1/) })
    expect(await shoal('upgrade', 'start', '--to', 'v2', '--max-unavailable', 'two')).toMatchObject({ code: 2, err: expect.stringMatching(/whole number/) })
    expect(await shoal('upgrade', 'start', '--to', 'v2', '--failure-domain', 'rack')).toMatchObject({ code: 1, err: expect.stringMatching(/unknown failure-domain key "rack"/) })
    expect(await shoal('upgrade', 'start')).toMatchObject({ code: 2, err: expect.stringMatching(/--to VERSION/) })
    expect(await shoal('upgrade', 'pause')).toMatchObject({ code: 1, err: expect.stringMatching(/no wave yet/) })
    expect(await w.h.coordinator.dumpState()).toEqual(before)

    const dry = await shoal('upgrade', 'start', '--to', 'v2', '--dry-run')
    expect(dry.code).toBe(0)
    expect(dry.out).toMatch(/order the vote would pick now: node-0001, node-0002, node-0003/)
    expect(await w.h.coordinator.dumpState()).toEqual(before)

    const started = await shoal('upgrade', 'start', '--to', 'v2', '--max-unavailable', '1', '--failure-domain', 'none', '--window', '00:00-24:00', '--node-timeout', '20m')
    expect(started).toMatchObject({ code: 0, out: expect.stringMatching(/wave w1 started: 3 node\(s\) to v2, at most 1 at a time/) })
    const second = await shoal('upgrade', 'start', '--to', 'v2')
    expect(second).toMatchObject({ code: 1, err: expect.stringMatching(/wave w1 .* running; only one wave/) })

    const status = await shoal('upgrade', 'status')
    expect(status.code).toBe(0)
    expect(status.out).toMatch(/wave w1 -> v2 \(from v1\): RUNNING/)
    expect(status.out).toMatch(/0\/3 done, 0 in progress, 3 waiting/)
    expect(status.out).toMatch(/node-0002\s+waiting/)
    const json = JSON.parse((await shoal('upgrade', 'status', 'w1', '-o', 'json')).out)
    expect(json).toMatchObject({ id: 'w1', nodeTimeoutMs: 1_200_000, window: '00:00-24:00', failureDomain: 'none' })

    expect(await shoal('upgrade', 'pause', 'w1')).toMatchObject({ code: 0, out: expect.stringMatching(/wave w1: paused/) })
    expect(await shoal('upgrade', 'pause', 'w1')).toMatchObject({ code: 1, err: expect.stringMatching(/only a running wave can be paused/) })
    expect(await shoal('upgrade', 'resume')).toMatchObject({ code: 0, out: expect.stringMatching(/wave w1: running/) })
    expect(await shoal('upgrade', 'abort')).toMatchObject({ code: 0, out: expect.stringMatching(/wave w1: aborted/) })
    // A finished (aborted) wave: watch returns at once, non-zero.
    expect(await shoal('upgrade', 'status', '--watch')).toMatchObject({ code: 1, out: expect.stringMatching(/ABORTED/) })
    expect(await shoal('upgrade', 'rollback')).toMatchObject({ code: 0, out: expect.stringMatching(/wave w1 rolled back: wave w2 takes 3 node\(s\) back to v1/) })
  })

  it('status --watch follows the wave live until it is done', async () => {
    w = await startWaveHarness(2)
    expect((await shoal('upgrade', 'start', '--to', 'v2', '--max-unavailable', '2')).code).toBe(0)
    const [a, b] = w.machines
    // The nodes move on while the operator watches: each time the CLI prints, the next step happens.
    const steps = [
      () => w!.members.set(a!.id, { phase: 'draining' }),
      () => w!.members.set(a!.id, { phase: 'rebooting' }),
      () => w!.members.set(a!.id, { phase: 'ready', image: 'v2' }),
      () => w!.members.set(b!.id, { phase: 'ready', image: 'v2' }),
    ]
    const out: string[] = []
    const onOut = (l: string) => {
      out.push(l)
      steps.shift()?.()
    }
    const code = await main(['upgrade', 'status', '--watch', '--interval-ms', '100', '--coordinator', w.h.url, '--admin-token', w.h.adminToken], { out: onOut, err: () => {} })
    expect(code).toBe(0)
    const text = out.join('\n')
    expect(text).toMatch(/node-0001\s+draining/)
    expect(text).toMatch(/node-0001\s+rebooting/)
    expect(text).toMatch(/DONE/)
    expect(out).toHaveLength(5) // one print per change, nothing in between
  })
})

describe('shoal lease release', () => {
  it('needs --force, names the node, and force-releases its slot', async () => {
    w = await startWaveHarness(2)
    expect((await shoal('upgrade', 'start', '--to', 'v2')).code).toBe(0)
    const a = w.machines[0]!
    expect(await shoal('lease', 'release', a.id)).toMatchObject({ code: 2, err: expect.stringMatching(/add --force/) })
    expect(await shoal('lease', 'release', a.id, '--force')).toMatchObject({ code: 1, err: expect.stringMatching(/holds no slot in wave w1/) })
    await w.deliver(a, { k: 'grant', wave: 'w1', slot: 0, term: 3, holder: a.id, votes: 2 })
    expect(await shoal('lease', 'release', a.id, '--force')).toMatchObject({ code: 0, out: expect.stringMatching(/slot 0 of wave w1 force-released from node-0001 \(up to term 3\)/) })
  })

  it('start --alert-matcher: a bad one is a usage error (nothing changed); good ones, repeated, are the wave\'s', async () => {
    w = await startWaveHarness(2)
    const before = await w.h.coordinator.dumpState()
    expect(await shoal('upgrade', 'start', '--to', 'v2', '--alert-matcher', 'severity="critical" alertname="X"')).toMatchObject({ code: 2, err: expect.stringMatching(/expected , between matchers at character 21/) })
    expect(await shoal('upgrade', 'start', '--to', 'v2', '--alert-matcher', '{alertname=~"Ceph.*"')).toMatchObject({ code: 2, err: expect.stringMatching(/missing closing \}/) })
    expect(await w.h.coordinator.dumpState()).toEqual(before)
    const sel = ['{alertname=~"Ceph.*",severity="critical"}', 'alertname="KubeNodeNotReady"']
    expect(await shoal('upgrade', 'start', '--to', 'v2', '--alert-matcher', sel[0]!, '--alert-matcher', sel[1]!)).toMatchObject({ code: 0 })
    expect(JSON.parse((await shoal('upgrade', 'status', '-o', 'json')).out)).toMatchObject({ id: 'w1', alertMatchers: sel })
  })

  it('says when the coordinator cannot be reached (exit 3)', async () => {
    const r = await shoal('lease', 'release', 'n1', '--force', '--coordinator', 'http://127.0.0.1:9', '--admin-token', 'x'.repeat(20))
    expect(r).toMatchObject({ code: 3, err: expect.stringMatching(/cannot reach the coordinator at http:\/\/127.0.0.1:9/) })
  })
})
