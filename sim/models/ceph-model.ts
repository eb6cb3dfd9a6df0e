/**
 * A Ceph model for the simulator: placement groups placed on OSD hosts, size/min_size.
 *
 * - Each PG has `size` replicas on distinct hosts (or distinct failure domains, when
 *   `placeBy: 'domain'` and there are enough of them), chosen by a seeded hash, as CRUSH
 *   would: placement depends only on the PG and the host set.
 * - A replica is up while its host is up. A PG is *active* while at least `minSize`
 *   replicas are up (recovering ones count: they serve I/O), *inactive* below that, and
 *   *clean* when all `size` replicas are up and recovered (else degraded).
 * - A host that comes back holds stale replicas: they recover for `recoveryMs` (drawn by
 *   the caller from its distribution) before the PG is clean again.
 * - A host down without `noout` for `downOutMs` is marked out: its replicas move to other
 *   hosts and backfill there (`backfillMs`), so the cluster heals around a dead node, as
 *   Ceph does after mon_osd_down_out_interval. With noout set (a planned reboot) nothing
 *   moves.
 *
 * `okToStop(hosts)` answers like `ceph osd ok-to-stop`: would every PG stay active if the
 * OSDs of `hosts` stopped now, on top of what is already down?
 */

import type { StopFacts } from '../../agent/protocol/stop-facts.js'

export interface CephConfig {
  /** PGs in the pool. 256 for 200 hosts: ~4 replicas per host, enough that hosts share PGs. */
  pgs: number
  /** Replicas per PG (Ceph's default pool size 3). */
  size: number
  /** Replicas a PG needs to serve I/O (Ceph's default min_size 2). */
  minSize: number
  /** `host` (every host its own failure domain) or `domain` (replicas in distinct domains). */
  placeBy: 'host' | 'domain'
  /** A down host without noout is marked out after this long (mon_osd_down_out_interval, 600 s). */
  downOutMs: number
  /** Backfill of a moved replica onto its new host. */
  backfillMs: number
}

/** CRUSH by rack (`domain`), the usual rule once a cluster has racks: a rack can reboot together. */
export const defaultCephConfig: Readonly<CephConfig> = Object.freeze({ pgs: 256, size: 3, minSize: 2, placeBy: 'domain', downOutMs: 600_000, backfillMs: 120_000 })

interface Replica {
  host: number
  /** Time until which this replica is recovering (0: clean). */
  recoveringUntil: number
}

interface Pg {
  id: number
  replicas: Replica[]
}

export class CephModel {
  readonly hosts: string[]
  private readonly index = new Map<string, number>()
  private readonly domainOf: string[]
  private readonly up: boolean[]
  private readonly noout: boolean[]
  private readonly out: boolean[]
  private readonly downSince: number[]
  private readonly pgs: Pg[] = []
  /** PG ids per host index. */
  private readonly byHost: Set<number>[]
  /** Whether replicas were placed in distinct domains (else distinct hosts: too few domains for `size`). */
  private readonly byDomain: boolean
  /** Bumped on every change of up/down/recovery/placement (for caches). */
  version = 0

  constructor(hosts: { id: string; domain: string }[], readonly cfg: CephConfig, seed: number) {
    this.hosts = hosts.map((h) => h.id)
    hosts.forEach((h, i) => this.index.set(h.id, i))
    this.domainOf = hosts.map((h) => h.domain)
    const n = hosts.length
    this.up = new Array(n).fill(true)
    this.noout = new Array(n).fill(false)
    this.out = new Array(n).fill(false)
    this.downSince = new Array(n).fill(0)
    this.byHost = Array.from({ length: n }, () => new Set<number>())
    const size = Math.min(cfg.size, n)
    const domains = new Set(this.domainOf).size
    const byDomain = cfg.placeBy === 'domain' && domains >= size
    this.byDomain = byDomain
    for (let p = 0; p < cfg.pgs; p++) {
      const chosen: number[] = []
      const usedDomains = new Set<string>()
      for (let attempt = 0; chosen.length < size && attempt < 64 * size + n; attempt++) {
        const h = hash(seed, p, attempt) % n
        if (chosen.includes(h)) continue
        if (byDomain && usedDomains.has(this.domainOf[h]!)) continue
        chosen.push(h)
        usedDomains.add(this.domainOf[h]!)
      }
      const pg: Pg = { id: p, replicas: chosen.map((host) => ({ host, recoveringUntil: 0 })) }
      this.pgs.push(pg)
      for (const h of chosen) this.byHost[h]!.add(p)
    }
  }

  private idx(host: string): number {
    const i = this.index.get(host)
    if (i === undefined) throw new RangeError(`unknown Ceph host ${host}`)
    return i
  }

  isUp(host: string): boolean {
    return this.up[this.idx(host)]!
  }

  setNoout(host: string, on: boolean): void {
    this.noout[this.idx(host)] = on
  }

  /** The host's OSDs stop (reboot, crash). Returns the PGs that went from active to inactive. */
  hostDown(host: string, now: number): number[] {
    const h = this.idx(host)
    if (!this.up[h]) return []
    const before = [...this.byHost[h]!].filter((p) => this.pgActive(this.pgs[p]!))
    this.up[h] = false
    this.downSince[h] = now
    this.version++
    return before.filter((p) => !this.pgActive(this.pgs[p]!))
  }

