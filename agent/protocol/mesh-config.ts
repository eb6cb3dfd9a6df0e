/**
 * Mesh tuning. Every field has a unit in its name and a reason. Presets: `lan` (production
 * on a provisioning LAN), `sim` (same as lan: the simulator must measure production values).
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
    /** Suspicion lasts at least mult * log10(max(N,10)) * probeInterval (Lifeguard alpha). */
    suspicionMinMult: z.number().positive(),
    /** ... and at most this multiple of the minimum, shortened by independent confirmations (Lifeguard beta). */
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
  suspicionMinMult: 4,
  suspicionMaxMult: 3,
  suspicionConfirmations: 3,
  ihaveIntervalMs: 10,
  graftTimeoutMs: 20,
  antiEntropyIntervalMs: 1000,
  deadProbeIntervalMs: 2000,
  connectTimeoutMs: 2000,
  targetDegree: 8,
  maxDegree: 16,
  deadRetentionMs: 24 * 3600_000,
  maxBadFramesPerPeer: 20,
  maxClockSkewMs: 30_000,
})

export const presets = { lan: lanPreset, sim: lanPreset } as const

/** Merges overrides onto a preset and validates; unknown keys are an error. */
export function meshConfig(overrides: Partial<MeshConfig> = {}, preset: keyof typeof presets = 'lan'): MeshConfig {
  return MeshConfig.parse({ ...presets[preset], ...overrides })
}
