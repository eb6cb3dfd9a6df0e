/** One machine of the wave simulator, as WaveWorld tracks it (ground truth, not any node's view). */
import type { NodeFacts } from '../../agent/protocol/vote/cluster-view.js'
import type { Lease, PersistedVote, VoteNode } from '../../agent/protocol/vote/vote-node.js'

export interface SimNode {
  id: string
  idx: number
  domain: string
  image: string
  up: boolean
  /** Incremented on every machine boot and process restart: events for an older instance are dropped. */
  inst: number
  /** Incremented on every machine boot only: the kubelet and Ceph outlive an agent restart. */
  boot: number
  vote: VoteNode | undefined
  /** The Store: survives a process restart, not a machine boot (RAM). */
  store: PersistedVote | undefined
  rho: number
  offsetMs: number
  kubeletReady: boolean
  cordoned: boolean
  phase: 'idle' | 'draining' | 'rebooting' | 'verifying'
  lease: Lease | undefined
  /** This down period is a wave reboot (it boots on the target). */
  waveReboot: boolean
  /** Fault: boots but kubelet never gets Ready until the faults heal. */
  returnsUnhealthy: boolean
  permanentlyDead: boolean
  retired: boolean
  load: number
  facts: NodeFacts
  prev: NodeFacts
  changedAt: number
  /** Bumped when this node's own facts change (it sees them at once; the others later). */
  ownVersion: number
  wakeAt: number
  lastTickAt: number
  ticksAtOnce: number
}