  /** The host's OSDs start again; its replicas recover for `recoveryMs`. */
  hostUp(host: string, now: number, recoveryMs: number): void {
    const h = this.idx(host)
    if (this.up[h]) return
    this.up[h] = true
    this.out[h] = false
    for (const p of this.byHost[h]!) for (const r of this.pgs[p]!.replicas) if (r.host === h) r.recoveringUntil = now + recoveryMs
    this.version++
  }

  /**
   * Moves time forward: hosts down past downOutMs without noout are marked out and their
   * replicas backfill elsewhere. Returns the next time something changes on its own
   * (a recovery finishing, an out-marking), or Infinity.
   */
  advance(now: number): number {
    let next = Infinity
    for (let h = 0; h < this.up.length; h++) {
      if (this.up[h] || this.out[h] || this.noout[h]) continue
      const due = this.downSince[h]! + this.cfg.downOutMs
      if (now >= due) this.markOut(h, now)
      else next = Math.min(next, due)
    }
    for (const pg of this.pgs) {
      for (const r of pg.replicas) {
        if (r.recoveringUntil > now) next = Math.min(next, r.recoveringUntil)
        else if (r.recoveringUntil !== 0) {
          r.recoveringUntil = 0
          this.version++
        }
      }
    }
    return next
  }

  private markOut(h: number, now: number): void {
    this.out[h] = true
    for (const p of [...this.byHost[h]!]) {
      const pg = this.pgs[p]!
      const taken = new Set(pg.replicas.map((r) => r.host))
      const candidates: number[] = []
      for (let i = 0; i < this.up.length; i++) if (this.up[i] && !this.out[i] && !taken.has(i)) candidates.push(i)
      if (candidates.length === 0) continue
      const nh = candidates[hash(p, h, now) % candidates.length]!
      const r = pg.replicas.find((x) => x.host === h)!
      r.host = nh
      r.recoveringUntil = now + this.cfg.backfillMs
      this.byHost[h]!.delete(p)
      this.byHost[nh]!.add(p)
    }
    this.version++
  }

  private upCount(pg: Pg): number {
    let c = 0
    for (const r of pg.replicas) if (this.up[r.host]) c++
    return c
  }

  private pgActive(pg: Pg): boolean {
    return this.upCount(pg) >= Math.min(this.cfg.minSize, pg.replicas.length)
  }

  /** Would every PG stay active if the OSDs of `hosts` stopped now? */
  okToStop(hosts: readonly string[]): boolean {
    const stop = new Set<number>()
    for (const host of hosts) {
      const i = this.index.get(host)
      if (i !== undefined && this.up[i]) stop.add(i)
    }
    for (const h of stop) {
      for (const p of this.byHost[h]!) {
        const pg = this.pgs[p]!
        let c = 0
        for (const r of pg.replicas) if (this.up[r.host] && !stop.has(r.host)) c++
        if (c < Math.min(this.cfg.minSize, pg.replicas.length)) return false
      }
    }
    return true
  }

  /** The post-reboot gate's Ceph part: the host is up and every PG it serves is active+clean. */
  hostClean(host: string, now: number): boolean {
    const h = this.idx(host)
    if (!this.up[h]) return false
    for (const p of this.byHost[h]!) {
      const pg = this.pgs[p]!
      if (pg.replicas.length < this.cfg.size) return false
      for (const r of pg.replicas) if (!this.up[r.host] || r.recoveringUntil > now) return false
    }
    return true
  }

  /**
   * What an agent on `host` publishes about stopping itself (agent/protocol/stop-facts.ts):
   * the pool's size/min_size, the failure-domain type replicas are spread over and how many
   * there are, and ok-to-stop for this host with what is down now (`okAlone` when nothing is).
   */
  stopFacts(host: string): StopFacts {
    const anyDown = this.up.some((u) => !u)
    const domains = this.byDomain ? new Set(this.domainOf).size : this.hosts.length
    return {
      pools: [{ name: 'sim', size: this.cfg.size, min: this.cfg.minSize }],
      domainType: this.byDomain ? 'rack' : 'host',
      domains,
      ...(anyDown ? {} : { okAlone: this.okToStop([host]) }),
    }
  }

  inactivePgs(): number[] {
    return this.pgs.filter((pg) => !this.pgActive(pg)).map((pg) => pg.id)
  }

  /** Hosts of a PG (for traces). */
  pgHosts(p: number): string[] {
    return this.pgs[p]!.replicas.map((r) => this.hosts[r.host]!)
  }
}

function hash(a: number, b: number, c: number): number {
  let h = 0x811c9dc5 ^ a
  h = Math.imul(h ^ (b + 0x9e3779b9), 0x01000193)
  h = Math.imul(h ^ (c * 0x85ebca6b), 0xc2b2ae35)
  h ^= h >>> 15
  h = Math.imul(h, 0x2c1b3c6d)
  h ^= h >>> 12
  return h >>> 0
}
