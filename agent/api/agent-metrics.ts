/**
 * The agent's Prometheus exposition (GET /metrics on the agent API), with prom-client:
 * Node's process/runtime defaults, the mesh (members by status, joins and deaths, probe
 * round trips, gossip by message type, drops by reason, anti-entropy rounds) and the wave
 * (this node's phase, slot held, votes cast and refused by reason, gate verdicts, health
 * probe latency per source).
 *
 * agent/protocol stays pure: it keeps plain counters (MeshNode.counters, VoteNode.counters,
 * the transport's stats) and a buffer of probe round trips; this module reads them at scrape
 * time and mirrors them into prom-client counters. Labels are bounded sets (status, message
 * type, drop reason, refusal reason, gate, source) — never a label per peer.
 * One Registry per agent, so several agents in one process (tests, the demo) never mix.
 */
import { Counter, Gauge, Histogram } from 'prom-client'
import { exposition, serverRegistry } from '../http/metrics-registry.js'
import type { MemberView, MeshEvent } from '../protocol/mesh-types.js'
import { MemberEventTally } from './member-event-tally.js'
import { Phase } from '../protocol/node-record.js'
import { PROTOCOL_VERSION } from '../protocol/frame.js'
import { SOFTWARE_VERSION } from '../protocol/software-version.js'

/** What the metrics read from the mesh runtime (agent/mesh MeshRuntime satisfies it). */
export interface MeshMetricsSource {
  readonly selfId: string
  view(): MemberView[]
  counters(): object
  drainProbeRtts?(): number[]
  on(event: 'event', listener: (event: MeshEvent, at: number) => void): unknown
  off(event: 'event', listener: (event: MeshEvent, at: number) => void): unknown
}

/** What they read from the upgrade agent (agent/upgrade UpgradeAgent.status()). */
export interface WaveMetricsSource {
  status(): { lease: unknown; abstaining: boolean; counters: Record<string, number> }
}

interface RuntimeCounterShape {
  dropped?: Record<string, number>
  refused?: Record<string, number>
  disconnectedForBadFrames?: number
  node?: Record<string, number>
  transport?: { in?: Record<string, { frames: number; bytes: number }>; out?: Record<string, { frames: number; bytes: number }> }
}

/** Mirrors a monotonic count kept elsewhere into a prom-client Counter (by the delta since the last scrape; a smaller value is a reset). */
function mirror<L extends string>(counter: Counter<L>) {
  const last = new Map<string, number>()
  return (labels: Partial<Record<L, string>>, value: number | undefined) => {
    const v = value ?? 0
    const key = JSON.stringify(labels)
    const prev = last.get(key) ?? 0
    counter.inc(labels, v >= prev ? v - prev : v)
    last.set(key, v)
  }
}

const SECONDS = (ms: number) => ms / 1000

export class AgentMetrics {
  readonly registry = serverRegistry()
  private readonly detach: () => void

