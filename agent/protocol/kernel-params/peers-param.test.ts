import { describe, expect, it } from 'vitest'
import { MAX_PEERS, parsePeersParam } from './peers-param.js'

describe('shoal.peers=', () => {
  it('reads HOST:PORT entries, deduplicated, in order', () => {
    expect(parsePeersParam('console=ttyS0 shoal.peers=10.0.0.11:7400,agents.lab:7400,10.0.0.11:7400 quiet')).toEqual({ peers: ['10.0.0.11:7400', 'agents.lab:7400'], skipped: [] })
    expect(parsePeersParam('shoal.peers=[fd00::1]:7400')).toEqual({ peers: ['[fd00::1]:7400'], skipped: [] })
  })

  it('absent: no peers', () => {
    expect(parsePeersParam('console=ttyS0 shoal.coordinator=http://10.0.2.2:8080')).toEqual({ peers: [], skipped: [] })
    expect(parsePeersParam('shoal.peers=')).toEqual({ peers: [], skipped: [] })
  })

  it('skips bad entries with a reason instead of failing the boot', () => {
    const r = parsePeersParam('shoal.peers=10.0.0.11,10.0.0.12:0,10.0.0.13:99999,http://x:1,10.0.0.14:7400')
    expect(r.peers).toEqual(['10.0.0.14:7400'])
    expect(r.skipped).toHaveLength(4)
    expect(r.skipped[0]).toMatch(/"10\.0\.0\.11" is not HOST:PORT/)
  })

  it(`asks at most ${MAX_PEERS} peers`, () => {
    const many = Array.from({ length: MAX_PEERS + 3 }, (_, i) => `10.0.1.${i}:7400`).join(',')
    const r = parsePeersParam(`shoal.peers=${many}`)
    expect(r.peers).toHaveLength(MAX_PEERS)
    expect(r.skipped).toHaveLength(3)
  })
})
