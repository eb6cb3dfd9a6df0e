/**
 * CephProbe: the Ceph commands a node agent needs, each parsed with zod, plus `run()` (the
 * Probe port) that takes one snapshot of the cluster as seen from one CRUSH host.
 */
import { ShoalError } from '../protocol/errors.js'
import type { Probe } from '../protocol/ports.js'
import { CephCli, EBUSY, type CephCliOptions } from './ceph-cli.js'
import { CephCrushRules, CephHealth, CephOkToStop, CephOsdDump, CephOsdTree, CephPgBrief, CephStatus } from './ceph-schemas.js'
import { parseJsonWith } from './parse-output.js'

/** ok-to-stop's verdict: exit 0 -> ok, exit 16 -> not ok (same JSON). Exit 11 throws ceph-retry. */
export interface OkToStopAnswer {
  ok: boolean
  detail: CephOkToStop
}

/** Everything the gates and the health model read about Ceph, taken at (nearly) one moment. */
export interface CephSnapshot {
  host: string
  status: CephStatus
  health: CephHealth
  tree: CephOsdTree
  dump: CephOsdDump
  /** OSD ids under this CRUSH host (empty: the host has no OSDs or is not in the map). */
  hostOsds: number[]
  /** Whether the host bucket exists in the CRUSH map at all. */
  hostKnown: boolean
  /**
   * ok-to-stop, when asked for: over hostOsds plus jointOsds (the joint question); an error
   * when Ceph could not answer.
   */
  okToStop?: OkToStopAnswer | { error: string; code: string }
  /**
   * The other hosts this round's ok-to-stop counted as stopped with this one — every node
   * down, holding a slot or rebooting (agent/protocol/joint-safety.ts) — and their OSD ids.
   * Absent or empty: the question was asked for this host alone.
   */
  jointHosts?: string[]
  jointOsds?: number[]
  /** The CRUSH rules (read once per crush_version); absent when Ceph could not answer. */
  rules?: CephCrushRules
  /** This host's share of the PGs (read once per osdmap epoch); absent when Ceph could not answer. */
  share?: CephShare
}

/** How much of Ceph a host carries: what stopping its OSDs would degrade and re-peer. */
export interface CephShare {
  /** PGs with a replica in the acting set on one of the host's OSDs. */
  pgs: number
  /** Of those, the PGs whose acting primary is one of the host's OSDs. */
  primaries: number
}

/** The share of `osds` in a `pg dump pgs_brief` answer. Pure. */
export function cephShare(pgs: CephPgBrief, osds: readonly number[]): CephShare {
  const mine = new Set(osds)
  let n = 0
  let primaries = 0
  for (const pg of pgs) {
    if (pg.acting.some((o) => mine.has(o))) n++
    if (mine.has(pg.acting_primary)) primaries++
  }
  return { pgs: n, primaries }
}

/**
 * Whether a decommissioned host's data has moved: every PG active+clean, and no PG with a
 * replica in its acting set on `osds` (out OSDs keep no PGs once recovery is done). Pure.
 */
export function dataMovedVerdict(status: CephStatus, pgs: CephPgBrief, osds: readonly number[]): { pass: boolean; reasons: string[] } {
  const reasons: string[] = []
  const states = status.pgmap.pgs_by_state
  const unclean = states.filter((p) => p.state_name !== 'active+clean').reduce((n, p) => n + p.count, 0)
  if (unclean > 0) reasons.push(`${unclean} PGs not active+clean (${states.filter((p) => p.state_name !== 'active+clean').map((p) => `${p.count} ${p.state_name}`).join(', ')})`)
  const left = cephShare(pgs, osds).pgs
  if (left > 0) reasons.push(`${left} PGs still on osd.${osds.join(', osd.')}`)
  return { pass: reasons.length === 0, reasons }
}

/** OSD ids under the CRUSH bucket `host` (walks nested buckets). Pure. */
export function osdsUnder(tree: CephOsdTree, host: string): { known: boolean; osds: number[] } {
  const byId = new Map(tree.nodes.map((n) => [n.id, n]))
  const bucket = tree.nodes.find((n) => n.name === host && n.type !== 'osd')
  if (!bucket) return { known: false, osds: [] }
  const osds: number[] = []
  const stack = [...(bucket.children ?? [])]
  const seen = new Set<number>()
  while (stack.length) {
    const id = stack.pop()!
    if (seen.has(id)) continue
    seen.add(id)
    if (id >= 0) osds.push(id)
    else stack.push(...(byId.get(id)?.children ?? []))
  }
  return { known: true, osds: osds.sort((a, b) => a - b) }
}

