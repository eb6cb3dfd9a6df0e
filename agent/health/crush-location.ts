/**
 * Ceph follows the vote's failure domains: a worker whose domain is not `default` puts its
 * CRUSH host bucket under a `rack` bucket of that name (the `crush_location` host/rack pair:
 * `root=default rack=DOMAIN host=NODE`), so a rule with `chooseleaf type rack` spreads
 * replicas over the same groups the wave finishes one at a time.
 *
 * Done with the monitor's own idempotent commands — `osd crush add-bucket DOMAIN rack`,
 * `osd crush move DOMAIN root=default`, `osd crush move HOST rack=DOMAIN` — rather than by
 * editing ceph.conf, which only OSDs read, at their start. Moving a host moves its data as
 * CRUSH recomputes placement: the agent does it once at start, and the pre-reboot gate
 * waits for clean PGs as for any recovery.
 */
import type { CephProbe } from './ceph-probe.js'

/**
 * Why a CRUSH move must wait now, or undefined when it may run: a move re-places data, so
 * never while this node is in an upgrade cycle (any phase but `ready`) or while a wave runs
 * (some roster member, as this node sees it, not on the wave's target yet) — its backfill
 * would run beside the holders' recovery and read as theirs.
 */
export function crushMoveWaits(phase: string, wave: { id: string; target: string } | undefined, rosterImages: readonly (string | undefined)[]): string | undefined {
  if (phase !== 'ready') return `this node is ${phase}`
  if (wave && rosterImages.some((image) => image !== wave.target)) return `wave ${wave.id} is running`
  return undefined
}

export type CrushPlacement = { moved: false; why: string } | { moved: true; rack: string; from: string | undefined }

/** The CRUSH bucket `host` sits under now (its parent's name), from `osd tree`. */
export async function crushParent(probe: CephProbe, host: string): Promise<{ name: string; type: string } | undefined> {
  const tree = await probe.tree()
  const me = tree.nodes.find((n) => n.name === host && n.type === 'host')
  if (!me) return undefined
  const parent = tree.nodes.find((n) => n.children?.includes(me.id))
  return parent ? { name: parent.name, type: parent.type } : undefined
}

/** Puts `host` under `rack=domain` (under root=default). Nothing for domain `default` or a host not in the map. */
export async function placeHost(probe: CephProbe, host: string, domain: string): Promise<CrushPlacement> {
  if (domain === 'default') return { moved: false, why: 'domain default: the host stays where it is' }
  const parent = await crushParent(probe, host)
  if (parent === undefined) return { moved: false, why: `host ${host} is not in the CRUSH map (no OSDs yet)` }
  if (parent.type === 'rack' && parent.name === domain) return { moved: false, why: `already under rack ${domain}` }
  const tree = await probe.tree()
  const existing = tree.nodes.find((n) => n.name === domain)
  if (existing && existing.type !== 'rack') return { moved: false, why: `a CRUSH bucket named ${domain} exists with type ${existing.type}, not rack: rename the domain or the bucket` }
  if (!existing) {
    await probe.cli.exec(['osd', 'crush', 'add-bucket', domain, 'rack'])
    await probe.cli.exec(['osd', 'crush', 'move', domain, 'root=default'])
  }
  await probe.cli.exec(['osd', 'crush', 'move', host, `rack=${domain}`])
  return { moved: true, rack: domain, from: parent.name }
}
