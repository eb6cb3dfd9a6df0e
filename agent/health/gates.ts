/**
 * The two health gates of the reboot cycle, as pure functions of one round of observations.
 *
 * preReboot(node): may this node go down now? Ceph's ok-to-stop for its OSDs plus those of its
 * joint set (every node down, holding a slot or rebooting: agent/protocol/joint-safety.ts), no
 * HEALTH_ERR, no PG already inactive, no OSD down outside the joint set and no redundancy
 * lost to anything outside it (ok-to-stop alone lags the osdmap for ~1 s after an OSD dies:
 * an OSD the question did not count is a reason to wait), and a drain that nothing blocks.
 *
 * postReboot(node): is it back? kubelet healthy, node Ready without pressure, its OSDs up and
 * in, every PG active+clean, no HEALTH_ERR.
 *
 * Both fail closed: a source that errored, or whose answer cannot be trusted (no active mgr),
 * fails the gate with the reason. A source skipped on purpose is listed in `skipped`.
 */
import { cephFacts, pgSummary, redundancyChecks } from './ceph-facts.js'
import type { CephSnapshot } from './ceph-probe.js'
import type { KubeletView, KubeView, NodeObservations, Observed, Source } from './observation.js'

export type GateName = 'pre' | 'post'

export interface GateCheck {
  source: Source
  /** Stable short name of the check, e.g. "ok-to-stop", "pgs-clean". */
  check: string
  ok: boolean
  message: string
}

export interface GateResult {
  gate: GateName
  node: string
  pass: boolean
  checks: GateCheck[]
  /** "ceph: skipped (--skip ceph)" lines: what this verdict did not look at. */
  skipped: string[]
  /** The messages of the failed checks, in order: what a person reads first. */
  reasons: string[]
}

type Push = (source: Source, check: string, ok: boolean, message: string) => void

export function preReboot(obs: NodeObservations): GateResult {
  return judge('pre', obs, (push) => {
    source(obs.ceph, 'ceph', push, (c) => cephPre(obs.node, c, push))
    source(obs.kube, 'kube', push, (k) => kubePre(k, push))
  }, ['kubelet'])
}

export function postReboot(obs: NodeObservations): GateResult {
  return judge('post', obs, (push) => {
    source(obs.kubelet, 'kubelet', push, (k) => kubeletPost(k, push))
    source(obs.kube, 'kube', push, (k) => kubePost(k, push))
    source(obs.ceph, 'ceph', push, (c) => cephPost(obs.node, c, push))
  })
}

function judge(gate: GateName, obs: NodeObservations, body: (push: Push) => void, unused: Source[] = []): GateResult {
  const checks: GateCheck[] = []
  const push: Push = (source, check, ok, message) => checks.push({ source, check, ok, message })
  body(push)
  const skipped: string[] = []
  for (const s of ['kubelet', 'kube', 'ceph'] as const) {
    const o = obs[s]
    if (o.state === 'skipped' && !unused.includes(s)) skipped.push(`${s}: not checked (${o.why})`)
  }
  // Nothing looked at means nothing known: fail closed.
  if (checks.length === 0) push('kube', 'any-source', false, 'no source was checked (all skipped); a gate cannot pass on nothing')
  const reasons = checks.filter((c) => !c.ok).map((c) => `${c.source}: ${c.message}`)
  return { gate, node: obs.node, pass: reasons.length === 0, checks, skipped, reasons }
}

function source<T>(o: Observed<T>, name: Source, push: Push, judge: (v: T) => void): void {
  if (o.state === 'skipped') return
  if (o.state === 'error') {
    push(name, 'reachable', false, `unknown, failing closed: ${o.error}`)
    return
  }
  judge(o.value)
}

function cephTrust(c: CephSnapshot, push: Push): boolean {
  if (!c.status.mgrmap.available) {
    push('ceph', 'mgr', false, 'no active Ceph mgr: PG states are unknown, failing closed (start or fail over a mgr)')
    return false
  }
  if (c.health.status === 'HEALTH_ERR') {
    const errs = Object.entries(c.health.checks)
      .filter(([, v]) => v.severity === 'HEALTH_ERR')
      .map(([k, v]) => `${k}: ${v.summary.message}`)
    push('ceph', 'health', false, `HEALTH_ERR (${errs.join('; ') || 'no detail'})`)
  } else {
    push('ceph', 'health', true, c.health.status)
  }
  return true
}

