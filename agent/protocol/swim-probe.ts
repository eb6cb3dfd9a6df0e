/**
 * SWIM failure detection, with Lifeguard's tweaks: each probe round this node pings one
 * overlay neighbour (the one heard from least recently); with no ack by the timeout it asks up to
 * `indirectProbes` other neighbours to ping it (ping-req), and with no ack by then either
 * the target is accused (the member table signs a suspect claim). It also relays others'
 * ping-reqs. Interval and timeouts stretch with our own awareness (awareness.ts); helpers
 * that answer "I could not reach it either" (nacks) show the fault is not ours.
 */
import type { Awareness } from './awareness.js'
import type { MeshContext } from './mesh-context.js'
import type { Liveness } from './mesh-types.js'
import type { MeshMessage } from './messages.js'
import { shuffle } from './random.js'

/** Round-trip samples kept until an adapter takes them (drainRtts); older ones are dropped past this. */
const MAX_RTT_SAMPLES = 1024

/**
 * Direct pings sent during the indirect phase, evenly spread over it (the first as it
 * begins). A helper relays only to a target it is itself linked to, which in a bounded
 * overlay few are, so these pings carry most of the phase: with one, at 1% frame loss one
 * probe in ~2,500 failed against a live node (ping or ack lost, then the re-ping or its
 * ack), and each failure was a suspicion and a refutation carried to every node (at
 * N=1000: ~2 a second, most of the simulator's CPU). Three make it ~1 in 6 million (estimated).
 */
const INDIRECT_DIRECT_PINGS = 3

/**
 * A probe deadline handled this much later than it was due means this node was frozen (a
 * GC pause, a starved CPU): answers that came in meanwhile may still be queued behind the
 * timer, as Node runs due timers before it reads sockets. Lifeguard's local health: the
 * node does not judge the probe on the spot (see expireProbe).
 */
const LATE_TIMER_MS = 50

interface ProbeState {
  target: string
  seq: number
  phase: 'direct' | 'indirect'
  deadline: number
  /** Helpers that answered "I could not reach it either" (Lifeguard nacks). */
  nacks: number
  /** When the direct ping left, for the round-trip sample. */
  sentAt: number
  /** Indirect phase: when the next direct ping goes (Infinity: none left). */
  repingAt: number
  repingsLeft: number
  repingGapMs: number
  /** The current deadline was already put off once because this node was late (LATE_TIMER_MS). */
  deferred: boolean
}

/** The overlay links a prober may use, in the overlay's order. */
export interface ProbeLinks {
  has(peer: string): boolean
  all(): string[]
}

type Msg<T extends MeshMessage['t']> = Extract<MeshMessage, { t: T }>

export class SwimProber {
  private probe: ProbeState | undefined
  /** When each neighbour last sent us anything. */
  private readonly heardAt = new Map<string, number>()
  private urgent: string | undefined
  private seq = 0
  /** ping-reqs we are relaying: our ping's seq -> who asked, and their seq. */
  private readonly relays = new Map<number, { origin: string; originSeq: number; deadline: number }>()
  private rttSamples: number[] = []
  private nextRoundAt: number

  constructor(
    private readonly ctx: MeshContext,
    private readonly awareness: Awareness,
    private readonly links: ProbeLinks,
    private readonly statusOf: (id: string) => Liveness | undefined,
    /** Our probe of a member failed: the member table accuses it. */
    private readonly accuse: (id: string, now: number) => void,
    now: number,
  ) {
    // Spread timer phases so that simulated nodes started together do not tick together.
    this.nextRoundAt = now + ctx.rng.int(ctx.cfg.probeIntervalMs)
  }

  // ---------------------------------------------------------------- messages

  onPing(from: string, msg: Msg<'ping'>): void {
    this.ctx.send(from, { t: 'ack', seq: msg.seq })
  }

  onAck(msg: Msg<'ack'>, now: number): void {
    const p = this.probe
    if (p && p.seq === msg.seq) {
      if (p.phase === 'direct') {
        if (this.rttSamples.length >= MAX_RTT_SAMPLES) this.rttSamples.shift()
        this.rttSamples.push(Math.max(0, now - p.sentAt))
      }
      this.probe = undefined
      this.awareness.better()
      return
    }
    const relay = this.relays.get(msg.seq)
    if (relay) {
      this.relays.delete(msg.seq)
      this.ctx.send(relay.origin, { t: 'ack', seq: relay.originSeq })
    }
  }

  onPingReq(from: string, msg: Msg<'ping-req'>, now: number): void {
    if (!this.links.has(msg.target)) {
      this.ctx.send(from, { t: 'nack', seq: msg.seq })
      return
    }
    const seq = this.nextSeq()
    this.relays.set(seq, { origin: from, originSeq: msg.seq, deadline: now + this.ctx.cfg.probeTimeoutMs })
    this.ctx.send(msg.target, { t: 'ping', seq })
  }

  onNack(msg: Msg<'nack'>): void {
    this.ctx.count('nacks-in')
    if (this.probe && this.probe.seq === msg.seq) this.probe.nacks++
  }

  /** A frame from `peer` arrived: it runs (see nextTarget). */
  heard(peer: string, now: number): void {
    if (this.links.has(peer)) this.heardAt.set(peer, now)
  }

  /** Someone else suspects this neighbour: make it our next target. */
  probeSoon(id: string): void {
    this.urgent = id
  }

  /** The link to `peer` is gone: a probe of it in flight is abandoned (the overlay judges the loss). */
  forget(peer: string): void {
    this.heardAt.delete(peer)
    if (this.probe?.target === peer) this.probe = undefined
  }

