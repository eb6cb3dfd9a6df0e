import { describe, expect, it } from 'vitest'
import type { Lease } from '../vote/index.js'
import { defaultCyclePolicy, idleCycle, stepCycle, type CycleAction, type CycleInput, type CycleOutcome, type CyclePolicy, type CycleState, type CycleStepName, type GateVerdict } from './index.js'

const lease: Lease = { wave: 'w1', slot: 1, term: 4, holder: 'n1' }
const policy: CyclePolicy = { ...defaultCyclePolicy, drainDeadlineMs: 60_000, verifyTimeoutMs: 10_000, verifyPollMs: 1000, waitPollMs: 5000 }
const pass: GateVerdict = { pass: true, reasons: [] }

interface World {
  /** Answers per gate, in order (the last repeats). */
  gates?: Partial<Record<'pre-gate' | 'joint-check' | 'post-gate' | 'data-moved', GateVerdict[]>>
  drain?: { ok: boolean; blocking: string[] }
  /** The fence turns invalid right after this action finishes. */
  fenceAfter?: CycleStepName
  policy?: Partial<CyclePolicy>
}

/** Drives the pure machine synchronously, as a driver would: actions answer at once, wakes advance the clock. */
function drive(start: (p: CyclePolicy) => CycleInput, w: World = {}) {
  const p = { ...policy, ...w.policy }
  let state: CycleState = idleCycle
  let now = 0
  let fence = true
  const actions: string[] = []
  const phases: [string, string | undefined][] = []
  const released: Lease[] = []
  const gates = { 'pre-gate': [pass], 'joint-check': [pass], 'post-gate': [pass], 'data-moved': [pass], ...w.gates }
  let input: CycleInput | undefined = start(p)
  let outcome: CycleOutcome | undefined
  for (let guard = 0; guard < 10_000 && input; guard++) {
    const r = stepCycle(state, input, now)
    state = r.state
    input = undefined
    let action: CycleAction | undefined
    let wake: number | undefined
    for (const e of r.effects) {
      if (e.type === 'phase') phases.push([e.phase, e.reason])
      else if (e.type === 'release') released.push(e.lease)
      else if (e.type === 'do') action = e.action
      else if (e.type === 'wake') wake = e.at
      else if (e.type === 'end') outcome = e.outcome
    }
    if (outcome) break
    if (action) {
      actions.push(action.step === 'drain' && action.force ? 'drain --force' : action.step === 'reboot' && action.powerOff ? 'power-off' : action.step)
      if (w.fenceAfter === action.step) fence = false
      const done = { type: 'done' as const, step: action.step, fence }
      if (action.step === 'pre-gate' || action.step === 'joint-check' || action.step === 'post-gate' || action.step === 'data-moved') {
        const xs = gates[action.step]!
        input = { ...done, verdict: xs.length > 1 ? xs.shift()! : xs[0]! }
      } else if (action.step === 'drain') input = { ...done, drain: action.force ? { ok: true, blocking: [] } : (w.drain ?? { ok: true, blocking: [] }) }
      else input = done
    } else if (wake !== undefined) {
      now = wake
      input = { type: 'tick', fence }
    }
  }
  return { outcome, actions, phases, released, now: () => now, state }
}

const before = (p: CyclePolicy): CycleInput => ({ type: 'lease', lease, target: 'v2', image: 'v1', fence: true, policy: p })
const after = (p: CyclePolicy): CycleInput => ({ type: 'lease', lease, target: 'v2', image: 'v2', fence: true, policy: p })
const no = (why: string): GateVerdict => ({ pass: false, reasons: [why] })

const verb = (kind: NonNullable<Extract<CycleInput, { type: 'lease' }>['verb']>, image = 'verb:x') => (p: CyclePolicy): CycleInput => ({ type: 'lease', lease, target: 'v1', image, fence: true, policy: p, verb: kind })