/** The CRUSH host each OSD sits under (osd id -> host name). Pure. */
export function hostOfOsds(tree: CephOsdTree): Map<number, string> {
  const out = new Map<number, string>()
  for (const n of tree.nodes) if (n.type === 'host') for (const c of n.children ?? []) if (c >= 0) out.set(c, n.name)
  return out
}

export interface CephProbeOptions extends CephCliOptions {
  /** This node's CRUSH host name (the node id). */
  host: string
  /** Ask ok-to-stop in every run() (the pre-reboot gate needs it; routine health does not). */
  withOkToStop?: boolean
}

export class CephProbe implements Probe<CephSnapshot> {
  readonly name = 'ceph'
  readonly cli: CephCli
  readonly host: string
  private readonly withOkToStop: boolean

  constructor(options: CephProbeOptions, cli?: CephCli) {
    this.cli = cli ?? new CephCli(options)
    this.host = options.host
    this.withOkToStop = options.withOkToStop ?? false
  }

  status(): Promise<CephStatus> {
    return this.cli.json(['status'], CephStatus)
  }
  health(): Promise<CephHealth> {
    return this.cli.json(['health', 'detail'], CephHealth)
  }
  tree(): Promise<CephOsdTree> {
    return this.cli.json(['osd', 'tree'], CephOsdTree)
  }
  dump(): Promise<CephOsdDump> {
    return this.cli.json(['osd', 'dump'], CephOsdDump)
  }
  crushRules(): Promise<CephCrushRules> {
    return this.cli.json(['osd', 'crush', 'rule', 'dump'], CephCrushRules)
  }
  /** `ceph pg dump pgs_brief` (a mgr command): every PG's acting set and primary. */
  pgBrief(): Promise<CephPgBrief> {
    return this.cli.json(['pg', 'dump', 'pgs_brief'], CephPgBrief)
  }

  /** `ceph osd ok-to-stop IDS`. Exit 16 is a "no" (resolved), 11 throws ceph-retry. */
  async okToStop(ids: readonly number[]): Promise<OkToStopAnswer> {
    if (ids.length === 0) throw new ShoalError('usage', 'ok-to-stop needs at least one OSD id')
    const args = ['osd', 'ok-to-stop', ...ids.map(String)]
    const r = await this.cli.run(args)
    this.cli.check(args, r, true)
    const detail = parseJsonWith(CephOkToStop, r.stdout, `ceph ${args.join(' ')}`)
    // Both must agree: a 0 exit with ok_to_stop false (or the reverse) is not an answer to trust.
    return { ok: r.code !== EBUSY && detail.ok_to_stop, detail }
  }

  /** Decommission: `ceph osd out` for every OSD under `host` (none: nothing to move). Returns the ids. */
  async osdOut(host = this.host): Promise<number[]> {
    const { known, osds } = osdsUnder(await this.tree(), host)
    if (!known || osds.length === 0) return []
    await this.cli.exec(['osd', 'out', ...osds.map(String)])
    return osds
  }

  /**
   * A decommission undone: `ceph osd in` for the OSDs under `host` that are out (none: no
   * command). Every out OSD of the host is marked in, also one an operator had marked out
   * by hand before the decommission (the cycle does not remember which ones it marked).
   * Returns the ids.
   */
  async osdIn(host = this.host): Promise<number[]> {
    const [tree, dump] = await Promise.all([this.tree(), this.dump()])
    const { known, osds } = osdsUnder(tree, host)
    const out = new Set(dump.osds.filter((o) => o.in === 0).map((o) => o.osd))
    const ids = known ? osds.filter((id) => out.has(id)) : []
    if (ids.length) await this.cli.exec(['osd', 'in', ...ids.map(String)])
    return ids
  }

  /** Decommission: has Ceph moved the data off `host`'s OSDs (dataMovedVerdict)? */
  async dataMoved(host = this.host): Promise<{ pass: boolean; reasons: string[] }> {
    const [status, tree, pgs] = await Promise.all([this.status(), this.tree(), this.pgBrief()])
    return dataMovedVerdict(status, pgs, osdsUnder(tree, host).osds)
  }

  /** `ceph osd set-group noout HOST`: the host's OSDs are not marked out while it reboots. */
  setNoout(host = this.host): Promise<void> {
    return this.cli.exec(['osd', 'set-group', 'noout', host])
  }
  unsetNoout(host = this.host): Promise<void> {
    return this.cli.exec(['osd', 'unset-group', 'noout', host])
  }