  /** Takes the direct-probe round trips (ms) measured since the last call. */
  drainRtts(): number[] {
    const out = this.rttSamples
    this.rttSamples = []
    return out
  }

  // ---------------------------------------------------------------- timers

  /**
   * A probe past its deadline moves on: direct -> indirect -> accusation. A deadline this
   * node reaches late (by more than LATE_TIMER_MS) is first put off by 1 ms, once: the
   * node itself was frozen, an answer may be waiting to be read, and a frozen node's
   * verdict is not to be trusted (Lifeguard: a slow node should not accuse). It counts
   * against our local health, so our next probes wait longer.
   */
  expireProbe(now: number): void {
    const p = this.probe
    if (!p) return
    if (p.phase === 'indirect' && now >= p.repingAt && now < p.deadline) this.reping(p, now)
    if (now < p.deadline) return
    if (now - p.deadline > LATE_TIMER_MS && !p.deferred) {
      p.deferred = true
      p.deadline = now + 1
      this.ctx.count('late-probe-deadlines')
      this.awareness.worse()
      return
    }
    this.probeTimedOut(now)
  }

  /** If a probe round is due, schedules the next one (stretched by awareness) and returns true. */
  roundDue(now: number): boolean {
    if (now < this.nextRoundAt) return false
    this.nextRoundAt = now + this.awareness.scale(this.ctx.cfg.probeIntervalMs)
    return true
  }

  /** Pings this round's target, unless a probe is still in flight. */
  startProbe(now: number): void {
    if (this.probe) return
    let target = this.urgent
    this.urgent = undefined
    if (!target || !this.links.has(target)) target = this.nextTarget()
    if (!target) return
    const seq = this.nextSeq()
    this.probe = { target, seq, phase: 'direct', deadline: now + this.awareness.scale(this.ctx.cfg.probeTimeoutMs), nacks: 0, sentAt: now, repingAt: Infinity, repingsLeft: 0, repingGapMs: 0, deferred: false }
    this.ctx.send(target, { t: 'ping', seq })
  }

  /** Relayed pings with no ack in time: tell whoever asked. */
  expireRelays(now: number): void {
    if (this.relays.size === 0) return
    for (const [seq, r] of this.relays) {
      if (r.deadline > now) continue
      this.relays.delete(seq)
      this.ctx.send(r.origin, { t: 'nack', seq: r.originSeq })
    }
  }

  nextWakeAt(): number {
    let t = this.nextRoundAt
    if (this.probe) t = Math.min(t, this.probe.deadline, this.probe.repingAt)
    if (this.relays.size > 0) for (const r of this.relays.values()) t = Math.min(t, r.deadline)
    return t
  }

  // ---------------------------------------------------------------- internals

  /**
   * The neighbour heard from least recently (one never heard from first; ties in link
   * order). Any frame proves its sender runs, so the neighbour we know least about is the
   * one worth a probe: a crashed one is the longest silent within a few rounds, where a
   * round-robin over a shuffle had every neighbour of it wait for its turn (up to two
   * cycles of a neighbour's degree: 1.2 s at N=1000 was seen, a third of the 3 s budget).
   */
  private nextTarget(): string | undefined {
    const peers = this.links.all()
    const first = this.leastRecentlyHeard(peers, false)
    // A link to a member held dead is rare (declaring it dead closes the link): its status
    // is read for the winner only, and the scan repeated without it if need be.
    return first === undefined || this.statusOf(first) !== 'dead' ? first : this.leastRecentlyHeard(peers, true)
  }

  private leastRecentlyHeard(peers: readonly string[], skipDead: boolean): string | undefined {
    let best: string | undefined
    let bestAt = Infinity
    for (const p of peers) {
      const at = this.heardAt.get(p) ?? -Infinity
      if (at < bestAt && !(skipDead && this.statusOf(p) === 'dead')) {
        best = p
        bestAt = at
      }
    }
    return best
  }

  private probeTimedOut(now: number): void {
    const { ctx } = this
    const p = this.probe!
    if (p.phase === 'direct' && ctx.cfg.indirectProbes > 0) {
      const helpers = shuffle(
        this.links.all().filter((n) => n !== p.target),
        ctx.rng,
      ).slice(0, ctx.cfg.indirectProbes)
      if (helpers.length > 0) {
        const window = this.awareness.scale(2 * ctx.cfg.probeTimeoutMs)
        p.phase = 'indirect'
        p.deadline = now + window
        p.deferred = false
        for (const h of helpers) ctx.send(h, { t: 'ping-req', seq: p.seq, target: p.target })
        // And directly, as memberlist does beside its indirect probes (its TCP fallback):
        // now and again during the phase (INDIRECT_DIRECT_PINGS). Without any, one lost
        // ping or ack became a suspicion: 1.8% of probes at 1% frame loss.
        p.repingsLeft = INDIRECT_DIRECT_PINGS
        this.reping(p, now, Math.floor(window / INDIRECT_DIRECT_PINGS))
        return
      }
    }
    this.probe = undefined
    ctx.count('probe-failures')
    // Helpers that answered are alive and so are we; silence from them too points at us.
    if (p.phase === 'indirect' && p.nacks === 0) this.awareness.worse()
    this.accuse(p.target, now)
  }

  /** One of the indirect phase's direct pings; the next follows `gapMs` later (the same gap each time). */
  private reping(p: ProbeState, now: number, gapMs = p.repingGapMs): void {
    this.ctx.send(p.target, { t: 'ping', seq: p.seq })
    p.repingsLeft--
    p.repingGapMs = gapMs
    p.repingAt = p.repingsLeft > 0 ? now + gapMs : Infinity
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) % 2 ** 32
    return this.seq
  }
}