describe('node verbs through the same cycle (pure)', () => {
  it('reboot: the same gates, noout, cordon and drain, no new image asked for, the joint check, a reboot', () => {
    const r = drive(verb('reboot'))
    expect(r.outcome).toBe('rebooting')
    expect(r.actions).toEqual(['pre-gate', 'set-noout', 'cordon', 'drain', 'joint-check', 'reboot'])
    // Back on the same image (the agent hands it the target once it carries the cycle's mark): the post gate and the release.
    expect(drive(verb('reboot', 'v1'))).toMatchObject({ outcome: 'released', actions: ['post-gate', 'uncordon', 'clear-noout'], released: [lease] })
  })

  it('shutdown: as reboot, but the machine powers off', () => {
    const r = drive(verb('shutdown'))
    expect(r.outcome).toBe('rebooting')
    expect(r.actions).toEqual(['pre-gate', 'set-noout', 'cordon', 'drain', 'joint-check', 'power-off'])
  })

  it('maintenance: drained and held — the slot released while the node stays draining (unavailable), cordoned, noout set', () => {
    const r = drive(verb('maintenance'))
    expect(r.outcome).toBe('held')
    expect(r.actions).toEqual(['pre-gate', 'set-noout', 'cordon', 'drain'])
    expect(r.released).toEqual([lease])
    expect(r.phases.at(-1)).toEqual(['draining', expect.stringContaining('in maintenance')])
    // A drain blocked at its deadline fails the node, as in a wave (halt policy): nothing is released.
    expect(drive(verb('maintenance'), { drain: { ok: false, blocking: ['db-0'] } })).toMatchObject({ outcome: 'failed', released: [] })
  })

  it('decommission: OSDs out, then wait until Ceph moved the data, then leave and free the slot', () => {
    const r = drive(verb('decommission'), { gates: { 'data-moved': [no('12 PGs not active+clean'), no('3 PGs still on osd.2'), pass] } })
    expect(r.outcome).toBe('decommissioned')
    expect(r.actions).toEqual(['pre-gate', 'set-noout', 'cordon', 'drain', 'osd-out', 'data-moved', 'data-moved', 'data-moved'])
    expect(r.phases.map(([p]) => p)).toEqual(['draining', 'draining', 'draining', 'leaving'])
    expect(r.released).toEqual([lease])
    expect(r.now()).toBe(2 * policy.waitPollMs)
  })

  it('decommission with its lease lost after the OSDs went out (an abort, a force-release): OSDs in again, uncordon, clear noout — nothing left out', () => {
    const waiting = drive(verb('decommission'), { gates: { 'data-moved': [no('12 PGs not active+clean')] }, fenceAfter: 'data-moved' })
    expect(waiting.outcome).toBe('fenced')
    expect(waiting.actions).toEqual(['pre-gate', 'set-noout', 'cordon', 'drain', 'osd-out', 'data-moved', 'osd-in', 'uncordon', 'clear-noout'])
    expect(waiting.released).toEqual([])
    expect(waiting.phases.at(-1)).toEqual(['ready', undefined])
    expect(drive(verb('decommission'), { fenceAfter: 'osd-out' })).toMatchObject({ outcome: 'fenced', actions: ['pre-gate', 'set-noout', 'cordon', 'drain', 'osd-out', 'osd-in', 'uncordon', 'clear-noout'] })
    // Lost before the OSDs went out: nothing to mark in.
    expect(drive(verb('decommission'), { fenceAfter: 'drain' }).actions).toEqual(['pre-gate', 'set-noout', 'cordon', 'drain', 'uncordon', 'clear-noout'])
  })

  it('a decommission resumed after an agent restart undoes its OSDs too when the lease is gone (it may have marked them out before the restart)', () => {
    const resumed = (p: CyclePolicy): CycleInput => ({ type: 'lease', lease, target: 'v1', image: 'verb:x', fence: false, policy: p, verb: 'decommission', resume: true })
    expect(drive(resumed)).toMatchObject({ outcome: 'fenced', actions: ['osd-in', 'uncordon', 'clear-noout'] })
    const maintenance = (p: CyclePolicy): CycleInput => ({ type: 'lease', lease, target: 'v1', image: 'verb:x', fence: false, policy: p, verb: 'maintenance', resume: true })
    expect(drive(maintenance).actions).toEqual(['uncordon', 'clear-noout'])
  })

  it('a lease lost before the hold undoes what the verb set, as a wave does', () => {
    const r = drive(verb('maintenance'), { fenceAfter: 'drain' })
    expect(r.outcome).toBe('fenced')
    expect(r.actions).toEqual(['pre-gate', 'set-noout', 'cordon', 'drain', 'uncordon', 'clear-noout'])
    expect(r.released).toEqual([])
  })
})

