/**
 * The StopFacts an agent publishes (agent/protocol/stop-facts.ts), read from one probe
 * round: the pools' size/min_size, the CRUSH failure-domain type and how many buckets of it
 * hold OSDs, ok-to-stop "alone" (only from a round where nothing else was down and every
 * PG was active+clean — otherwise the previous value stands — and a "no" only once
 * OK_ALONE_NO_ROUNDS such rounds in a row said no), and the PodDisruptionBudgets that allow
 * nothing although every pod they cover is healthy. Pure.
 */
import type { StopFacts } from '../protocol/stop-facts.js'
import { cephFacts, redundancyChecks } from './ceph-facts.js'
import type { CephSnapshot } from './ceph-probe.js'
import type { CephCrushRules } from './ceph-schemas.js'
import type { NodeObservations } from './observation.js'

/**
 * Qualifying rounds in a row that must say "not ok to stop alone" before the agent publishes
 * it. The coordinator refuses a wave on that fact as never-finishing, and one round can pair a
 * status whose PGs read active+clean with an ok-to-stop the mgr answered from another moment
 * (seen on a loaded machine right after the OSDs started: a wave refused for a host that could
 * stop). A "yes" counts at once: it only ever lets a wave start.
 */
export const OK_ALONE_NO_ROUNDS = 3

/** The agent's count of "no, not even alone" rounds in a row (it owns one per process). */
export interface OkAloneStreak {
  no: number
}

/** Replicated pools in `ceph osd dump` have type 1 (erasure: 3); both keep size/min_size. */
export function stopFactsOf(obs: NodeObservations, previous?: StopFacts, streak: OkAloneStreak = { no: OK_ALONE_NO_ROUNDS }): StopFacts | undefined {
  const out: StopFacts = {}
  if (obs.ceph.state === 'ok') Object.assign(out, cephStopFacts(obs.ceph.value, previous?.okAlone, streak))
  else if (previous?.okAlone !== undefined) out.okAlone = previous.okAlone
  if (obs.kube.state === 'ok' && obs.kube.value.drain) {
    const pdbs = obs.kube.value.drain.pdbsAllowingNone ?? []
    if (pdbs.length) out.pdbs = pdbs.slice(0, 8).map((b) => ({ name: b.name.slice(0, 64), healthy: b.healthy, desired: b.desired }))
  }
  return Object.keys(out).length ? out : undefined
}

export function cephStopFacts(c: CephSnapshot, previousOkAlone?: boolean, streak: OkAloneStreak = { no: OK_ALONE_NO_ROUNDS }): StopFacts {
  const domainType = failureDomainType(c.rules, c.dump.pools.map((p) => p.crush_rule))
  const out: StopFacts = { domainType, domains: bucketsWithOsds(c, domainType) }
  // A host without OSDs holds no copy: the pools never stop it (it publishes none).
  if (c.hostOsds.length > 0) out.pools = c.dump.pools.slice(0, 16).map((p) => ({ name: p.pool_name.slice(0, 64), size: p.size, min: p.min_size }))
  let alone = okAlone(c)
  if (alone === true) streak.no = 0
  else if (alone === false && ++streak.no < OK_ALONE_NO_ROUNDS) alone = undefined // not confirmed yet: the previous value stands
  const v = alone ?? previousOkAlone
  if (v !== undefined) out.okAlone = v
  return out
}

/** The chooseleaf/choose type of the rules the pools use (the most common; `host` when unknown). */
export function failureDomainType(rules: CephCrushRules | undefined, used: (number | undefined)[]): string {
  if (!rules?.length) return 'host'
  const count = new Map<string, number>()
  for (const id of used.length ? used : [rules[0]!.rule_id]) {
    const r = rules.find((x) => x.rule_id === id) ?? rules[0]!
    const step = r.steps.find((s) => s.op.startsWith('choose') && s.type)
    const t = step?.type ?? 'host'
    count.set(t, (count.get(t) ?? 0) + 1)
  }
  return [...count].sort((a, b) => b[1] - a[1])[0]![0]
}

/** Buckets of `type` in the CRUSH tree with at least one OSD under them (an OSD as the type: OSDs). */
export function bucketsWithOsds(c: CephSnapshot, type: string): number {
  const nodes = c.tree.nodes
  if (type === 'osd') return nodes.filter((n) => n.type === 'osd').length
  const byId = new Map(nodes.map((n) => [n.id, n]))
  let n = 0
  for (const b of nodes) {
    if (b.type !== type) continue
    const stack = [...(b.children ?? [])]
    const seen = new Set<number>()
    let found = false
    while (stack.length && !found) {
      const id = stack.pop()!
      if (seen.has(id)) continue
      seen.add(id)
      if (id >= 0) found = true
      else stack.push(...(byId.get(id)?.children ?? []))
    }
    if (found) n++
  }
  return n
}

/** ok-to-stop for this host's OSDs, when it was asked with nothing else down and every PG active+clean. */
function okAlone(c: CephSnapshot): boolean | undefined {
  const a = c.okToStop
  // A joint question (this host with others that are down or holding) is not "alone".
  if (!a || 'error' in a || !c.status.mgrmap.available || c.hostOsds.length === 0 || (c.jointHosts?.length ?? 0) > 0) return undefined
  const f = cephFacts(c)
  if (f.uncleanPgs > 0 || f.othersDown.length > 0 || f.hostDown.length > 0) return undefined
  if (Object.keys(c.health.checks).some((k) => redundancyChecks.has(k))) return undefined
  return a.ok
}
