import { describe, expect, it } from 'vitest'
import { osdsUnder, hostOfOsds } from './ceph-probe.js'
import { CephHealth, CephOkToStop, CephOsdDump, CephOsdTree, CephStatus } from './ceph-schemas.js'
import { parseJsonWith } from './parse-output.js'
import { raw, samples } from './testdata/fixtures.js'

describe('ceph output shapes', () => {
  it('parse every real sample', () => {
    for (const [name, schema] of [['health_ok', CephHealth], ['health_down', CephHealth], ['health_group_noout', CephHealth],
      ['status_ok', CephStatus], ['status_down', CephStatus], ['osd_tree', CephOsdTree], ['osd_dump', CephOsdDump],
      ['osd_dump_group_noout', CephOsdDump], ['oktostop_0', CephOkToStop], ['oktostop_0_1', CephOkToStop]] as const)
      expect(() => parseJsonWith(schema, raw(name), name)).not.toThrow()
    expect(samples.dumpNoout().crush_node_flags).toEqual({ 'node-a': ['noout'] })
  })

  it('name the offending field when the shape is wrong', () => {
    const dump = JSON.parse(raw('osd_dump'))
    dump.osds[1].up = 'yes'
    expect(() => parseJsonWith(CephOsdDump, JSON.stringify(dump), 'ceph osd dump')).toThrow(/ceph osd dump: unexpected output at field osds\[1\]\.up/)
    const status = JSON.parse(raw('status_ok'))
    delete status.pgmap.pgs_by_state
    expect(() => parseJsonWith(CephStatus, JSON.stringify(status), 'ceph status')).toThrow(/field pgmap\.pgs_by_state/)
    expect(() => parseJsonWith(CephHealth, '{"status":"HEALTH_MAYBE","checks":{}}', 'ceph health detail')).toThrow(/field status/)
  })

  it('reject output that is not JSON, quoting its start', () => {
    expect(() => parseJsonWith(CephStatus, 'Error initializing cluster client', 'ceph status')).toThrow(
      /ceph status: output is not JSON .*"Error initializing cluster client"/,
    )
  })

  it('find the OSDs of a CRUSH host', () => {
    const tree = samples.treeOk()
    expect(osdsUnder(tree, 'node-b')).toEqual({ known: true, osds: [1] })
    expect(osdsUnder(tree, 'nope')).toEqual({ known: false, osds: [] })
    expect(osdsUnder(tree, 'default').osds).toEqual([0, 1, 2])
    expect(hostOfOsds(tree).get(2)).toBe('node-c')
  })
})
