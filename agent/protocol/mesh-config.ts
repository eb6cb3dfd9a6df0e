/**
 * Mesh tuning. Every field has a unit in its name and a reason. `lanPreset` is production on
 * a provisioning LAN; MESH_TIMINGS names the others (emulated, shared, sim) as overrides of it.
 */
import { z } from 'zod'

export const MeshConfig = z
  .object({
    /** Each node probes one member per interval. 200 ms: a crash is first noticed within ~0.3 s at any N. */
    probeIntervalMs: z.number().int().positive(),
    /**
     * Direct probe answer deadline. LAN round trips are < 1 ms, but a node paused 80+ ms (GC,
     * a CPU hog) then drew a cluster-wide suspicion (refuted, but `shoal watch` flickers);
     * 250 ms rides out such pauses and still declares a crash dead in ~2.5 s (sim).
     */
    probeTimeoutMs: z.number().int().positive(),
    /** Helpers asked for an indirect probe when the direct one fails (SWIM k). */
    indirectProbes: z.number().int().nonnegative(),
    /**
     * Suspicion lasts at least mult * log10(max(N,10)) * probeInterval (Lifeguard alpha).
     * It is also how long a frozen node has to wake up and refute: a crash is a pause that
     * never ends, so every ms taken off detection is taken off the longest pause a live
     * node survives. 2.5 (was 4): at N=1000 a crash is dead everywhere within ~2.6 s (the
     * 3 s target), and a node frozen up to ~1.75 s is not marked dead (the sim's soak
     * pauses are 50-500 ms); see docs/mesh.md, failure detection.
     */
    suspicionMinMult: z.number().positive(),
    /**
     * ... and at most this multiple of the minimum, shortened by independent confirmations
     * (Lifeguard beta): what a lone accuser, maybe the slow one itself, waits. 4.8 with
     * alpha 2.5 keeps lan's longest wait where it was (12 * log10(N) probe periods).
     */
    suspicionMaxMult: z.number().positive(),
    /** Confirmations that bring suspicion down to its minimum (Lifeguard K). */
    suspicionConfirmations: z.number().int().positive(),
    /** Lazy-push batching: ids of updates go to non-tree neighbours at most this often. 10 ms: a repair path costs little more than a LAN hop. */
    ihaveIntervalMs: z.number().int().positive(),
    /**
     * After an IHAVE for an update we lack, wait this long for the eager copy before GRAFTing.
     * 20 ms: on a LAN the eager copy is a few 1 ms hops away; one shared tree serves every
     * source, so for some sources it has gaps, and this is what a join waits at each gap.
     */
    graftTimeoutMs: z.number().int().positive(),
    /**
     * A fresh link's first anti-entropy exchange waits for the previous fresh link's (its
     * first delta), at most this long (anti-entropy-rounds.ts): a joiner whose links come
     * up together fetches the table once instead of from every neighbour. 100 ms: a few
     * LAN round trips, well under the 1 s round.
     */
    aeSpacingMs: z.number().int().nonnegative(),
    /** Anti-entropy exchange with one random neighbour this often: the backstop for anything lost. */
    antiEntropyIntervalMs: z.number().int().positive(),
    /** How often to try one member we hold dead: after a partition heals, the halves find each other again. */
    deadProbeIntervalMs: z.number().int().positive(),
    /** A dial that has not connected by then counts as failed. */
    connectTimeoutMs: z.number().int().positive(),
    /** Connections each node aims for; the overlay is a random graph of about this degree. */
    targetDegree: z.number().int().min(2),
    /** Hard cap on connections, inbound included. */
    maxDegree: z.number().int().min(2),
    /** How long a dead member's tombstone is kept before it is forgotten (0 = forever). */
    deadRetentionMs: z.number().int().nonnegative(),
    /** Dropped-frame count after which a peer is disconnected. */
    maxBadFramesPerPeer: z.number().int().positive(),
    /**
     * The most two members' clocks may differ. Incarnations start at a node's boot second,
     * so this bounds what a signed claim can make others believe (membership.ts,
     * `incarnationBound`): a claim may run ahead of the receiver's clock by this much, a
     * record by 3x this + 1 s (room for the subject's refutation of any claim some member
     * accepted). 30 s: NTP keeps a LAN within milliseconds; a worker whose clock is off by
     * more than ~91 s has its records dropped, counted and logged (`implausible-incarnation`).
     */
    maxClockSkewMs: z.number().int().nonnegative(),
  })
  .strict()
export type MeshConfig = z.infer<typeof MeshConfig>

