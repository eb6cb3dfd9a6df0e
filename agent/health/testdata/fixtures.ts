/** Real Ceph 16 answers (captured from the test harness and ../shared/reference/ceph-samples). */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { osdsUnder, type CephSnapshot, type OkToStopAnswer } from '../ceph-probe.js'
import { CephCrushRules, CephHealth, CephOkToStop, CephOsdDump, CephOsdTree, CephStatus } from '../ceph-schemas.js'

const dir = fileURLToPath(new URL('./ceph/', import.meta.url))
export const raw = (name: string): string => readFileSync(dir + name + '.json', 'utf8')
const j = (name: string): unknown => JSON.parse(raw(name))

export const samples = {
  healthOk: () => CephHealth.parse(j('health_ok')),
  healthDown: () => CephHealth.parse(j('health_down')),
  statusOk: () => CephStatus.parse(j('status_ok')),
  statusDown: () => CephStatus.parse(j('status_down')),
  treeOk: () => CephOsdTree.parse(j('osd_tree')),
  treeDown: () => CephOsdTree.parse(j('osd_tree_down')),
  dumpOk: () => CephOsdDump.parse(j('osd_dump')),
  dumpDown: () => CephOsdDump.parse(j('osd_dump_down')),
  dumpNoout: () => CephOsdDump.parse(j('osd_dump_group_noout')),
  okToStop0: (): OkToStopAnswer => ({ ok: true, detail: CephOkToStop.parse(j('oktostop_0')) }),
  notOkToStop2: (): OkToStopAnswer => ({ ok: false, detail: CephOkToStop.parse(j('oktostop_2_while_1_down')) }),
  crushRules: () => CephCrushRules.parse(j('crush_rule_dump')),
  /** Two CRUSH hosts (node-a, node-b), pools at size 2 / min_size 2 (testpool and the mgr's device_health_metrics). */
  dump2Hosts: () => CephOsdDump.parse(j('osd_dump_2hosts_size2_min2')),
  tree2Hosts: () => CephOsdTree.parse(j('osd_tree_2hosts')),
  status2Hosts: () => CephStatus.parse(j('status_2hosts')),
  notOkToStop2Hosts: (): OkToStopAnswer => ({ ok: false, detail: CephOkToStop.parse(j('oktostop_2hosts_size2_min2')) }),
}

/** A snapshot as CephProbe.run() would build it, from the all-up or the osd.1-down samples. */
export function snapshot(host: string, state: 'ok' | 'down', okToStop?: CephSnapshot['okToStop']): CephSnapshot {
  const tree = state === 'ok' ? samples.treeOk() : samples.treeDown()
  const { known, osds } = osdsUnder(tree, host)
  return {
    host,
    status: state === 'ok' ? samples.statusOk() : samples.statusDown(),
    health: state === 'ok' ? samples.healthOk() : samples.healthDown(),
    tree,
    dump: state === 'ok' ? samples.dumpOk() : samples.dumpDown(),
    hostOsds: osds,
    hostKnown: known,
    okToStop,
  }
}
