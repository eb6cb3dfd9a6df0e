import { describe, expect, it } from 'vitest'
import type { Phase } from '../protocol/node-record.js'
import type { Lease } from '../protocol/vote/index.js'
import { UpgradeExecutor, type GateVerdict, type UpgradeSteps } from './executor.js'

const lease: Lease = { wave: 'w1', slot: 0, term: 3, holder: 'n1' }

function harness(opts: { image?: string; pre?: GateVerdict[]; joint?: GateVerdict[]; drain?: { ok: boolean; blocking: string[] }; post?: GateVerdict[]; fenceAfter?: string; policy?: 'halt' | 'force'; throwIn?: string } = {}) {
  const log: string[] = []
  const phases: [Phase, string | undefined][] = []
  let now = 0
  let valid = true
  const pass: GateVerdict = { pass: true, reasons: [] }
  const post = [...(opts.post ?? [pass])]
  const pre = [...(opts.pre ?? [pass])]
  const joint = [...(opts.joint ?? [pass])]
  const next = (xs: GateVerdict[]) => (xs.length > 1 ? xs.shift()! : xs[0]!)
  const step = (name: string) => async () => {
    log.push(name)
    if (opts.throwIn === name) throw new Error(`${name} exploded`)
    if (opts.fenceAfter === name) valid = false
  }
  const steps: UpgradeSteps = {
    preGate: async () => (log.push('preGate'), next(pre)),
    jointCheck: async () => (log.push('jointCheck'), next(joint)),
    setNoout: step('setNoout'),
    clearNoout: step('clearNoout'),
    cordon: step('cordon'),
    uncordon: step('uncordon'),
    leftoverCycle: async () => undefined,
    drain: async (_d, force) => (log.push(force ? 'drain --force' : 'drain'), force ? { ok: true, blocking: [] } : (opts.drain ?? { ok: true, blocking: [] })),
    assign: async (l, target) => void log.push(`assign ${l.slot}/${l.term} -> ${target}`),
    postGate: async () => (log.push('postGate'), next(post)),
  }
  const released: Lease[] = []
  const ex = new UpgradeExecutor({
    steps,
    rebooter: { reboot: async (why) => void log.push(`reboot: ${why}`) },
    fenceValid: () => valid,
    target: () => 'v2',
    image: () => opts.image ?? 'v1',
    setPhase: (p, r) => void phases.push([p, r]),
    released: (l) => void released.push(l),
    clock: { now: () => now },
    wait: async (ms) => void (now += ms),
    policy: { verifyTimeoutMs: 10_000, verifyPollMs: 1000, waitPollMs: 5000, drainPolicy: opts.policy ?? 'halt' },
  })
  return { ex, log, phases, released, now: () => now }
}