  /** Health probe latency per source; UpgradeAgent reports each gate round here. */
  readonly probeDuration = new Histogram({
    name: 'shoal_health_probe_duration_seconds',
    help: 'Wall time of one health probe round, by source (kubelet, kube, ceph)',
    labelNames: ['source'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  })
  /** Gate verdicts, one per gate per round. */
  readonly gateVerdicts = new Counter({
    name: 'shoal_wave_gate_verdicts_total',
    help: 'Reboot gate verdicts of this node, by gate (pre, post) and result (pass, fail)',
    labelNames: ['gate', 'result'] as const,
    registers: [this.registry],
  })

  /**
   * `tally`: member events counted since the agent started (the agent builds these metrics on
   * the first scrape); without one, they are counted from now on.
   */
  constructor(mesh: MeshMetricsSource, tally?: MemberEventTally) {
    const r = [this.registry]
    new Gauge({ name: 'shoal_agent_info', help: 'Software and wire protocol version of this agent (always 1)', labelNames: ['version', 'protocol'] as const, registers: r }).set(
      { version: SOFTWARE_VERSION, protocol: String(PROTOCOL_VERSION) },
      1,
    )

    // --- membership, from the view and the event stream (counted since the agent's start by the tally)
    const own = tally ? undefined : new MemberEventTally(mesh)
    const t = tally ?? own!
    this.detach = () => own?.close()
    const tallied = (name: string, help: string, read: () => number) => {
      const counter: Counter = new Counter({ name, help, registers: r, collect: () => sync({}, read()) })
      const sync = mirror(counter)
      // The series exists at zero from the first scrape, so rate() works from there.
      counter.inc(0)
    }
    tallied('shoal_mesh_member_joins_total', 'Members seen for the first time (a join, as this agent learned it)', () => t.joins)
    tallied('shoal_mesh_member_suspicions_total', 'Members that turned suspect', () => t.suspicions)
    tallied('shoal_mesh_member_deaths_total', 'Members declared dead', () => t.deaths)

    new Gauge({
      name: 'shoal_mesh_members',
      help: 'Members this agent knows, by liveness status',
      labelNames: ['status'] as const,
      registers: r,
      collect() {
        const n = { alive: 0, suspect: 0, dead: 0 }
        for (const m of mesh.view()) n[m.status]++
        for (const [status, v] of Object.entries(n)) this.set({ status }, v)
      },
    })
    new Gauge({
      name: 'shoal_node_phase',
      help: "This node's published phase (1 for the current one)",
      labelNames: ['phase'] as const,
      registers: r,
      collect() {
        const me = mesh.view().find((m) => m.id === mesh.selfId)?.record?.phase
        for (const p of Phase.options) this.set({ phase: p }, p === me ? 1 : 0)
      },
    })

    // --- counters kept by the runtime, the node and the transport
    // One collector refreshes the mirrored counters below. prom-client reads each metric in
    // registration order, so this one is registered before the counters it feeds.
    new Gauge({
      name: 'shoal_agent_uptime_seconds',
      help: 'Seconds since this process started',
      registers: r,
      collect() {
        const c = mesh.counters() as RuntimeCounterShape
        for (const ms of mesh.drainProbeRtts?.() ?? []) rtt.observe(SECONDS(ms))
        for (const dir of ['in', 'out'] as const) {
          for (const [type, v] of Object.entries(c.transport?.[dir] ?? {})) {
            m.messages({ direction: dir, type }, v.frames)
            m.bytes({ direction: dir, type }, v.bytes)
          }
        }
        for (const [reason, v] of Object.entries(c.dropped ?? {})) m.dropped({ reason }, v)
        for (const [reason, v] of Object.entries(c.refused ?? {})) m.refused({ reason }, v)
        m.cutOff({}, c.disconnectedForBadFrames)
        m.probeFailures({}, c.node?.['probe-failures'])
        m.refutations({}, c.node?.['refutations'])
        m.antiEntropy({}, c.node?.['anti-entropy-rounds'])
        this.set(process.uptime())
      },
    })

    const rtt = new Histogram({
      name: 'shoal_mesh_probe_rtt_seconds',
      help: 'Round trip of direct SWIM probes (ping to ack) over established links',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    })
    const messages = new Counter({ name: 'shoal_mesh_messages_total', help: 'Gossip messages by direction (in, out) and message type', labelNames: ['direction', 'type'] as const, registers: r })
    const bytes = new Counter({ name: 'shoal_mesh_message_bytes_total', help: 'Gossip bytes on the wire (frames with length prefix) by direction and message type', labelNames: ['direction', 'type'] as const, registers: r })
    const dropped = new Counter({ name: 'shoal_mesh_frames_dropped_total', help: 'Inbound frames, records and claims dropped, by reason', labelNames: ['reason'] as const, registers: r })
    const refused = new Counter({ name: 'shoal_mesh_connections_refused_total', help: 'Connection attempts refused by the firewall, by reason', labelNames: ['reason'] as const, registers: r })
    const cutOff = new Counter({ name: 'shoal_mesh_bad_frame_disconnects_total', help: 'Peers disconnected for sending too many bad frames', registers: r })
    const probeFailures = new Counter({ name: 'shoal_mesh_probe_failures_total', help: 'Probes that got no ack, direct or indirect', registers: r })
    const refutations = new Counter({ name: 'shoal_mesh_refutations_total', help: 'Suspicions of this node it refuted with a higher incarnation', registers: r })
    const antiEntropy = new Counter({ name: 'shoal_mesh_anti_entropy_rounds_total', help: 'Periodic anti-entropy exchanges this node started', registers: r })
    const m = {
      messages: mirror(messages),
      bytes: mirror(bytes),
      dropped: mirror(dropped),
      refused: mirror(refused),
      cutOff: mirror(cutOff),
      probeFailures: mirror(probeFailures),
      refutations: mirror(refutations),
      antiEntropy: mirror(antiEntropy),
    }
  }

  /** The wave series, for an agent that takes part in waves. Call once. */
  attachWave(wave: WaveMetricsSource): void {
    const r = [this.registry]
    {
      new Gauge({
        name: 'shoal_wave_slot_held',
        help: 'Whether this node holds a reboot slot (1) or not (0)',
        registers: r,
        collect() {
          const s = wave.status()
          this.set(s.lease ? 1 : 0)
          mv.votesCast({}, s.counters['votes.cast'])
          for (const [k, v] of Object.entries(s.counters)) if (k.startsWith('nack.')) mv.refusals({ reason: k.slice(5) }, v)
          mv.leases({}, s.counters['leases'])
        },
      })
      const votesCast = new Counter({ name: 'shoal_vote_votes_cast_total', help: 'Votes this node cast for a candidate', registers: r })
      const refusals = new Counter({ name: 'shoal_vote_refusals_total', help: 'Vote requests this node refused, by reason', labelNames: ['reason'] as const, registers: r })
      const leases = new Counter({ name: 'shoal_vote_leases_acquired_total', help: 'Reboot slots this node won', registers: r })
      const mv = { votesCast: mirror(votesCast), refusals: mirror(refusals), leases: mirror(leases) }
      new Gauge({
        name: 'shoal_vote_abstaining',
        help: 'Whether this node abstains from voting (1: just booted, in its quiet period)',
        registers: r,
        collect() {
          this.set(wave.status().abstaining ? 1 : 0)
        },
      })
    }
  }

  /** One health probe round: its time per source. */
  observeRound(ms: { kubelet: number; kube: number; ceph: number }): void {
    for (const source of ['kubelet', 'kube', 'ceph'] as const) if (ms[source] > 0) this.probeDuration.observe({ source }, SECONDS(ms[source]))
  }

  observeGates(pre: boolean, post: boolean): void {
    this.gateVerdicts.inc({ gate: 'pre', result: pre ? 'pass' : 'fail' })
    this.gateVerdicts.inc({ gate: 'post', result: post ? 'pass' : 'fail' })
  }

  /** The exposition text and its content type. */
  async expose(): Promise<{ contentType: string; text: string }> {
    return exposition(this.registry)
  }

  close(): void {
    this.detach()
    this.registry.clear()
  }
}