describe('the upgrade cycle (pure)', () => {
  it('before the reboot: pre-gate, noout, cordon, drain, assign, joint check, reboot', () => {
    const r = drive(before)
    expect(r.outcome).toBe('rebooting')
    expect(r.actions).toEqual(['pre-gate', 'set-noout', 'cordon', 'drain', 'assign', 'joint-check', 'reboot'])
    expect(r.phases.map(([p]) => p)).toEqual(['draining', 'rebooting'])
  })

  it('after the reboot: verify until the post gate passes, uncordon, clear noout, release', () => {
    const r = drive(after, { gates: { 'post-gate': [no('PGs peering'), no('PGs peering'), pass] } })
    expect(r.outcome).toBe('released')
    expect(r.actions).toEqual(['post-gate', 'post-gate', 'post-gate', 'uncordon', 'clear-noout'])
    expect(r.released).toEqual([lease])
    expect(r.now()).toBe(2000)
    expect(r.phases.map(([p]) => p)).toEqual(['verifying', 'ready'])
  })

  it('verify timeout: a post gate that never passes fails the node after verifyTimeoutMs, keeping the slot and the cordon', () => {
    const r = drive(after, { gates: { 'post-gate': [no('osd.1 down')] } })
    expect(r.outcome).toBe('failed')
    expect(r.now()).toBe(10_000)
    expect(r.released).toEqual([])
    expect(r.actions).not.toContain('uncordon')
    expect(r.phases.at(-1)).toEqual(['failed', 'post-reboot gate did not pass within 10 s: osd.1 down'])
  })

  it('a drain blocked at the deadline: halt fails the node before anything goes down; force evicts anyway and goes on', () => {
    const blocked = { ok: false, blocking: ['default/db-0 (PDB)'] }
    const halted = drive(before, { drain: blocked })
    expect(halted.outcome).toBe('failed')
    expect(halted.actions).toEqual(['pre-gate', 'set-noout', 'cordon', 'drain'])
    expect(halted.phases.at(-1)).toEqual(['failed', 'drain blocked at the deadline by default/db-0 (PDB)'])
    const forced = drive(before, { drain: blocked, policy: { drainPolicy: 'force' } })
    expect(forced.outcome).toBe('rebooting')
    expect(forced.actions).toEqual(['pre-gate', 'set-noout', 'cordon', 'drain', 'drain --force', 'assign', 'joint-check', 'reboot'])
  })

  it('the joint check failing right before the reboot: the holder waits (draining, says why), asks again every waitPollMs, never reboots on a stale answer', () => {
    const r = drive(before, { gates: { 'joint-check': [no('n3 is down'), no('n3 is down'), no('n3 is down'), pass] } })
    expect(r.outcome).toBe('rebooting')
    expect(r.actions.filter((a) => a === 'joint-check')).toHaveLength(4)
    expect(r.actions.indexOf('reboot')).toBe(r.actions.length - 1)
    expect(r.now()).toBe(15_000)
    // Said once, not at every retry.
    expect(r.phases.filter(([, why]) => why?.includes('n3 is down'))).toEqual([['draining', 'waiting: not safe to stop jointly with the nodes down or holding a slot: n3 is down']])
  })

  it('a failing pre-gate touches nothing and waits', () => {
    const r = drive(before, { gates: { 'pre-gate': [no('drain would block'), pass] } })
    expect(r.actions.slice(0, 3)).toEqual(['pre-gate', 'pre-gate', 'set-noout'])
    expect(r.phases[0]).toEqual(['ready', 'waiting for the pre-reboot gate: drain would block'])
  })

  describe('the fence lost after each step', () => {
    const undo: Record<string, string[]> = {
      'pre-gate': [],
      'set-noout': ['clear-noout'],
      cordon: ['uncordon', 'clear-noout'],
      drain: ['uncordon', 'clear-noout'],
      assign: ['uncordon', 'clear-noout'],
      'joint-check': ['uncordon', 'clear-noout'],
    }
    for (const [step, undone] of Object.entries(undo)) {
      it(`after ${step}: stops before the next action, undoes what it set, never reboots`, () => {
        const r = drive(before, { fenceAfter: step as CycleStepName })
        expect(r.outcome).toBe('fenced')
        const i = r.actions.indexOf(step)
        expect(r.actions.slice(i + 1)).toEqual(undone)
        expect(r.actions).not.toContain('reboot')
        if (undone.length) expect(r.phases.at(-1)).toEqual(['ready', undefined])
      })
    }

    it('while waiting at the joint check: undoes and stops', () => {
      const r = drive(before, { gates: { 'joint-check': [no('n3 down')] }, fenceAfter: 'joint-check' })
      expect(r.actions.filter((a) => a === 'joint-check')).toHaveLength(1)
      expect(r.outcome).toBe('fenced')
      expect(r.actions.slice(-2)).toEqual(['uncordon', 'clear-noout'])
    })

    it('after the reboot (during verify): finishes the cycle — uncordon, clear noout — with nothing released', () => {
      const r = drive(after, { gates: { 'post-gate': [no('peering'), pass] }, fenceAfter: 'post-gate' })
      expect(r.outcome).toBe('finished')
      expect(r.actions).toEqual(['post-gate', 'post-gate', 'uncordon', 'clear-noout'])
      expect(r.released).toEqual([])
      expect(r.phases.at(-1)).toEqual(['ready', undefined])
    })
  })

  it('a leftover cycle: verify, uncordon, clear noout, ready; nothing released', () => {
    const r = drive((p) => ({ type: 'leftover', mark: 'w0/0/2', policy: p }), { gates: { 'post-gate': [no('peering'), pass] } })
    expect(r.outcome).toBe('finished')
    expect(r.actions).toEqual(['post-gate', 'post-gate', 'uncordon', 'clear-noout'])
    expect(r.released).toEqual([])
    expect(r.phases.map(([p]) => p)).toEqual(['verifying', 'ready'])
  })

  it('resume after an agent restart: skips the pre-gate, sets noout, cordons and drains again (idempotent), then the joint check and the reboot', () => {
    const r = drive((p) => ({ ...(before(p) as Extract<CycleInput, { type: 'lease' }>), resume: true }))
    expect(r.outcome).toBe('rebooting')
    expect(r.actions).toEqual(['set-noout', 'cordon', 'drain', 'assign', 'joint-check', 'reboot'])
  })

  it('a lease handed in while the fence is already invalid touches nothing', () => {
    const r = drive((p) => ({ ...(before(p) as Extract<CycleInput, { type: 'lease' }>), fence: false }))
    expect(r.outcome).toBe('fenced')
    expect(r.actions).toEqual([])
  })

  it('a stale answer (a step not in flight) and an early tick change nothing', () => {
    const s1 = stepCycle(idleCycle, before(policy), 0)
    const stale = stepCycle(s1.state, { type: 'done', step: 'reboot', fence: true }, 1)
    expect(stale.effects).toEqual([])
    expect(stale.state.run).toEqual(s1.state.run)
    const tick = stepCycle(s1.state, { type: 'tick', fence: true }, 1)
    expect(tick.effects).toEqual([]) // the pre-gate is in flight: nothing to retry
  })

  it('a poke tries a waiting joint check again at once once pokeMinGapMs has passed since its last try, asks for a wake at that time when poked sooner, and does nothing when nothing waits', () => {
    const no: GateVerdict = { pass: false, reasons: ['Ceph not ok-to-stop jointly with n2'] }
    const step = (st: CycleState, input: CycleInput, at: number) => stepCycle(st, input, at)
    let st = step(idleCycle, { type: 'lease', lease, target: 'v2', image: 'v1', fence: true, policy }, 0).state
    // Nothing waits while an action is in flight: a poke changes nothing.
    expect(step(st, { type: 'poke', fence: true }, 0).effects).toEqual([])
    for (const s of ['pre-gate', 'set-noout', 'cordon', 'drain', 'assign'] as const) st = step(st, { type: 'done', step: s, fence: true, verdict: pass, drain: { ok: true, blocking: [] } }, 100).state
    const waited = step(st, { type: 'done', step: 'joint-check', fence: true, verdict: no }, 100)
    expect(waited.effects).toContainEqual({ type: 'wake', at: 5100 })
    st = waited.state
    // 300 ms after the try: too soon — a wake at try + 1 s, no check yet.
    const soon = step(st, { type: 'poke', fence: true }, 400)
    expect(soon.effects).toEqual([{ type: 'wake', at: 1100 }])
    // A second early poke asks for nothing more (a try is already due then).
    expect(step(soon.state, { type: 'poke', fence: true }, 500).effects).toEqual([])
    // Past the gap: the check runs now, not at 5.1 s.
    const now = step(soon.state, { type: 'poke', fence: true }, 1200)
    expect(now.effects).toEqual([{ type: 'do', action: { step: 'joint-check' } }])
    const rebooting = step(now.state, { type: 'done', step: 'joint-check', fence: true, verdict: pass }, 1200)
    expect(rebooting.effects).toContainEqual({ type: 'do', action: expect.objectContaining({ step: 'reboot' }) })
  })
})