export const lanPreset: Readonly<MeshConfig> = Object.freeze({
  probeIntervalMs: 200,
  probeTimeoutMs: 250,
  indirectProbes: 3,
  suspicionMinMult: 2.5,
  suspicionMaxMult: 4.8,
  suspicionConfirmations: 3,
  ihaveIntervalMs: 10,
  graftTimeoutMs: 20,
  aeSpacingMs: 100,
  antiEntropyIntervalMs: 1000,
  deadProbeIntervalMs: 2000,
  connectTimeoutMs: 2000,
  targetDegree: 8,
  maxDegree: 16,
  deadRetentionMs: 24 * 3600_000,
  maxBadFramesPerPeer: 20,
  maxClockSkewMs: 30_000,
})

/**
 * A named mesh timing: overrides of `lan` (and the transport's silent-link close, an agent
 * config field beside the mesh block). The coordinator hands its timing to the workers it
 * boots as `shoal.mesh=` (agent/boot/mesh-param.ts).
 */
export interface MeshTiming {
  readonly mesh: Readonly<Partial<MeshConfig>>
  /** The transport's silent-link close (agent config silentLinkMs); absent: the agent's default. */
  readonly silentLinkMs?: number
}

/**
 * The one table of named mesh timings: what an operator types as the coordinator's
 * `--mesh-timing`, what `npm start` runs and what the live tests run.
 * - lan: production on a provisioning LAN, `lanPreset` as is.
 * - emulated: TCG workers on a shared host, where node runs 20-100x slower and a starved
 *   guest answered its HTTP API in up to 20 s: 2 s probes answered within 5 s, suspicion of
 *   at least 8 probe periods (16-48 s: a suspected guest gets time to refute), 5 s
 *   anti-entropy, 50 ms IHAVE batches, and a 60 s silent-link close (a handshake can take
 *   the slow side many seconds). A crash is then noticed in about a minute, not 3 s.
 *   (emulated and shared keep suspicion beta 3, from before lan's went to 4.8.)
 * - shared: many agents (and whatever else runs: Ceph, a coordinator) sharing one small
 *   machine — the demo and the live tests. `lan`'s timeouts assume each agent has a core;
 *   with dozens of agents on 2 cores a join saturates the machine and every answer lags by
 *   seconds. Measured at 50 agents with lan's 500 ms probe timeout, 2 s connect and 20 ms
 *   graft: ~170 probe failures and ~50 refutations per join — each a signed claim and a new
 *   record verified by every agent — and GRAFTs for updates merely queued behind others.
 *   These values trade slower crash detection (~10-20 s) for a calm cluster: a redial after
 *   a broken link may take seconds (8 s connect), and the eager copy is usually just queued
 *   (250 ms before a GRAFT, 50 ms IHAVE batches).
 * - sim: the simulator, `lan` as is: it must measure production values.
 */
export const MESH_TIMINGS = Object.freeze({
  lan: Object.freeze({ mesh: Object.freeze({}) }),
  emulated: Object.freeze({
    mesh: Object.freeze({ probeIntervalMs: 2000, probeTimeoutMs: 5000, suspicionMinMult: 8, suspicionMaxMult: 3, antiEntropyIntervalMs: 5000, ihaveIntervalMs: 50, graftTimeoutMs: 200, connectTimeoutMs: 10_000, deadProbeIntervalMs: 5000 }),
    silentLinkMs: 60_000,
  }),
  shared: Object.freeze({
    mesh: Object.freeze({ probeIntervalMs: 1000, probeTimeoutMs: 1000, suspicionMinMult: 4, suspicionMaxMult: 3, connectTimeoutMs: 8000, graftTimeoutMs: 250, ihaveIntervalMs: 50 }),
  }),
  sim: Object.freeze({ mesh: Object.freeze({}) }),
} satisfies Record<string, MeshTiming>)
export type MeshTimingName = keyof typeof MESH_TIMINGS

export function isMeshTimingName(name: string): name is MeshTimingName {
  return Object.hasOwn(MESH_TIMINGS, name)
}

/** A named timing as `key:value,...` pairs (the coordinator's --mesh-timing / shoal.mesh= syntax). */
export function meshTimingPairs(name: MeshTimingName): string {
  const t: MeshTiming = MESH_TIMINGS[name]
  return [...(t.silentLinkMs !== undefined ? [`silentLinkMs:${t.silentLinkMs}`] : []), ...Object.entries(t.mesh).map(([k, v]) => `${k}:${v}`)].join(',')
}

/** Merges overrides onto a named timing (over `lan`) and validates; unknown keys are an error. */
export function meshConfig(overrides: Partial<MeshConfig> = {}, timing: MeshTimingName = 'lan'): MeshConfig {
  return MeshConfig.parse({ ...lanPreset, ...MESH_TIMINGS[timing].mesh, ...overrides })
}
