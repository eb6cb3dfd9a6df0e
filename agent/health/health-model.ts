/**
 * HealthModel: named conditions derived from each round of observations, in the Tailscale
 * style — a registry whose entries appear, persist (keeping their `since`) and clear, each
 * saying why. `summary()` is the HealthSummary that travels in this node's NodeRecord.
 *
 * Pure apart from its own memory: the caller passes `now` (Clock port).
 */
import type { HealthCondition, HealthSummary } from '../protocol/node-record.js'
import { cephFacts } from './ceph-facts.js'
import type { NodeObservations, Source } from './observation.js'

type Severity = HealthCondition['severity']

/** Fields are capped to the NodeRecord schema's limits (id 64, message 256, source 32). */
export interface ConditionDraft {
  id: string
  severity: Severity
  message: string
  source: Source
}

const rank: Record<Severity, number> = { critical: 0, warning: 1, info: 2 }
/** The NodeRecord carries at most 16 conditions: the most severe, then the oldest, win. */
const maxConditions = 16

/** Conditions one round of observations implies, without memory. Pure. */
export function conditionsOf(obs: NodeObservations): ConditionDraft[] {
  const out: ConditionDraft[] = []
  const add = (source: Source, id: string, severity: Severity, message: string) => out.push({ source, id, severity, message })
  for (const s of ['kubelet', 'kube', 'ceph'] as const) {
    const o = obs[s]
    if (o.state === 'error') add(s, `${s}.unknown`, 'warning', `${s} did not answer: ${o.error}`)
  }
  if (obs.kubelet.state === 'ok' && !obs.kubelet.value.healthy)
    add('kubelet', 'kubelet.unhealthy', 'critical', `kubelet /healthz: ${obs.kubelet.value.detail}`)
  if (obs.kube.state === 'ok') {
    const n = obs.kube.value.node
    if (n.ready !== 'True') {
      const c = n.conditions.find((c) => c.type === 'Ready')
      add('kube', 'kube.not-ready', 'critical', `node not Ready (${n.ready}${c?.reason ? `: ${c.reason}` : ''})`)
    }
    for (const c of n.conditions) {
      if (c.type === 'Ready' || c.status !== 'True') continue
      add('kube', `kube.${c.type}`, c.type === 'NetworkUnavailable' ? 'critical' : 'warning', `${c.type}${c.message ? `: ${c.message}` : ''}`)
    }
    if (n.unschedulable) add('kube', 'kube.cordoned', 'info', 'node is cordoned (unschedulable)')
  }
  if (obs.ceph.state === 'ok') {
    const c = obs.ceph.value
    if (!c.status.mgrmap.available) add('ceph', 'ceph.mgr-unavailable', 'warning', 'no active mgr: PG states unknown')
    for (const [code, chk] of Object.entries(c.health.checks)) {
      if (chk.muted) continue
      add('ceph', `ceph.${code}`, chk.severity === 'HEALTH_ERR' ? 'critical' : 'warning', chk.summary.message)
    }
    const f = cephFacts(c)
    if (f.hostDown.length) add('ceph', 'ceph.host-osd-down', 'critical', `this host's ${f.hostDown.map((i) => `osd.${i}`).join(', ')} down`)
    if (f.hostOut.length) add('ceph', 'ceph.host-osd-out', 'warning', `this host's ${f.hostOut.map((i) => `osd.${i}`).join(', ')} out`)
    const flags = c.dump.crush_node_flags[c.host]
    if (flags?.length) add('ceph', 'ceph.host-flags', 'info', `host ${c.host} has flags ${flags.join(',')}`)
  }
  return out
}

export class HealthModel {
  private current = new Map<string, HealthCondition>()
  private last: HealthSummary = { status: 'unknown', conditions: [] }

  /** Folds one round in; returns the new summary. Conditions that persist keep their `since`. */
  update(obs: NodeObservations, now: number): HealthSummary {
    const next = new Map<string, HealthCondition>()
    for (const d of conditionsOf(obs)) {
      const id = d.id.slice(0, 64)
      const prev = this.current.get(id)
      next.set(id, {
        id,
        severity: d.severity,
        since: prev && prev.severity === d.severity ? prev.since : now,
        message: d.message.slice(0, 256),
        source: d.source.slice(0, 32),
      })
    }
    this.current = next
    this.last = summarize(obs, [...next.values()])
    return this.last
  }

  /** The latest summary (status 'unknown' before the first round). */
  summary(): HealthSummary {
    return this.last
  }

  /** Every current condition, most severe first (not capped). */
  conditions(): HealthCondition[] {
    return sortConditions([...this.current.values()])
  }
}

function sortConditions(list: HealthCondition[]): HealthCondition[] {
  return list.sort((a, b) => rank[a.severity] - rank[b.severity] || a.since - b.since || a.id.localeCompare(b.id))
}

function summarize(obs: NodeObservations, conds: HealthCondition[]): HealthSummary {
  const sorted = sortConditions(conds)
  const anyError = (['kubelet', 'kube', 'ceph'] as const).some((s) => obs[s].state === 'error')
  const noneSeen = (['kubelet', 'kube', 'ceph'] as const).every((s) => obs[s].state !== 'ok')
  const status: HealthSummary['status'] = sorted.some((c) => c.severity === 'critical')
    ? 'critical'
    : anyError || noneSeen
      ? 'unknown'
      : sorted.some((c) => c.severity === 'warning')
        ? 'warning'
        : 'ok'
  const s: HealthSummary = { status, conditions: sorted.slice(0, maxConditions) }
  if (obs.kubelet.state === 'ok') s.kubeletReady = obs.kubelet.value.healthy
  else if (obs.kube.state === 'ok') s.kubeletReady = obs.kube.value.node.ready === 'True'
  if (obs.ceph.state === 'ok') {
    const f = cephFacts(obs.ceph.value)
    s.osdsTotal = obs.ceph.value.hostOsds.length
    s.osdsUp = s.osdsTotal - f.hostDown.length
  }
  return s
}
