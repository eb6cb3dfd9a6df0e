/** One machine of the wave simulator, as WaveWorld tracks it (ground truth, not any node's view). */
import type { NodeFacts } from '../../agent/protocol/vote/cluster-view.js'
import type { ClusterView } from '../../agent/protocol/vote/cluster-view.js'
import type { Lease, PersistedVote, VoteNode } from '../../agent/protocol/vote/vote-node.js'
import type { CycleInput, CycleState } from '../../agent/protocol/upgrade-cycle/index.js'

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
  /** The phase its record would show ('idle' = ready). */
  phase: 'idle' | 'draining' | 'rebooting' | 'verifying' | 'failed'
  /** The lease its cycle carries out. */
  lease: Lease | undefined
  /** Production's upgrade cycle (agent/protocol/upgrade-cycle): its state lives in the agent's RAM. */
  cycle: CycleState
  /** Inputs queued while the cycle is being stepped (no re-entrant steps). */
  cycleInbox: CycleInput[]
  cycling: boolean
  /** The latest wake the cycle asked for (older ones are stale). */
  cycleWakeAt: number
  /** A lease that arrived while another run (a leftover) was going: carried out next. */
  pendingLease: Lease | undefined
  /** This agent's ClusterView (its vote's view of the others). */
  view: ClusterView | undefined
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

