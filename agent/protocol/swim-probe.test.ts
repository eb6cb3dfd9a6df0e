import { describe, expect, it } from 'vitest'
import { meshConfig } from './mesh-config.js'
import { MeshNode } from './mesh-node.js'
import type { MeshEffect } from './mesh-types.js'
import { Roster } from './roster.js'
import { fakeKeyring, seededRng } from './testing.js'

/**
 * SWIM probing of one node with three neighbours, driven by hand: the test decides which
 * pings are answered and when the node's timers run. `probe-failures` counts the probes
 * that ended in an accusation.
 */
function lone() {
  const names = ['me', 'p1', 'p2', 'p3']
  const roster = new Roster(names.map((id) => ({ id, key: fakeKeyring(id).publicKey })))
  const node = new MeshNode(
    { self: { id: 'me', image: 'v1', phase: 'ready', domain: 'd', inv: {}, health: { status: 'ok', conditions: [] }, comps: [] }, config: meshConfig(), roster, keyring: fakeKeyring('me'), rng: seededRng(3) },
    0,
  )
  for (const p of names.slice(1)) node.step({ type: 'connected', peer: p }, 0)
  const sends = (effects: readonly MeshEffect[]) => effects.flatMap((e) => (e.type === 'send' ? [{ to: e.to, msg: e.msg }] : []))
  /** Ticks until the first direct ping leaves; returns its target, seq and time. */
  const firstPing = () => {
    let now = 0
    for (;;) {
      now = Math.max(now + 1, node.nextWakeAt())
      const ping = sends(node.step({ type: 'tick' }, now)).find((s) => s.msg.t === 'ping')
      if (ping && ping.msg.t === 'ping') return { target: ping.to, seq: ping.msg.seq, at: now }
    }
  }
  const failures = () => node.counters['probe-failures'] ?? 0
  return { node, sends, firstPing, failures }
}

describe('SWIM probing', () => {
  const cfg = meshConfig()

  it('pings the target directly three times during the indirect phase, so a lost ping or ack does not become a suspicion', () => {
    const { node, sends, firstPing, failures } = lone()
    const p = firstPing()
    // The direct ping (or its ack) is lost: at its deadline the node asks helpers and pings again.
    const pingsAt: number[] = []
    let now = p.at
    while (now < p.at + 3 * cfg.probeTimeoutMs) {
      now = Math.max(now + 1, node.nextWakeAt())
      for (const s of sends(node.step({ type: 'tick' }, now))) {
        if (s.msg.t === 'ping' && s.to === p.target) pingsAt.push(now - p.at)
        // Helpers are not linked to the target: they say so at once.
        if (s.msg.t === 'ping-req') node.step({ type: 'message', from: s.to, msg: { t: 'nack', seq: s.msg.seq, v: 1 }, bytes: 8 }, now)
      }
      if (pingsAt.length === 3) break
    }
    const window = 2 * cfg.probeTimeoutMs
    expect(pingsAt).toEqual([cfg.probeTimeoutMs, cfg.probeTimeoutMs + Math.floor(window / 3), cfg.probeTimeoutMs + 2 * Math.floor(window / 3)])
    // The first two re-pings were lost too; the third is answered.
    node.step({ type: 'message', from: p.target, msg: { t: 'ack', seq: p.seq, v: 1 }, bytes: 8 }, now + 1)
    for (let t = now + 2; t < p.at + 5 * cfg.probeIntervalMs; t = Math.max(t + 1, node.nextWakeAt())) node.step({ type: 'tick' }, t)
    expect(failures()).toBe(0)
  })

  it('accuses a target that answers nothing once the indirect phase ends (direct timeout + twice that)', () => {
    const { node, firstPing, failures } = lone()
    const p = firstPing()
    let now = p.at
    while (failures() === 0 && now < p.at + 5000) {
      now = Math.max(now + 1, node.nextWakeAt())
      node.step({ type: 'tick' }, now)
    }
    expect(now - p.at).toBe(3 * cfg.probeTimeoutMs)
    expect(node.counters['late-probe-deadlines']).toBeUndefined()
  })

  /** The first probe goes unanswered into its indirect phase (helpers nack); returns it. */
  function indirect(l: ReturnType<typeof lone>) {
    const p = l.firstPing()
    const at = p.at + cfg.probeTimeoutMs
    for (const s of l.sends(l.node.step({ type: 'tick' }, at))) {
      if (s.msg.t === 'ping-req') l.node.step({ type: 'message', from: s.to, msg: { t: 'nack', seq: s.msg.seq, v: 1 }, bytes: 8 }, at)
    }
    return p
  }

  it('a node frozen past its probe deadline does not accuse: the ack that waited behind its timer clears the probe', () => {
    const l = lone()
    const p = indirect(l)
    // The target answered in time, but this node froze until well past the indirect
    // deadline (750 ms): its timer runs before it reads the ack.
    const late = p.at + 1200
    l.node.step({ type: 'tick' }, late)
    expect(l.failures()).toBe(0)
    expect(l.node.counters['late-probe-deadlines']).toBe(1)
    l.node.step({ type: 'message', from: p.target, msg: { t: 'ack', seq: p.seq, v: 1 }, bytes: 8 }, late)
    l.node.step({ type: 'tick' }, late + 1)
    expect(l.failures()).toBe(0)
  })

  it('a late deadline is put off once only: a target still silent 1 ms later is accused', () => {
    const l = lone()
    const p = indirect(l)
    const late = p.at + 1200
    l.node.step({ type: 'tick' }, late)
    expect(l.failures()).toBe(0)
    l.node.step({ type: 'tick' }, late + 1)
    expect(l.failures()).toBe(1)
  })
})