function cephPre(node: string, c: CephSnapshot, push: Push): void {
  if (!cephTrust(c, push)) return
  const f = cephFacts(c)
  if (f.inactivePgs > 0) {
    push('ceph', 'pgs-active', false, `${f.inactivePgs} of ${f.numPgs} PGs already inactive (${pgSummary(f, (s) => !s.split('+').includes('active'))})`)
  } else push('ceph', 'pgs-active', true, `all ${f.numPgs} PGs active`)

  const joint = c.jointHosts ?? []
  if (f.outsideDown.length > 0) {
    const list = f.outsideDown.map((o) => `osd.${o.osd} on ${o.host}`).join(', ')
    const asked = joint.length ? ` (the joint set ${joint.join(', ')} does not include it)` : ''
    push('ceph', 'other-hosts-up', false, `another host is already down: ${list}${asked} (wait for it to come back)`)
  } else if (f.jointDown.length > 0) {
    push('ceph', 'other-hosts-up', true, `down only inside the joint set: ${f.jointDown.map((o) => `osd.${o.osd} on ${o.host}`).join(', ')}`)
  } else push('ceph', 'other-hosts-up', true, 'every OSD of other hosts is up')

  // Reduced redundancy caused only by OSDs this question counts as stopped (this node's own,
  // and its joint set's) is inside the ok-to-stop answer; anything else (a host outside the
  // set down, recovery still running) is not.
  const lost = Object.entries(c.health.checks).filter(([k]) => redundancyChecks.has(k))
  const counted = [...f.hostDown.map((i) => `osd.${i}`), ...f.jointDown.map((o) => `osd.${o.osd}`)]
  const onlyCounted = f.outsideDown.length === 0 && counted.length > 0
  if (lost.length === 0) push('ceph', 'redundancy', true, 'no PG degraded, no OSD down')
  else if (onlyCounted) push('ceph', 'redundancy', true, `reduced only by OSDs this question counts as stopped (${counted.join(', ')})`)
  else push('ceph', 'redundancy', false, `redundancy already reduced: ${lost.map(([k, v]) => `${k} (${v.summary.message})`).join('; ')}`)

  if (!c.hostKnown || c.hostOsds.length === 0) {
    push('ceph', 'ok-to-stop', true, `host ${node} has no OSDs in the CRUSH map: nothing to stop`)
    return
  }
  const jointOsds = c.jointOsds ?? []
  const osds = [...c.hostOsds, ...jointOsds].map((i) => `osd.${i}`).join(', ')
  const jointly = joint.length ? ` (jointly with ${joint.join(', ')})` : ''
  const a = c.okToStop
  if (!a) push('ceph', 'ok-to-stop', false, `ok-to-stop was not asked for ${osds}; failing closed`)
  else if ('error' in a)
    push('ceph', 'ok-to-stop', false, `ok-to-stop for ${osds} unknown, failing closed: ${a.error}`)
  else if (!a.ok) {
    const bad = a.detail.bad_become_inactive?.length ?? a.detail.num_not_ok_pgs
    push('ceph', 'ok-to-stop', false, `Ceph says stopping ${osds}${jointly} is not safe: ${bad} PGs would become inactive`)
  } else {
    const deg = a.detail.ok_become_degraded?.length ?? 0
    push('ceph', 'ok-to-stop', true, `${osds}${jointly} ok to stop (${deg} PGs would be degraded, none inactive)`)
  }
}

function cephPost(node: string, c: CephSnapshot, push: Push): void {
  if (!cephTrust(c, push)) return
  const f = cephFacts(c)
  if (!c.hostKnown || c.hostOsds.length === 0) {
    push('ceph', 'osds-up', true, `host ${node} has no OSDs in the CRUSH map`)
  } else {
    const bad = [...new Set([...f.hostDown.map((i) => `osd.${i} down`), ...f.hostOut.map((i) => `osd.${i} out`)])]
    if (bad.length) push('ceph', 'osds-up', false, `this host's OSDs are not all up and in: ${bad.join(', ')}`)
    else push('ceph', 'osds-up', true, `${c.hostOsds.map((i) => `osd.${i}`).join(', ')} up and in`)
  }
  if (f.uncleanPgs > 0)
    push('ceph', 'pgs-clean', false, `${f.uncleanPgs} of ${f.numPgs} PGs not active+clean (${pgSummary(f, (s) => s !== 'active+clean')})`)
  else push('ceph', 'pgs-clean', true, `all ${f.numPgs} PGs active+clean`)
}

function kubePre(k: KubeView, push: Push): void {
  const d = k.drain
  if (!d) {
    push('kube', 'drain', false, 'drain plan unknown, failing closed')
    return
  }
  if (d.blocking.length > 0) {
    const list = d.blocking.map((p) => `${p.namespace}/${p.name}: ${p.reason}`).join('; ')
    push('kube', 'drain', false, `drain would block on ${d.blocking.length} pod(s): ${list}`)
  } else {
    push('kube', 'drain', true, `drain possible: ${d.evict.length} pod(s) to evict, ${d.stay.length} DaemonSet/mirror pod(s) stay`)
  }
}

const pressure = ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'NetworkUnavailable']

function kubePost(k: KubeView, push: Push): void {
  const n = k.node
  const ready = n.conditions.find((c) => c.type === 'Ready')
  if (n.ready === 'True') push('kube', 'node-ready', true, `node ${n.name} Ready`)
  else
    push('kube', 'node-ready', false, `node ${n.name} not Ready (Ready=${n.ready}${ready?.reason ? `, ${ready.reason}` : ''}${ready?.message ? `: ${ready.message}` : ''})`)
  const bad = n.conditions.filter((c) => pressure.includes(c.type) && c.status === 'True')
  if (bad.length) push('kube', 'node-conditions', false, `node reports ${bad.map((c) => c.type).join(', ')}`)
}

function kubeletPost(k: KubeletView, push: Push): void {
  push('kubelet', 'healthz', k.healthy, k.healthy ? 'kubelet /healthz ok' : `kubelet unhealthy: ${k.detail}`)
}
