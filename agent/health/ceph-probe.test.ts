import { describe, expect, it } from 'vitest'
import { dataMovedVerdict } from './ceph-probe.js'
import type { CephPgBrief, CephStatus } from './ceph-schemas.js'

const status = (states: [string, number][]) => ({ pgmap: { pgs_by_state: states.map(([state_name, count]) => ({ state_name, count })) } }) as unknown as CephStatus
const pgs = (acting: number[][]): CephPgBrief => acting.map((a, i) => ({ pgid: `1.${i}`, acting: a, acting_primary: a[0]! }))

describe('decommission: has Ceph moved the data off a host?', () => {
  it('passes only when every PG is active+clean and none has a replica on the host\'s OSDs', () => {
    expect(dataMovedVerdict(status([['active+clean', 3]]), pgs([[0, 1, 2], [1, 2, 0], [2, 0, 1]]), [3])).toEqual({ pass: true, reasons: [] })
    const moving = dataMovedVerdict(status([['active+clean', 1], ['active+remapped+backfilling', 2]]), pgs([[0, 1, 3], [3, 2, 0], [2, 0, 1]]), [3])
    expect(moving.pass).toBe(false)
    expect(moving.reasons).toEqual(['2 PGs not active+clean (2 active+remapped+backfilling)', '2 PGs still on osd.3'])
    // Clean, but a PG still maps to the out OSD (the osdmap not yet caught up): not moved.
    expect(dataMovedVerdict(status([['active+clean', 3]]), pgs([[0, 1, 3]]), [3]).pass).toBe(false)
  })
})
