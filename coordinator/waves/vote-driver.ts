/**
 * Drives the coordinator's VoteNode (role 'coordinator'): inputs one at a time, effects in
 * order, a `persist` written to level BEFORE any later effect of its step (a tie-break vote
 * is durable before it leaves), vote broadcasts/sends onto the mesh (topic VOTE_TOPIC), and
 * one timer at `nextWakeAt()`. The same glue the agents get from agent/upgrade's
 * VoteRuntime, written against the StateStore and a MeshLink so tests can run it without
 * hyperswarm (TODO(issue 7): switch to VoteRuntime once it takes an injected Store).
 */
import { z } from 'zod'
import { pack, unpack } from '../../agent/protocol/frame.js'
import { silentLogger, type Clock, type Logger } from '../../agent/protocol/ports.js'
import { decodeVoteMessage, encodeVoteMessage } from '../../agent/protocol/vote/vote-codec.js'
import { VOTE_TOPIC, type VoteMessage } from '../../agent/protocol/vote/vote-messages.js'
import type { PersistedVote, VoteInput, VoteNode } from '../../agent/protocol/vote/vote-node.js'
import type { StateStore } from '../state-store.js'

/** How vote bytes leave the coordinator: the mesh runtime (or nothing, without a mesh). */
export interface MeshLink {
  broadcast(topic: string, body: Uint8Array): void
  send(to: string, topic: string, body: Uint8Array): void
}

export const noMesh: MeshLink = { broadcast() {}, send() {} }

const Packed = z.object({ packed: z.string() }).strict()
export const voteKey = (waveId: string) => `wavevote!${waveId}`

export async function loadVoteSnapshot(store: StateStore, waveId: string): Promise<PersistedVote | undefined> {
  const row = await store.get(voteKey(waveId), Packed)
  if (!row) return undefined
  return unpack(Buffer.from(row.packed, 'base64')) as PersistedVote
}

export class VoteDriver {
  private chain: Promise<void> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined
  private timerAt = Infinity
  private closed = false
  readonly counters: Record<string, number> = {}

  constructor(
    readonly vote: VoteNode,
    private readonly link: MeshLink,
    private readonly store: StateStore,
    private readonly clock: Clock,
    private readonly beforeStep: () => void = () => {},
    private readonly log: Logger = silentLogger,
  ) {}

  /** Queues one input; resolves when it and its effects are done (persist included). */
  input(input: VoteInput): Promise<void> {
    const run = this.chain.then(() => this.stepOnce(input))
    this.chain = run.catch((err) => this.log.error({ component: 'waves', node: this.vote.id, err: (err as Error).message }, 'vote step failed'))
    return run
  }

  /** Bytes from the mesh on VOTE_TOPIC; bad ones are counted and dropped. */
  deliver(from: string, body: Uint8Array): Promise<void> {
    const d = decodeVoteMessage(body)
    if (!d.ok) {
      this.count(`dropped.${d.reason}`)
      return Promise.resolve()
    }
    return this.input({ type: 'message', from, msg: d.msg })
  }

  /** Broadcasts an already-signed vote message as-is (the stored wave, after a restart). */
  broadcastRaw(msg: VoteMessage): void {
    this.link.broadcast(VOTE_TOPIC, encodeVoteMessage(msg))
  }

  /** Waits for every queued input. */
  idle(): Promise<void> {
    return this.chain
  }

  close(): Promise<void> {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    return this.chain
  }

  private async stepOnce(input: VoteInput): Promise<void> {
    if (this.closed) return
    this.beforeStep()
    const effects = this.vote.step(input, this.clock.now())
    for (const e of effects) {
      switch (e.type) {
        case 'persist':
          await this.store.put(voteKey(e.state.wave?.id ?? 'none'), { packed: Buffer.from(pack(e.state)).toString('base64') })
          break
        case 'broadcast':
          this.count(`out.${e.msg.k}`)
          this.link.broadcast(VOTE_TOPIC, encodeVoteMessage(e.msg))
          break
        case 'send':
          this.count(`out.${e.msg.k}`)
          this.link.send(e.to, VOTE_TOPIC, encodeVoteMessage(e.msg))
          break
        case 'dropped':
          this.count(`dropped.${e.reason}`)
          break
        default:
          break // lease events never happen to the coordinator: it holds no slot
      }
    }
    this.arm()
  }

  private arm(): void {
    if (this.closed) return
    const at = this.vote.nextWakeAt()
    if (at === this.timerAt && this.timer) return
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = at
    if (!Number.isFinite(at)) return
    const delay = Math.max(0, Math.min(at - this.clock.now(), 2 ** 31 - 1))
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.timerAt = Infinity
      void this.input({ type: 'tick' })
    }, delay)
    this.timer.unref()
  }

  private count(name: string): void {
    this.counters[name] = (this.counters[name] ?? 0) + 1
  }
}
