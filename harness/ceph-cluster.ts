/**
 * CephCluster: a real, throwaway Ceph cluster on 127.0.0.1 for integration tests and the
 * live demo: 1 mon, 1 mgr, N memstore OSDs, each host name its own CRUSH host bucket,
 * one replicated pool with a few objects, cephx on, everything in a temp dir.
 *
 * Daemons run in the foreground as our own children (`-f`), so stopping one is a signal
 * plus its 'exit' event, with no pid files or zombie polling. Ports: the mon gets two free
 * ports picked at start, OSDs get a private bind range per cluster, the mgr's prometheus is
 * off — two clusters in one machine (or one test run) never collide.
 *
 * Learned from ../shared/reference/ceph-mini/up.sh (its settings for fast failure detection
 * and a small footprint are kept). Ceph 16 (Debian 12 packages).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, mkdir, rm, symlink, writeFile, access } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stopChild } from '../agent/stop-child.js'

export interface CephClusterOptions {
  /** CRUSH host names, one OSD each (osd.i under hosts[i % hosts.length]). */
  hosts?: string[]
  /** OSDs in all; defaults to hosts.length. */
  osds?: number
  /** Parent of the temp dir (default os.tmpdir()). */
  parentDir?: string
  /** Seconds without heartbeats before peers report an OSD down (SIGSTOP case). */
  heartbeatGraceS?: number
  /** Objects written to the test pool, so PGs have data to be degraded. */
  objects?: number
  /**
   * Replicas of every pool (the test pool and the mgr's own), and the fewest a PG needs to
   * stay active. Default 3 / 2. The failure domain is always the CRUSH host (chooseleaf
   * type 1): a pool needs at least `poolSize` hosts to be clean.
   */
  poolSize?: number
  poolMinSize?: number
  /** PGs of the test pool (default 16). */
  pgs?: number
  /** Deadline for the whole start, including HEALTH_OK with every PG active+clean. */
  startTimeoutMs?: number
  /** Progress lines (timings); default silent. */
  log?: (line: string) => void
}

export interface CephCmdResult {
  code: number
  stdout: string
  stderr: string
}

/** True when the Ceph daemons and CLI are installed (tests skip with one line otherwise). */
export async function hasCeph(): Promise<boolean> {
  const bins = ['ceph', 'ceph-mon', 'ceph-mgr', 'ceph-osd', 'ceph-authtool', 'rados']
  const found = await Promise.all(bins.map((b) => which(b)))
  return found.every(Boolean)
}

async function which(bin: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    try {
      await access(join(dir, bin))
      return true
    } catch {}
  }
  return false
}

/** OSD bind ranges handed to clusters of this process; across processes, ranges are random. */
let nextRangeSlot = Math.floor(Math.random() * 40)

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL')
})

export class CephCluster {
  readonly hosts: string[]
  readonly osdCount: number
  readonly pool = 'testpool'
  dir = ''
  conf = ''
  keyring = ''
  monPorts: [number, number] = [0, 0]
  private readonly opts: Required<Omit<CephClusterOptions, 'hosts' | 'osds' | 'log' | 'parentDir'>>
  private readonly parentDir: string
  private readonly log: (line: string) => void
  private mon?: ChildProcess
  private mgr?: ChildProcess
  private readonly osdProcs = new Map<number, ChildProcess>()
  private started = false
  private t0 = 0

  constructor(options: CephClusterOptions = {}) {
    this.hosts = options.hosts ?? ['node-a', 'node-b', 'node-c']
    this.osdCount = options.osds ?? this.hosts.length
    if (this.hosts.length === 0 || this.osdCount < 1) throw new Error('CephCluster needs at least one host and one OSD')
    const size = options.poolSize ?? 3
    if (new Set(this.hosts).size < size) throw new Error(`CephCluster: a size-${size} pool with a host failure domain needs ${size} CRUSH hosts, got ${this.hosts.length}`)
    this.parentDir = options.parentDir ?? tmpdir()
    this.log = options.log ?? (() => {})
    this.opts = {
      heartbeatGraceS: options.heartbeatGraceS ?? 6,
      objects: options.objects ?? 8,
      poolSize: options.poolSize ?? 3,
      poolMinSize: options.poolMinSize ?? Math.min(2, options.poolSize ?? 3),
      pgs: options.pgs ?? 16,
      startTimeoutMs: options.startTimeoutMs ?? 120_000,
    }
  }