  /** The last `osd tree` and the crush_version it belongs to (routine rounds reuse it). */
  private treeCache?: { crushVersion: number; tree: CephOsdTree }
  /** The CRUSH rules and the crush_version they belong to: they change with the CRUSH map only. */
  private rulesCache?: { crushVersion: number | undefined; rules: CephCrushRules }

  /** The last PG map read and the osdmap epoch it belongs to. */
  private pgCache?: { epoch: number; pgs: CephPgBrief }

  /**
   * The PG map, read again only when the osdmap epoch changed: which OSDs act for a PG (and
   * which leads it) changes only with a new osdmap, and a `pg dump` costs a mgr round trip
   * sized by the PG count. Undefined when Ceph cannot say (never fails the round).
   */
  private async pgsFor(d: CephOsdDump): Promise<CephPgBrief | undefined> {
    if (this.pgCache?.epoch === d.epoch) return this.pgCache.pgs
    try {
      const pgs = await this.pgBrief()
      this.pgCache = { epoch: d.epoch, pgs }
      return pgs
    } catch {
      return undefined
    }
  }

  /** The CRUSH rules, read again only when crush_version changed; undefined when Ceph cannot say (never fails the round). */
  private async rulesFor(d: CephOsdDump): Promise<CephCrushRules | undefined> {
    const v = d.crush_version
    if (this.rulesCache && v !== undefined && this.rulesCache.crushVersion === v) return this.rulesCache.rules
    try {
      const rules = await this.crushRules()
      this.rulesCache = { crushVersion: v, rules }
      return rules
    } catch {
      return this.rulesCache?.rules
    }
  }

  /**
   * One snapshot: status (which carries the health checks), osd dump and osd tree, in
   * parallel; ok-to-stop (if asked) starts as soon as the tree names this host's OSDs —
   * over them plus the OSDs of `jointWith` (the joint question).
   * Each `ceph` run costs a Python start-up (~0.3 s CPU), so a routine round (no ok-to-stop)
   * reuses the last tree while the dump's crush_version is unchanged: 2 runs instead of 3.
   */
  async run(opts: { okToStop?: boolean; jointWith?: readonly string[] } = {}): Promise<CephSnapshot> {
    const ask = opts.okToStop ?? this.withOkToStop
    const jointHosts = [...new Set(opts.jointWith ?? [])].filter((h) => h !== this.host).sort()
    const dumpP = this.dump()
    const fetchTree = (): Promise<CephOsdTree> => this.tree()
    const treeP: Promise<CephOsdTree> = ask
      ? fetchTree()
      : dumpP.then(async (d) => {
          const v = d.crush_version
          if (v !== undefined && this.treeCache?.crushVersion === v) return this.treeCache.tree
          const tree = await fetchTree()
          if (v !== undefined) this.treeCache = { crushVersion: v, tree }
          return tree
        })
    const treeAndStop = treeP.then(async (tree) => {
      const { known, osds } = osdsUnder(tree, this.host)
      const mine = new Set(osds)
      const jointOsds = [...new Set(jointHosts.flatMap((h) => osdsUnder(tree, h).osds))].filter((i) => !mine.has(i)).sort((a, b) => a - b)
      let okToStop: CephSnapshot['okToStop']
      if (ask && osds.length > 0) {
        try {
          // The joint question: this host's OSDs plus every OSD of the joint set, in one ask.
          okToStop = await this.okToStop([...osds, ...jointOsds])
        } catch (err) {
          const e = err as ShoalError
          okToStop = { error: e.message, code: e.code ?? 'error' }
        }
      }
      return { tree, known, osds, okToStop, jointOsds }
    })
    const rulesP = dumpP.then((d) => this.rulesFor(d), () => undefined)
    const pgsP = dumpP.then((d) => this.pgsFor(d), () => undefined)
    const [status, t, dump, rules, pgs] = await Promise.all([this.status(), treeAndStop, dumpP, rulesP, pgsP])
    const snap: CephSnapshot = { host: this.host, status, health: status.health, tree: t.tree, dump, hostOsds: t.osds, hostKnown: t.known }
    if (t.okToStop) snap.okToStop = t.okToStop
    if (jointHosts.length > 0) {
      snap.jointHosts = jointHosts
      snap.jointOsds = t.jointOsds
    }
    if (rules) snap.rules = rules
    if (pgs) snap.share = cephShare(pgs, t.osds)
    return snap
  }
}
