/**
 * What the coordinator tells the mesh about the current wave: the published wave itself
 * (the vote's message) and the signed wave control (state, schedule, alerts, retired nodes),
 * re-signed when its inputs change and re-broadcast on a period so that a node that missed
 * it (or just booted) learns it. The control it signs is also the one its own WaveGate judges by.
 */
import { pack } from '../../agent/protocol/frame.js'
import type { Clock, Keyring } from '../../agent/protocol/ports.js'
import type { HeldKind } from '../../agent/protocol/node-verbs.js'
import type { VoteNode } from '../../agent/protocol/vote/vote-node.js'
import { encodeVoteMessage } from '../../agent/protocol/vote/vote-codec.js'
import { VOTE_TOPIC } from '../../agent/protocol/vote/vote-messages.js'
import { WAVE_CONTROL_TOPIC, type WaveGate, type WaveControlMsg } from '../../agent/protocol/wave-control.js'
import type { MeshPort } from '../../agent/upgrade/vote-runtime.js'
import type { StoredWave } from './wave-api.js'
import { controlFor, firingAlerts, legacyWindowStale } from './wave-control-msg.js'
import { ACTIVE } from './wave-store.js'

export interface ControlPublisherDeps {
  clock: Clock
  mesh: MeshPort
  keyring: Keyring
  /** The coordinator's own gate: it judges by the control signed here. */
  gate: WaveGate
  /** The coordinator's VoteNode: the wave it published, and the nodes written off. */
  vote: Pick<VoteNode, 'currentWave' | 'snapshot'>
  /** The control message is re-broadcast this often. */
  everyMs: number
  /** Nodes held out of service by a node verb (node-verbs.ts): signed into every control. */
  held?: () => readonly { node: string; kind: HeldKind }[]
}

export class ControlPublisher {
  private control: WaveControlMsg | undefined
  private alerts: string[] = []
  private lastAt = 0

  constructor(private readonly deps: ControlPublisherDeps) {}

  /** The current control message (tests, API). */
  current(): WaveControlMsg | undefined {
    return this.control
  }

  /** Signs the control `w` now means (the gate takes it at once), without sending it. */
  sign(w: StoredWave): void {
    this.control = controlFor(w, { prev: this.control, now: this.deps.clock.now(), alerts: this.alerts, retired: [...new Set(this.deps.vote.snapshot().retired)], keyring: this.deps.keyring, held: this.deps.held?.() ?? [] })
    this.deps.gate.onControl(this.control)
  }

  /** Sends the current control message to every member. */
  broadcast(): void {
    if (!this.control) return
    this.lastAt = this.deps.clock.now()
    this.deps.mesh.input({ type: 'broadcast', topic: WAVE_CONTROL_TOPIC, body: pack(this.control) })
  }

  /** Signs the control `w` now means and sends it: what every change of a wave ends with. */
  publish(w: StoredWave): void {
    this.sign(w)
    this.broadcast()
  }

  /** Sends the wave the vote published (the vote's own message). */
  broadcastWave(): void {
    const w = this.deps.vote.currentWave()
    if (w) this.deps.mesh.input({ type: 'broadcast', topic: VOTE_TOPIC, body: encodeVoteMessage(w) })
  }

  /** Re-broadcasts the current wave and control message (a new member may have missed them). */
  announce(): void {
    this.broadcastWave()
    this.broadcast()
  }

  /** On the service's tick: re-signs a legacy daily window that is no longer today's, and re-broadcasts on the period. */
  keepFresh(w: StoredWave): void {
    if (legacyWindowStale(w, this.control, this.deps.clock.now())) this.publish(w)
    if (this.deps.clock.now() - this.lastAt >= this.deps.everyMs) this.broadcast()
  }

  /** Reads the wave's alert source once; a change of the firing alerts its matchers choose is signed and sent. */
  async pollAlerts(w: StoredWave | undefined): Promise<void> {
    if (!w?.alertSource || !ACTIVE.has(w.state)) return
    const names = await firingAlerts({ ...w, alertSource: w.alertSource })
    if (names.join('\n') === this.alerts.join('\n')) return
    this.alerts = names
    this.publish(w)
  }
}
