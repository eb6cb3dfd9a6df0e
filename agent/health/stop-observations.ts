/**
 * The StopFacts an agent publishes (agent/protocol/stop-facts.ts), read from one probe
 * round: the pools' size/min_size, the CRUSH failure-domain type and how many buckets of it
 * hold OSDs, ok-to-stop "alone" (only from a round where nothing else was down and every
 * PG was active+clean — otherwise the previous value stands), and the PodDisruptionBudgets
 * that allow nothing although every pod they cover is healthy. Pure.
 */
import type { StopFacts } from '../protocol/stop-facts.js'
import { cephFacts, redundancyChecks } from './ceph-facts.js'
import type { CephSnapshot } from './ceph-probe.js'
import type { CephCrushRules } from './ceph-schemas.js'
import type { NodeObservations } from './observation.js'

/** Replicated pools in `ceph osd dump` have type 1 (erasure: 3); both keep size/min_size. */
export function stopFactsOf(obs: NodeObservations, previous?: StopFacts): StopFacts | undefined {
  const out: StopFacts = {}
  if (obs.ceph.state === 'ok') Object.assign(out, cephStopFacts(obs.ceph.value, previous?.okAlone))
  else if (previous?.okAlone !== undefined) out.okAlone = previous.okAlone
  if (obs.kube.state === 'ok' && obs.kube.value.drain) {
    const pdbs = obs.kube.value.drain.pdbsAllowingNone ?? []
    if (pdbs.length) out.pdbs = pdbs.slice(0, 8).map((b) => ({ name: b.name.slice(0, 64), healthy: b.healthy, desired: b.desired }))
  }
  return Object.keys(out).length ? out : undefined
}

export function cephStopFacts(c: CephSnapshot, previousOkAlone?: boolean): StopFacts {
  const domainType = failureDomainType(c.rules, c.dump.pools.map((p) => p.crush_rule))
  const out: StopFacts = { domainType, domains: bucketsWithOsds(c, domainType) }
  // A host without OSDs holds no copy: the pools never stop it (it publishes none).
  if (c.hostOsds.length > 0) out.pools = c.dump.pools.slice(0, 16).map((p) => ({ name: p.pool_name.slice(0, 64), size: p.size, min: p.min_size }))
  const alone = okAlone(c)
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

/** ok-to-stop for this host's OSDs, when it was asked for them alone, with nothing else down and every PG active+clean. */
function okAlone(c: CephSnapshot): boolean | undefined {
  const a = c.okToStop
  if (!a || 'error' in a || !c.status.mgrmap.available || c.hostOsds.length === 0) return undefined
  // Asked jointly (with the OSDs of nodes holding a slot or down: the pre gate's joint
  // question), the answer is about this host and those together, not this host alone.
  if (c.jointOsds?.length || c.jointHosts?.length) return undefined
  const f = cephFacts(c)
  if (f.uncleanPgs > 0 || f.othersDown.length > 0 || f.hostDown.length > 0) return undefined
  if (Object.keys(c.health.checks).some((k) => redundancyChecks.has(k))) return undefined
  return a.ok
}
