/**
 * The wave scenario's Ceph pool flags, as the operator types them: a two-worker wave with
 * the default pools is refused (and counted so, never as incomplete); with size 2 /
 * min_size 1 it completes; a min_size above the size is a usage error.
 */
import { describe, expect, it } from 'vitest'
import { simCommand } from '../sim-command.js'

const json = async (...argv: string[]) => {
  const r = await simCommand(['--scenario', 'wave', '-o', 'json', ...argv])
  return { code: r.code, summary: JSON.parse(r.lines.at(-1)!) }
}

describe('sim wave: --pool-size and --min-size', () => {
  it('N=2 with the defaults (size 3 / min_size 2): refused, not incomplete; the table says why and what to change', async () => {
    const r = await json('--nodes', '2', '--max-unavailable', '1', '--domains', '2', '--faults', 'off', '--seeds', '1-3')
    expect(r.code).toBe(0)
    expect(r.summary).toMatchObject({ 'pool-size': 3, 'min-size': 2, refused: 3, incomplete: 0, violations: 0, makespanP50Sec: null, ok: true })
    const table = await simCommand(['--scenario', 'wave', '--nodes', '2', '--max-unavailable', '1', '--domains', '2', '--faults', 'off'])
    expect(table.lines.join('\n')).toMatch(/seed 1 refused: the wave can never finish — pool sim wants 3 replicas on distinct racks but the CRUSH map has 2 rack\(s\).*fix: add a rack with OSDs \(2 -> 3\)/)
    expect(table.lines.join('\n')).toMatch(/refused \(can never finish\): 1/)
  })

  it('N=2, K=1, size 2 / min_size 1: the wave completes (the coordinator tie-break carries the quorum)', async () => {
    const r = await json('--nodes', '2', '--max-unavailable', '1', '--domains', '2', '--pool-size', '2', '--min-size', '1', '--faults', 'off', '--seeds', '1-2')
    expect(r.summary).toMatchObject({ refused: 0, incomplete: 0, violations: 0, maxHolders: 1, ok: true })
    expect(r.summary.makespanP50Sec).toBeGreaterThan(0)
  })

  it('size 2 / min_size 2 is refused too: min_size equal to size', async () => {
    const r = await simCommand(['--scenario', 'wave', '--nodes', '3', '--max-unavailable', '1', '--domains', '3', '--pool-size', '2', '--min-size', '2', '--faults', 'off'])
    expect(r.lines.join('\n')).toMatch(/pool sim has min_size 2 with size 2.*fix: ceph osd pool set sim min_size 1/)
  })

  it('a min_size above the size is a usage error', async () => {
    const r = await simCommand(['--scenario', 'wave', '--nodes', '2', '--pool-size', '2', '--min-size', '3'])
    expect(r.code).toBe(2)
    expect(r.lines[0]).toMatch(/--min-size 3 is above --pool-size 2/)
  })
})
