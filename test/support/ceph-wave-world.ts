/**
 * The world of a live wave test on real Ceph: a Ceph cluster with one CRUSH host per worker
 * (one memstore OSD each), a librados session to it, the LiveCluster (agent processes, the
 * real coordinator, the fake Kubernetes API) with its log lines kept, and a WaveWatch
 * sampling the promise. start() brings them up in that order; stop() takes down whatever
 * came up, in reverse, so a start that failed half-way leaks nothing.
 */
import { CephSession } from '../../agent/health/ceph-session.js'
import { CephCluster } from '../../harness/ceph-cluster.js'
import { LiveCluster, type LiveClusterOptions } from './live-cluster.js'
import { keepLogs, WaveWatch, type LiveLog } from './wave-watch.js'

export interface CephWaveWorldOptions {
  workers: string[]
  /** Image versions the coordinator serves; the first is what every worker boots at first. */
  images: string[]
  /** The test pool's replicas and the fewest with which it still serves I/O. */
  pool: { size: number; minSize: number }
  /** The most workers the wave may have unavailable at once (what the watch holds it to). */
  limit: number
  workload?: LiveClusterOptions['workload']
  /** Awaited at each reboot before the machine goes down (LiveClusterOptions.atReboot). */
  atReboot?: LiveClusterOptions['atReboot']
  /** Runs once the cluster exists, before it starts (listeners that must see every event). */
  beforeStart?: (world: CephWaveWorld) => void
}

export class CephWaveWorld {
  ceph?: CephCluster
  session?: CephSession
  live?: LiveCluster
  watch?: WaveWatch
  /** Every log line of the agents and the coordinator (test/support/wave-watch.ts keepLogs). */
  logs: LiveLog[] = []

  constructor(private readonly opts: CephWaveWorldOptions) {}

  async start(): Promise<{ ceph: CephCluster; session: CephSession; live: LiveCluster; watch: WaveWatch; logs: LiveLog[] }> {
    const o = this.opts
    const ceph = (this.ceph = new CephCluster({ hosts: o.workers, poolSize: o.pool.size, poolMinSize: o.pool.minSize, heartbeatGraceS: 6 }))
    await ceph.start()
    const session = (this.session = new CephSession({ conf: ceph.conf, keyring: ceph.keyring, timeoutMs: 10_000 }))
    const live = (this.live = new LiveCluster({ workers: o.workers, images: o.images, ceph, ...(o.workload ? { workload: o.workload } : {}), ...(o.atReboot ? { atReboot: o.atReboot } : {}) }))
    this.logs = keepLogs(live)
    o.beforeStart?.(this)
    await live.start()
    const watch = (this.watch = new WaveWatch({ live, ceph, session, limit: o.limit }))
    watch.start()
    return { ceph, session, live, watch, logs: this.logs }
  }

  async stop(): Promise<void> {
    await this.watch?.stop()
    this.session?.close()
    await this.live?.stop()
    await this.ceph?.stop()
  }
}
