/**
 * Facts about a Ceph snapshot that both the gates and the health model need, computed
 * once and in one place so they never disagree. Pure.
 */
import { hostOfOsds, type CephSnapshot } from './ceph-probe.js'

export interface CephFacts {
  /** PG count by state ("active+clean" -> 17). */
  pgStates: { state: string; count: number }[]
  numPgs: number
  /** PGs whose state lacks "active" (includes "unknown": the mgr has not seen them). */
  inactivePgs: number
  /** PGs other than exactly active+clean. */
  uncleanPgs: number
  /** OSDs of this host: down or out. */
  hostDown: number[]
  hostOut: number[]
  /** OSDs of other hosts that are down but still in (their data is not rebalanced yet). */
  othersDown: { osd: number; host: string }[]
  /** Of othersDown, those inside the joint set (counted as stopped by the joint ok-to-stop). */
  jointDown: { osd: number; host: string }[]
  /** Of othersDown, those outside the joint set: the race guard (ok-to-stop lags the osdmap). */
  outsideDown: { osd: number; host: string }[]
}

export function cephFacts(s: CephSnapshot): CephFacts {
  const pgStates = s.status.pgmap.pgs_by_state.map((p) => ({ state: p.state_name, count: p.count }))
  let inactivePgs = 0
  let uncleanPgs = 0
  for (const p of pgStates) {
    const parts = p.state.split('+')
    if (!parts.includes('active')) inactivePgs += p.count
    if (p.state !== 'active+clean') uncleanPgs += p.count
  }
  // PGs that the mgr has not reported at all are neither active nor clean.
  const listed = pgStates.reduce((n, p) => n + p.count, 0)
  const missing = Math.max(0, s.status.pgmap.num_pgs - listed)
  inactivePgs += missing
  uncleanPgs += missing
  const mine = new Set(s.hostOsds)
  const hostOf = hostOfOsds(s.tree)
  const hostDown: number[] = []
  const hostOut: number[] = []
  const othersDown: { osd: number; host: string }[] = []
  for (const o of s.dump.osds) {
    if (mine.has(o.osd)) {
      if (o.up !== 1) hostDown.push(o.osd)
      if (o.in !== 1) hostOut.push(o.osd)
    } else if (o.up !== 1 && o.in === 1) {
      othersDown.push({ osd: o.osd, host: hostOf.get(o.osd) ?? '?' })
    }
  }
  // An OSD of ours missing from the dump is neither up nor in.
  for (const id of s.hostOsds) {
    if (!s.dump.osds.some((o) => o.osd === id)) {
      hostDown.push(id)
      hostOut.push(id)
    }
  }
  const joint = new Set(s.jointOsds ?? [])
  const jointDown = othersDown.filter((o) => joint.has(o.osd))
  const outsideDown = othersDown.filter((o) => !joint.has(o.osd))
  return { pgStates, numPgs: s.status.pgmap.num_pgs, inactivePgs, uncleanPgs, hostDown, hostOut, othersDown, jointDown, outsideDown }
}

/** Health checks that mean redundancy is already reduced: stopping one more host is unsafe. */
export const redundancyChecks = new Set([
  'OSD_DOWN',
  'OSD_HOST_DOWN',
  'OSD_ROOT_DOWN',
  'PG_DEGRADED',
  'PG_AVAILABILITY',
  'PG_RECOVERY_FULL',
  'PG_BACKFILL_FULL',
  'PG_DAMAGED',
  'OSD_FULL',
])

export function pgSummary(f: CephFacts, filter: (state: string) => boolean): string {
  return f.pgStates
    .filter((p) => filter(p.state))
    .map((p) => `${p.count} ${p.state}`)
    .join(', ')
}
