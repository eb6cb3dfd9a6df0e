/** The fake API server's public shapes: what tests pass in (specs, faults, options) and read back. */
import type { LabelSelector } from '../../agent/health/label-selector.js'

export type Obj = Record<string, any>

export interface FakeNodeSpec {
  name: string
  ready?: boolean
  unschedulable?: boolean
  labels?: Record<string, string>
}

export interface FakePodSpec {
  name: string
  namespace?: string
  node: string
  labels?: Record<string, string>
  /** Controller owner: kind + name ("ReplicaSet"/"web-6d4b", "DaemonSet"/"proxy", "StatefulSet"/...). Absent: a bare pod. */
  owner?: { kind: string; name: string }
  /** A static pod's API mirror (annotation kubernetes.io/config.mirror). */
  mirror?: boolean
  ready?: boolean
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed'
  /**
   * Graceful termination: once deleted or evicted, the pod stays (with its
   * deletionTimestamp, no longer counted by a PDB) this long before it is gone, as its
   * containers shut down. Default 0: gone at once. A ReplicaSet's replacement (reschedule)
   * is created at once and inherits it.
   */
  terminatingMs?: number
}

export interface FakePdbSpec {
  name: string
  namespace?: string
  selector: LabelSelector
  minAvailable?: number | string
  maxUnavailable?: number | string
}

export interface Fault {
  /** Which requests: method and a path prefix (query excluded). */
  method?: string
  pathPrefix: string
  /** Answer with this status (a Status body) ... */
  status?: number
  /** ... or never answer (the socket stays open until the client gives up or the server closes). */
  hang?: boolean
  /** How many matching requests to hit; default 1. */
  times?: number
}

export interface FakeKubeOptions {
  /** Require `Authorization: Bearer <token>`. */
  token?: string
  /** Serve HTTPS with this key/cert (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer }
  /**
   * Recreate evicted ReplicaSet pods, Ready, on another schedulable Ready node — the one
   * with the fewest pods of that ReplicaSet (the scheduler's default spreading). Default false.
   */
  reschedule?: boolean
  /** Kubernetes version reported by /version and the node table. */
  version?: string
}

export interface RequestRecord {
  method: string
  path: string
  query: string
  status: number
}