describe('UpgradeExecutor', () => {
  it('before the reboot: gate, noout, cordon, drain, assign with the lease, the joint check again, then reboot — in that order', async () => {
    const h = harness()
    expect(await h.ex.onLease(lease)).toBe('rebooting')
    expect(h.log).toEqual(['preGate', 'setNoout', 'cordon', 'drain', 'assign 0/3 -> v2', 'jointCheck', 'reboot: upgrade wave w1: slot 0 term 3, onto v2'])
    expect(h.phases.map(([p]) => p)).toEqual(['draining', 'rebooting'])
  })

  it('after the reboot (on the target): verify until the post gate passes, uncordon, clear noout, release, ready', async () => {
    const h = harness({ image: 'v2', post: [{ pass: false, reasons: ['PGs peering'] }, { pass: false, reasons: ['PGs peering'] }, { pass: true, reasons: [] }] })
    expect(await h.ex.onLease(lease)).toBe('released')
    expect(h.log).toEqual(['postGate', 'postGate', 'postGate', 'uncordon', 'clearNoout'])
    expect(h.released).toEqual([lease])
    expect(h.phases.map(([p]) => p)).toEqual(['verifying', 'ready'])
  })

  it('a post gate that never passes fails the node with the reason and keeps the lease', async () => {
    const h = harness({ image: 'v2', post: [{ pass: false, reasons: ['osd.1 down'] }] })
    expect(await h.ex.onLease(lease)).toBe('failed')
    expect(h.released).toEqual([])
    expect(h.phases.at(-1)).toEqual(['failed', 'post-reboot gate did not pass within 10 s: osd.1 down'])
    expect(h.log).not.toContain('uncordon')
  })

  it('stops before the next action when the fencing token is no longer valid, and undoes what it set', async () => {
    const h = harness({ fenceAfter: 'cordon' })
    expect(await h.ex.onLease(lease)).toBe('fenced')
    expect(h.log).toEqual(['preGate', 'setNoout', 'cordon', 'uncordon', 'clearNoout'])
    expect(h.log.some((l) => l.startsWith('reboot'))).toBe(false)
    expect(h.phases.at(-1)).toEqual(['ready', undefined])
  })

  it('a joint check that fails right before the reboot waits (phase draining, with why) and tries again; it reboots once it passes', async () => {
    const no = { pass: false, reasons: ['ceph: Ceph says stopping osd.1, osd.2 is not safe: 4 PGs would become inactive'] }
    const h = harness({ joint: [no, no, { pass: true, reasons: [] }] })
    expect(await h.ex.onLease(lease)).toBe('rebooting')
    expect(h.log.slice(5)).toEqual(['jointCheck', 'jointCheck', 'jointCheck', 'reboot: upgrade wave w1: slot 0 term 3, onto v2'])
    expect(h.now()).toBe(10_000) // two waits of waitPollMs
    const waiting = h.phases.find(([p, r]) => p === 'draining' && r !== undefined)
    expect(waiting?.[1]).toContain('not safe to stop jointly')
    expect(waiting?.[1]).toContain('4 PGs would become inactive')
  })

  it('a step that throws fails the node with the step and its message', async () => {
    const h = harness({ throwIn: 'setNoout' })
    expect(await h.ex.onLease(lease)).toBe('failed')
    expect(h.phases.at(-1)).toEqual(['failed', 'upgrade step set-noout failed: setNoout exploded'])
    expect(h.log).toEqual(['preGate', 'setNoout'])
  })

  it('a blocked drain halts under the halt policy, and is forced under the force policy', async () => {
    const halted = harness({ drain: { ok: false, blocking: ['default/db-0'] } })
    expect(await halted.ex.onLease(lease)).toBe('failed')
    expect(halted.phases.at(-1)).toEqual(['failed', 'drain blocked at the deadline by default/db-0'])
    expect(halted.log.some((l) => l.startsWith('reboot'))).toBe(false)
    const forced = harness({ drain: { ok: false, blocking: ['default/db-0'] }, policy: 'force' })
    expect(await forced.ex.onLease(lease)).toBe('rebooting')
    expect(forced.log).toContain('drain --force')
  })

  it('a failing pre gate touches nothing: the holder keeps its slot, says why, and asks again', async () => {
    const h = harness({ pre: [{ pass: false, reasons: ['osd.4 of node-b is down'] }, { pass: true, reasons: [] }] })
    expect(await h.ex.onLease(lease)).toBe('rebooting')
    expect(h.log.slice(0, 3)).toEqual(['preGate', 'preGate', 'setNoout'])
    expect(h.phases[0]).toEqual(['ready', 'waiting for the pre-reboot gate: osd.4 of node-b is down'])
  })

  it('a boot cordoned for a cycle whose lease is gone: verify, uncordon, clear noout, ready — nothing released', async () => {
    const h = harness({ image: 'v3', post: [{ pass: false, reasons: ['PGs peering'] }, { pass: true, reasons: [] }] })
    expect(await h.ex.finishLeftover('w2/0/4')).toBe('finished')
    expect(h.log).toEqual(['postGate', 'postGate', 'uncordon', 'clearNoout'])
    expect(h.released).toEqual([])
    expect(h.phases.map(([p]) => p)).toEqual(['verifying', 'ready'])
  })

  it('a leftover cycle whose post gate never passes fails the node and stays cordoned', async () => {
    const h = harness({ image: 'v3', post: [{ pass: false, reasons: ['osd.1 down'] }] })
    expect(await h.ex.finishLeftover('w2/0/4')).toBe('failed')
    expect(h.log).not.toContain('uncordon')
    expect(h.phases.at(-1)).toEqual(['failed', 'post-reboot gate did not pass within 10 s: osd.1 down'])
  })

  it('a holder waiting at its joint check tries again as soon as it is poked (a record changed), not at its next 5 s poll', async () => {
    let now = 0
    const timers: { at: number; fire: () => void }[] = []
    const log: string[] = []
    const no: GateVerdict = { pass: false, reasons: ['Ceph not ok-to-stop jointly with n2'] }
    const joint = [no, { pass: true, reasons: [] } as GateVerdict]
    const ok: GateVerdict = { pass: true, reasons: [] }
    const noop = async () => undefined
    const ex = new UpgradeExecutor({
      steps: { preGate: async () => ok, jointCheck: async () => (log.push(`jointCheck@${now}`), joint.shift()!), setNoout: noop, clearNoout: noop, cordon: noop, uncordon: noop, leftoverCycle: noop, drain: async () => ({ ok: true, blocking: [] }), assign: noop, postGate: async () => ok },
      rebooter: { reboot: async () => void log.push(`reboot@${now}`) },
      fenceValid: () => true,
      target: () => 'v2',
      image: () => 'v1',
      setPhase: () => undefined,
      released: () => undefined,
      clock: { now: () => now },
      wait: (ms) => new Promise<void>((resolve) => void timers.push({ at: now + ms, fire: resolve })),
      policy: { waitPollMs: 5000, pokeMinGapMs: 1000 },
    })
    const run = ex.onLease(lease)
    const settle = async () => {
      for (let i = 0; i < 20; i++) await Promise.resolve()
    }
    await settle()
    expect(log).toEqual(['jointCheck@0'])
    expect(timers.map((t) => t.at)).toEqual([5000]) // the fallback poll
    now = 1500
    ex.poke()
    expect(await run).toBe('rebooting')
    expect(log).toEqual(['jointCheck@0', 'jointCheck@1500', 'reboot@1500'])
  })
})