  /** The CRUSH host of osd.id. */
  hostOf(id: number): string {
    return this.hosts[id % this.hosts.length]!
  }
  /** OSD ids under `host`. */
  osdsOf(host: string): number[] {
    return [...Array(this.osdCount).keys()].filter((i) => this.hostOf(i) === host)
  }
  /** Environment for child processes that should talk to this cluster (CEPH_CONF). */
  get env(): NodeJS.ProcessEnv {
    return { ...process.env, CEPH_CONF: this.conf }
  }

  /** Brings the cluster up and waits for HEALTH_OK with every PG active+clean. Idempotent. */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    this.t0 = performance.now()
    const deadline = Date.now() + this.opts.startTimeoutMs
    try {
      this.dir = await mkdtemp(join(this.parentDir, 'shoal-ceph-'))
      this.conf = join(this.dir, 'ceph.conf')
      this.keyring = join(this.dir, 'keyring')
      for (const d of ['run', 'log', 'crash', 'mon', 'mgr/ceph-x', 'osd', 'mgr-modules']) await mkdir(join(this.dir, d), { recursive: true })
      this.monPorts = [await freePort(), await freePort()]
      await writeFile(this.conf, this.confText())
      await this.makeKeys()
      await this.trimMgrModules()
      await this.tool('ceph-mon', ['-c', this.conf, '--mkfs', '-i', 'a', '--keyring', join(this.dir, 'mon.keyring')])
      this.mon = this.daemon('ceph-mon', ['-i', 'a'])
      this.mark('mon started')
      this.mgr = this.daemon('ceph-mgr', ['-i', 'x'])
      await Promise.all([...Array(this.osdCount).keys()].map((i) => this.createOsd(i)))
      this.mark(`${this.osdCount} osds created and started`)
      await this.waitFor('all OSDs up', deadline, async () => {
        const r = await this.ceph(['osd', 'stat', '--format', 'json'])
        return r.code === 0 && JSON.parse(r.stdout).num_up_osds >= this.osdCount
      })
      const pg = String(this.opts.pgs)
      await this.cephOk(['osd', 'pool', 'create', this.pool, pg, pg, 'replicated'])
      await this.setPool({ size: this.opts.poolSize, minSize: this.opts.poolMinSize })
      await this.cephOk(['osd', 'pool', 'application', 'enable', this.pool, 'rados'])
      const obj = join(this.dir, 'obj.bin')
      await writeFile(obj, Buffer.alloc(4096, 7))
      await Promise.all([...Array(this.opts.objects).keys()].map((o) => this.tool('rados', ['-c', this.conf, '-p', this.pool, 'put', `obj${o}`, obj])))
      this.mark('pool created, objects written')
      await this.waitHealthy(deadline - Date.now())
      this.mark('HEALTH_OK, all PGs active+clean')
    } catch (err) {
      await this.stop().catch(() => {})
      throw err
    }
  }

  /** Stops every daemon (OSDs and mgr first, then the mon) and deletes the temp dir. Idempotent. */
  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    await Promise.all([...this.osdProcs.values(), this.mgr].map((c) => c && stopChild(c, 5000, 'SIGKILL')))
    if (this.mon) await stopChild(this.mon, 5000, 'SIGKILL')
    this.osdProcs.clear()
    this.mon = this.mgr = undefined
    if (this.dir && !process.env.SHOAL_KEEP_CEPH) await rm(this.dir, { recursive: true, force: true })
  }

  /** SIGTERM the OSD and wait for its process to exit (a clean shutdown: the OSD tells the mon). */
  async stopOsd(id: number): Promise<void> {
    const c = this.osdProcs.get(id)
    if (c) await stopChild(c, 15_000, 'SIGTERM')
    this.osdProcs.delete(id)
  }
  /** SIGKILL the OSD (a crash: peers and the mon notice by heartbeat / connection reset). */
  async killOsd(id: number): Promise<void> {
    const c = this.osdProcs.get(id)
    if (c) await stopChild(c, 5000, 'SIGKILL')
    this.osdProcs.delete(id)
  }
  /** Starts a stopped or killed OSD again (memstore: its data comes back from peers by recovery). */
  async restartOsd(id: number): Promise<void> {
    if (this.osdProcs.has(id)) throw new Error(`osd.${id} is running; stop or kill it first`)
    this.osdProcs.set(id, this.daemon('ceph-osd', ['-i', String(id)]))
  }
  /** Stops/kills/restarts every OSD of a CRUSH host (a simulated worker reboot). */
  async stopHost(host: string, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await Promise.all(this.osdsOf(host).map((i) => (signal === 'SIGKILL' ? this.killOsd(i) : this.stopOsd(i))))
  }
  async startHost(host: string): Promise<void> {
    for (const i of this.osdsOf(host)) if (!this.osdProcs.has(i)) await this.restartOsd(i)
  }
  /** Stops the mgr (mgr commands such as ok-to-stop then hang; PG stats go stale). */
  async stopMgr(): Promise<void> {
    if (this.mgr) await stopChild(this.mgr, 10_000, 'SIGTERM')
    this.mgr = undefined
  }
  async startMgr(): Promise<void> {
    if (!this.mgr) this.mgr = this.daemon('ceph-mgr', ['-i', 'x'])
  }
  /** Sets the test pool's replicas and/or min_size (`ceph osd pool set POOL size|min_size N`). */
  async setPool(p: { size?: number; minSize?: number }): Promise<void> {
    if (p.size !== undefined) await this.cephOk(['osd', 'pool', 'set', this.pool, 'size', String(p.size), ...(p.size === 1 ? ['--yes-i-really-mean-it'] : [])])
    if (p.minSize !== undefined) await this.cephOk(['osd', 'pool', 'set', this.pool, 'min_size', String(p.minSize)])
  }

  /**
   * The PG states Ceph reports now (`ceph status`: the mgr's view, up to ~1 s behind the
   * osdmap): how many PGs are not active (I/O to them stops), split into the sub-second
   * transitions every OSD stop or start causes (`peering`, `activating`) and the rest
   * (`peered`, `down`, `incomplete`, `stale`, `unknown`...), with their state names.
   */
  async pgStates(): Promise<PgStates> {
    const d = JSON.parse(await this.cephOk(['status', '--format', 'json'], 5000))
    return pgStatesOf(d.pgmap.pgs_by_state)
  }

  /** Whether osd.id's process is running under this harness. */
  osdRunning(id: number): boolean {
    return this.osdProcs.has(id)
  }
  pidOf(id: number): number | undefined {
    return this.osdProcs.get(id)?.pid
  }

  /** Runs the ceph CLI against this cluster (15 s hard timeout), never throws on exit codes. */
  ceph(args: string[], timeoutMs = 15_000): Promise<CephCmdResult> {
    return run('ceph', ['-c', this.conf, '--connect-timeout', '10', ...args], { timeoutMs })
  }

  /**
   * Puts every CRUSH host under `rack` (root=default rack=RACK host=H), as a site whose hosts
   * sat in their racks before its first wave, and waits until the data that moved is clean.
   * An agent whose failure domain is that rack then finds its host in place and moves nothing
   * (agent/health/crush-location.ts) — without this, the agents' own first moves ran under the
   * first wave of a test and their backfill was read as the wave's doing.
   */
  async placeUnderRack(rack: string, timeoutMs = 60_000): Promise<void> {
    await this.cephOk(['osd', 'crush', 'add-bucket', rack, 'rack'])
    await this.cephOk(['osd', 'crush', 'move', rack, 'root=default'])
    for (const h of new Set(this.hosts)) await this.cephOk(['osd', 'crush', 'move', h, `rack=${rack}`])
    await this.waitHealthy(timeoutMs)
    this.mark(`hosts under rack ${rack}, HEALTH_OK`)
  }

  /** Polls `ceph status` until HEALTH_OK, mgr available, every OSD up and in, every PG active+clean. */
  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    await this.waitFor('HEALTH_OK with all PGs active+clean', Date.now() + timeoutMs, async () => {
      const r = await this.ceph(['status', '--format', 'json'])
      if (r.code !== 0) return false
      const d = JSON.parse(r.stdout)
      const pg = d.pgmap
      const clean = pg.pgs_by_state.reduce((n: number, s: any) => n + (s.state_name === 'active+clean' ? s.count : 0), 0)
      return (
        d.health.status === 'HEALTH_OK' && d.mgrmap.available && pg.num_pools >= 2 && pg.num_pgs > 0 && clean === pg.num_pgs &&
        d.osdmap.num_up_osds === this.osdCount && d.osdmap.num_in_osds === this.osdCount
      )
    })
  }

  /** Polls `pred` (every ~200 ms) until it is true or the deadline (epoch ms) passes. */
  async waitFor(what: string, deadline: number, pred: () => Promise<boolean>): Promise<void> {
    let last: unknown
    for (;;) {
      try {
        if (await pred()) return
      } catch (err) {
        last = err
      }
      if (Date.now() > deadline) {
        const detail = await this.ceph(['health', 'detail'], 5000).catch(() => undefined)
        throw new Error(`ceph cluster: timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}; ` +
          `health: ${detail?.stdout.trim() ?? '?'}; logs in ${this.dir}/log (set SHOAL_KEEP_CEPH=1 to keep them)`)
      }
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  private mark(what: string): void {
    this.log(`[ceph ${((performance.now() - this.t0) / 1000).toFixed(2)}s] ${what}`)
  }

  private async cephOk(args: string[], timeoutMs?: number): Promise<string> {
    const r = await this.ceph(args, timeoutMs)
    if (r.code !== 0) throw new Error(`ceph ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`)
    return r.stdout
  }

  private async tool(bin: string, args: string[], input?: string): Promise<string> {
    const r = await run(bin, args, { timeoutMs: 30_000, input })
    if (r.code !== 0) throw new Error(`${bin} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`)
    return r.stdout
  }

  private daemon(bin: string, args: string[]): ChildProcess {
    const c = spawn(bin, ['-f', '-c', this.conf, ...args], { stdio: 'ignore' })
    live.add(c)
    c.once('exit', () => live.delete(c))
    c.on('error', () => {})
    return c
  }

  private async createOsd(i: number): Promise<void> {
    const uuid = randomUUID()
    const key = (await this.tool('ceph-authtool', ['--gen-print-key'])).trim()
    const r = await run('ceph', ['-c', this.conf, '--connect-timeout', '15', 'osd', 'new', uuid, String(i), '-i', '-'], {
      timeoutMs: 30_000,
      input: JSON.stringify({ cephx_secret: key }),
    })
    if (r.code !== 0) throw new Error(`ceph osd new: ${r.stderr.trim()}`)
    const dir = join(this.dir, 'osd', String(i))
    await mkdir(dir, { recursive: true })
    await this.tool('ceph-authtool', ['--create-keyring', join(dir, 'keyring'), '--name', `osd.${i}`, '--add-key', key])
    await this.tool('ceph-osd', ['-c', this.conf, '-i', String(i), '--mkfs', '--osd-uuid', uuid])
    this.osdProcs.set(i, this.daemon('ceph-osd', ['-i', String(i)]))
  }

  private async makeKeys(): Promise<void> {
    const d = this.dir
    await this.tool('ceph-authtool', ['--create-keyring', this.keyring, '--gen-key', '-n', 'client.admin',
      '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mds', 'allow *', '--cap', 'mgr', 'allow *'])
    await this.tool('ceph-authtool', ['--create-keyring', join(d, 'mgr/ceph-x/keyring'), '--gen-key', '-n', 'mgr.x',
      '--cap', 'mon', 'allow profile mgr', '--cap', 'osd', 'allow *', '--cap', 'mds', 'allow *'])
    const monKeyring = join(d, 'mon.keyring')
    await this.tool('ceph-authtool', ['--create-keyring', monKeyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'])
    await this.tool('ceph-authtool', [monKeyring, '--import-keyring', this.keyring])
    await this.tool('ceph-authtool', [monKeyring, '--import-keyring', join(d, 'mgr/ceph-x/keyring')])
  }

  /** The mgr imports every python module it finds (~4.5 s); load only the always-on ones. */
  private async trimMgrModules(): Promise<void> {
    const mods = ['mgr_module.py', 'mgr_util.py', 'balancer', 'crash', 'devicehealth', 'orchestrator', 'pg_autoscaler',
      'progress', 'rbd_support', 'status', 'telemetry', 'volumes', 'iostat']
    for (const m of mods) await symlink(join('/usr/share/ceph/mgr', m), join(this.dir, 'mgr-modules', m)).catch(() => {})
  }

  private confText(): string {
    const d = this.dir
    // A private OSD port range per cluster: two harnesses (or a stale one) never fight over 6800+.
    const slot = nextRangeSlot++ % 40
    const portMin = 7000 + slot * 400
    const lines = [
      '[global]',
      `fsid = ${randomUUID()}`,
      'mon initial members = a',
      `mon host = [v2:127.0.0.1:${this.monPorts[0]},v1:127.0.0.1:${this.monPorts[1]}]`,
      'public network = 127.0.0.0/8',
      'cluster network = 127.0.0.0/8',
      'ms bind ipv4 = true',
      'ms bind ipv6 = false',
      `ms bind port min = ${portMin}`,
      `ms bind port max = ${portMin + 399}`,
      'auth cluster required = cephx',
      'auth service required = cephx',
      'auth client required = cephx',
      'auth allow insecure global id reclaim = false',
      `run dir = ${d}/run`,
      `crash dir = ${d}/crash`,
      `mon data = ${d}/mon/$cluster-$id`,
      `mgr data = ${d}/mgr/$cluster-$id`,
      `osd data = ${d}/osd/$id`,
      `mon cluster log file = ${d}/log/$cluster.log`,
      `log file = ${d}/log/$cluster-$name.log`,
      `pid file = ${d}/run/$cluster-$name.pid`,
      `osd pool default size = ${this.opts.poolSize}`,
      `osd pool default min size = ${this.opts.poolMinSize}`,
      'osd pool default pg num = 8',
      'osd pool default pgp num = 8',
      'osd pool default pg autoscale mode = off',
      'osd crush chooseleaf type = 1',
      'mon allow pool delete = true',
      'mon allow pool size one = true',
      'mon warn on pool no redundancy = false',
      'mon data avail warn = 2',
      'mon data avail crit = 1',
      'mon max pg per osd = 500',
      'mon osd down out interval = 600',
      'mon osd min down reporters = 1',
      'osd heartbeat interval = 1',
      `osd heartbeat grace = ${this.opts.heartbeatGraceS}`,
      'osd mon report interval = 1',
      'mgr stats period = 1',
      'mgr tick period = 1',
      'mon mgr beacon grace = 10',
      `mgr module path = ${d}/mgr-modules`,
      'mgr initial modules = iostat',
      'paxos propose interval = 0.1',
      'ms async op threads = 1',
      'osd op num shards = 2',
      'osd op num threads per shard = 1',
      'osd memory target = 939524096',
      'osd memory base = 268435456',
      'osd memory cache min = 67108864',
      // Without its own address the mon cannot find itself in a monmap with non-default
      // ports and falls back to 3300/6789, where a second cluster would collide.
      '[mon.a]',
      `public addrv = [v2:127.0.0.1:${this.monPorts[0]},v1:127.0.0.1:${this.monPorts[1]}]`,
      '[osd]',
      'osd objectstore = memstore',
      'osd crush update on start = true',
      'memstore device bytes = 1073741824',
      '[client]',
      `keyring = ${this.keyring}`,
      'admin socket =',
      'log file =',
    ]
    for (let i = 0; i < this.osdCount; i++) lines.push(`[osd.${i}]`, `crush location = root=default host=${this.hostOf(i)}`)
    return lines.join('\n') + '\n'
  }
}

export interface PgStates {
  numPgs: number
  /** PGs in a state without `active`, transitions included. */
  notActive: number
  /** Of those, `peering`/`activating` (an OSD just stopped or started). */
  transient: number
  /** The rest: `peered` (below min_size), `down`, `incomplete`, `stale`, `unknown`... */
  inactive: number
  /** State names of the PGs counted in `inactive`. */
  inactiveStates: string[]
}

/** Splits `pgmap.pgs_by_state` of `ceph status` into active, transient and inactive PGs. Pure. */
export function pgStatesOf(byState: readonly { state_name: string; count: number }[]): PgStates {
  const r: PgStates = { numPgs: 0, notActive: 0, transient: 0, inactive: 0, inactiveStates: [] }
  for (const p of byState) {
    r.numPgs += p.count
    const st = p.state_name.split('+')
    if (st.includes('active')) continue
    r.notActive += p.count
    if (st.includes('peering') || st.includes('activating')) r.transient += p.count
    else {
      r.inactive += p.count
      r.inactiveStates.push(p.state_name)
    }
  }
  return r
}

function run(bin: string, args: string[], o: { timeoutMs: number; input?: string }): Promise<CephCmdResult> {
  return new Promise((resolve) => {
    const c = execFile(bin, args, { timeout: o.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 124) : 0
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && !stderr ? err.message : '') })
    })
    if (o.input !== undefined) c.stdin!.end(o.input)
    else c.stdin?.end()
  })
}


function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}
