import { describe, expect, it } from 'vitest'
import { Awareness, AWARENESS_MAX } from './awareness.js'
import { lanPreset } from './mesh-config.js'
import { Suspicions, suspicionTimeoutMs } from './suspicion.js'

const N = 100
const base = { clusterSize: N, probeIntervalMs: lanPreset.probeIntervalMs, minMult: lanPreset.suspicionMinMult, maxMult: lanPreset.suspicionMaxMult, confirmationsWanted: lanPreset.suspicionConfirmations }

describe('Suspicions', () => {
  it('an accuser times out on Lifeguard schedule, shortened by each independent confirmation, down to the minimum', () => {
    const s = new Suspicions(lanPreset)
    s.start('w1', 'me', true, N, 1000)
    const alone = s.get('w1')!.deadline
    expect(alone).toBe(1000 + suspicionTimeoutMs({ ...base, confirmations: 0 }))
    s.confirm(s.get('w1')!, 'w2', 'me', N)
    const once = s.get('w1')!.deadline
    expect(once).toBeLessThan(alone)
    for (const by of ['w3', 'w4', 'w5']) s.confirm(s.get('w1')!, by, 'me', N)
    expect(s.get('w1')!.deadline).toBe(1000 + suspicionTimeoutMs({ ...base, confirmations: lanPreset.suspicionConfirmations }))
  })

  it('a bystander waits the longest time plus a probe interval (a backstop), until it accuses too', () => {
    const s = new Suspicions(lanPreset)
    s.start('w1', 'w2', false, N, 0)
    expect(s.get('w1')!.deadline).toBe(suspicionTimeoutMs({ ...base, confirmations: 0 }) + lanPreset.probeIntervalMs)
    s.confirm(s.get('w1')!, 'me', 'me', N)
    expect(s.get('w1')!.mine).toBe(true)
    expect(s.get('w1')!.deadline).toBe(suspicionTimeoutMs({ ...base, confirmations: 1 }))
  })

  it('due() hands each run-out suspicion over once, in start order; the suspicion then no longer wakes the node but keeps its accusers', () => {
    const s = new Suspicions(lanPreset)
    s.start('b', 'me', true, N, 0)
    s.start('a', 'me', true, N, 0)
    s.start('c', 'me', true, N, 10_000)
    const t = s.get('a')!.deadline
    expect(s.nextWakeAt()).toBe(t)
    expect(s.due(t - 1)).toEqual([])
    expect(s.due(t)).toEqual(['b', 'a'])
    expect(s.due(t)).toEqual([])
    expect(s.nextWakeAt()).toBe(s.get('c')!.deadline)
    expect(s.get('a')!.accusers.has('me')).toBe(true)
    s.end('a')
    expect(s.get('a')).toBeUndefined()
  })

  it('an ended suspicion never comes due', () => {
    const s = new Suspicions(lanPreset)
    s.start('a', 'me', true, N, 0)
    s.end('a')
    expect(s.due(Number.MAX_SAFE_INTEGER)).toEqual([])
    expect(s.nextWakeAt()).toBe(Infinity)
  })
})

describe('Awareness', () => {
  it('stretches intervals by (score + 1), between 0 and the maximum', () => {
    const a = new Awareness()
    expect(a.scale(200)).toBe(200)
    a.better()
    expect(a.value()).toBe(0)
    for (let i = 0; i < AWARENESS_MAX + 5; i++) a.worse()
    expect(a.value()).toBe(AWARENESS_MAX)
    expect(a.scale(200)).toBe(200 * (AWARENESS_MAX + 1))
    a.better()
    expect(a.scale(200)).toBe(200 * AWARENESS_MAX)
  })
})
