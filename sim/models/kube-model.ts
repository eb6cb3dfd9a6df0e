/**
 * A Kubernetes model for the simulator: nodes (Ready, cordoned), pods of apps, and
 * PodDisruptionBudgets (maxUnavailable per app), with the Eviction API's rule: an eviction
 * is refused (HTTP 429) while the app already has maxUnavailable pods not ready.
 *
 * An evicted pod is rescheduled at once onto the Ready, uncordoned node with the fewest
 * pods and is not ready until it has started (`startMs`, drawn by the caller). A drain is
 * done when the node holds no pods. Pods on a node that goes down without a drain become
 * not ready and are rescheduled the same way (as the node lifecycle controller would,
 * after its eviction timeout; modelled as immediate).
 */

export interface KubeConfig {
  /** Apps (Deployments) in the cluster, each with a PDB. */
  apps: number
  /** Pods per node at the start, on average. */
  podsPerNode: number
  /** PDB maxUnavailable for every app. 1: the strictest common setting. */
  maxUnavailable: number
}

export const defaultKubeConfig: Readonly<KubeConfig> = Object.freeze({ apps: 20, podsPerNode: 6, maxUnavailable: 1 })

interface Pod {
  id: number
  app: number
  node: number
  readyAt: number
}

export class KubeModel {
  readonly nodes: string[]
  private readonly index = new Map<string, number>()
  readonly ready: boolean[]
  readonly cordoned: boolean[]
  private readonly pods: Pod[] = []
  private readonly podsOn: Set<number>[]
  /** Not-ready pods per app (recomputed lazily from readyAt). */
  private readonly appPods: Set<number>[]
  version = 0

  constructor(nodes: string[], readonly cfg: KubeConfig, rand: () => number) {
    this.nodes = nodes
    nodes.forEach((n, i) => this.index.set(n, i))
    this.ready = new Array(nodes.length).fill(true)
    this.cordoned = new Array(nodes.length).fill(false)
    this.podsOn = nodes.map(() => new Set<number>())
    this.appPods = Array.from({ length: Math.max(1, cfg.apps) }, () => new Set<number>())
    const total = Math.round(nodes.length * cfg.podsPerNode)
    for (let i = 0; i < total; i++) {
      const pod: Pod = { id: i, app: Math.floor(rand() * this.appPods.length), node: Math.floor(rand() * nodes.length), readyAt: 0 }
      this.pods.push(pod)
      this.podsOn[pod.node]!.add(i)
      this.appPods[pod.app]!.add(i)
    }
  }

  private idx(node: string): number {
    const i = this.index.get(node)
    if (i === undefined) throw new RangeError(`unknown Kubernetes node ${node}`)
    return i
  }

  podCount(node: string): number {
    return this.podsOn[this.idx(node)]!.size
  }

  private cache: { version: number; validUntil: number; from: number; unready: number[] } | undefined

  /** Not-ready pods of `app`; cached until the next pod start or model change. */
  private unready(app: number, now: number): number {
    const c = this.cache
    if (c && c.version === this.version && now >= c.from && now < c.validUntil) return c.unready[app]!
    const unready = new Array<number>(this.appPods.length).fill(0)
    let validUntil = Infinity
    for (const pod of this.pods) {
      if (pod.readyAt > now) validUntil = Math.min(validUntil, pod.readyAt)
      if (pod.readyAt > now || !this.ready[pod.node]) unready[pod.app]!++
    }
    this.cache = { version: this.version, validUntil, from: now, unready }
    return unready[app]!
  }

  /** Could a drain of `node` make progress now without breaking a PDB? */
  drainable(node: string, now: number): boolean {
    const apps = new Set<number>()
    for (const p of this.podsOn[this.idx(node)]!) apps.add(this.pods[p]!.app)
    for (const a of apps) if (this.unready(a, now) >= this.cfg.maxUnavailable) return false
    return true
  }

  setReady(node: string, ready: boolean): void {
    this.ready[this.idx(node)] = ready
    this.version++
  }

  setCordoned(node: string, on: boolean): void {
    this.cordoned[this.idx(node)] = on
    this.version++
  }

  /**
   * One pass of `kubectl drain`: evicts every pod the PDBs allow now. Returns the pods
   * still on the node (0: drained) and when a blocked eviction is worth retrying.
   */
  evict(node: string, now: number, startMs: () => number): { left: number; retryAt: number } {
    const i = this.idx(node)
    let retryAt = Infinity
    for (const p of [...this.podsOn[i]!]) {
      const pod = this.pods[p]!
      if (this.unready(pod.app, now) >= this.cfg.maxUnavailable) {
        // 429: wait for the app's not-ready pods to start.
        for (const q of this.appPods[pod.app]!) {
          const o = this.pods[q]!
          if (o.readyAt > now) retryAt = Math.min(retryAt, o.readyAt)
        }
        continue
      }
      this.move(pod, now + startMs())
      this.version++
    }
    this.version++
    return { left: this.podsOn[i]!.size, retryAt: retryAt === Infinity && this.podsOn[i]!.size > 0 ? now + 5000 : retryAt }
  }

  /** A node lost without a drain: its pods start elsewhere (not ready until started). */
  evacuate(node: string, now: number, startMs: () => number): void {
    for (const p of [...this.podsOn[this.idx(node)]!]) this.move(this.pods[p]!, now + startMs())
    this.version++
  }

  private move(pod: Pod, readyAt: number): void {
    let best = -1
    for (let j = 0; j < this.nodes.length; j++) {
      if (j === pod.node || !this.ready[j] || this.cordoned[j]) continue
      if (best < 0 || this.podsOn[j]!.size < this.podsOn[best]!.size) best = j
    }
    if (best < 0) return // nowhere to go: the pod stays (and the drain waits)
    this.podsOn[pod.node]!.delete(pod.id)
    pod.node = best
    pod.readyAt = readyAt
    this.podsOn[best]!.add(pod.id)
  }
}
