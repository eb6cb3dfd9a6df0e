import { describe, expect, it } from 'vitest'
import { canStillWin, isQuorum, syncAnswersNeeded } from './quorum.js'
import { compareRank, type RankKey } from './ranking.js'

describe('quorum rule', () => {
  it('needs more than half of the roster', () => {
    expect(isQuorum(5, 3, false)).toBe(true)
    expect(isQuorum(5, 2, false)).toBe(false)
    expect(isQuorum(5, 2, true)).toBe(false) // the coordinator only breaks exact ties
    expect(isQuorum(200, 101, false)).toBe(true)
    expect(isQuorum(200, 100, false)).toBe(false)
  })

  it('accepts exactly half plus the coordinator (the tie-break)', () => {
    expect(isQuorum(4, 2, true)).toBe(true)
    expect(isQuorum(4, 2, false)).toBe(false)
    expect(isQuorum(2, 1, true)).toBe(true) // two workers, one rebooting: the wave goes on
    expect(isQuorum(2, 1, false)).toBe(false)
    expect(isQuorum(1, 1, false)).toBe(true)
  })

  it('any two quorums intersect in a roster member or the coordinator', () => {
    for (let n = 1; n <= 12; n++) {
      for (let a = 0; a <= n; a++) {
        for (let b = 0; b <= n; b++) {
          for (const ca of [false, true]) {
            for (const cb of [false, true]) {
              if (!isQuorum(n, a, ca) || !isQuorum(n, b, cb)) continue
              const shareMember = a + b > n
              const shareCoord = ca && cb
              expect(shareMember || shareCoord, `n=${n} a=${a}${ca ? '+c' : ''} b=${b}${cb ? '+c' : ''}`).toBe(true)
            }
          }
        }
      }
    }
  })

  it('knows when a split term can no longer be won', () => {
    expect(canStillWin(5, 2, 2, false)).toBe(true) // 3 possible
    expect(canStillWin(5, 2, 3, false)).toBe(false)
    expect(canStillWin(4, 2, 2, false)).toBe(true) // 2 + coordinator still possible
    expect(canStillWin(4, 2, 2, true)).toBe(false) // the coordinator voted the other way
  })

  it('asks enough members after a memory loss to meet every quorum that could have formed', () => {
    for (let n = 2; n <= 12; n++) {
      for (const coord of [false, true]) {
        const need = syncAnswersNeeded(n, coord)
        // Every quorum Q that contains the forgetful node x: Q minus x must meet the answers.
        for (let q = 1; q <= n; q++) {
          for (const qc of [false, true]) {
            if (!isQuorum(n, q, qc)) continue
            const othersInQ = q - 1
            const met = need + othersInQ > n - 1 || (qc && coord)
            expect(met, `n=${n} need=${need} coord=${coord} q=${q}${qc ? '+c' : ''}`).toBe(true)
          }
        }
        expect(need).toBeLessThanOrEqual(n - 1 + (coord ? 0 : 1))
      }
    }
    expect(syncAnswersNeeded(2, true)).toBe(1)
    expect(syncAnswersNeeded(5, false)).toBe(3)
  })
})

describe('ranking (least turbulence)', () => {
  const k = (id: string, p: Partial<RankKey> = {}): RankKey => ({ id, ok: true, blocked: 0, domainActive: false, domain: 'a', primaries: 0, pgs: 0, pods: 0, load: 0, ...p })
  it('orders by ok-to-stop, active domain, domain, pods, load, then id', () => {
    const keys = [
      k('z'),
      k('a', { ok: false }),
      k('y', { domainActive: true, domain: 'b' }),
      k('x', { domain: 'b' }),
      k('w', { pods: 3 }),
      k('v', { pods: 3, load: 0.5 }),
      k('u', { pods: 3, load: 0.5 }),
    ]
    const order = keys.sort(compareRank).map((r) => r.id)
    expect(order).toEqual(['y', 'z', 'w', 'u', 'v', 'x', 'a'])
  })
  it('puts PDB-blocked nodes after every unblocked one, and more Ceph primaries (then PGs) later', () => {
    const keys = [
      k('a', { blocked: 1 }),
      k('b', { domainActive: true, domain: 'b', blocked: 2 }),
      k('c', { primaries: 9, pgs: 17 }),
      k('d', { primaries: 4, pgs: 17, pods: 30 }),
      k('e', { primaries: 4, pgs: 12, pods: 40 }),
      k('f', { ok: false }),
    ]
    expect(keys.sort(compareRank).map((r) => r.id)).toEqual(['e', 'd', 'c', 'a', 'b', 'f'])
  })
})
