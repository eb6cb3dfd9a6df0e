/**
 * The waves API contract: request bodies, the stored wave, and the status the
 * CLI prints. Admin routes need `Authorization: Bearer <admin token>`; /v1/assign is the
 * node's own call, authenticated by its signature over its lease.
 *
 * | method | path                              | body -> answer                                   |
 * |--------|-----------------------------------|--------------------------------------------------|
 * | POST   | /v1/waves                         | WaveCreate -> 201 WaveStatus (dryRun: 200 DryRun); 409 never-finishes unless force |
 * | GET    | /v1/waves                         | -> { waves: WaveStatus[] } (newest first)         |
 * | GET    | /v1/waves/{id}                    | -> WaveStatus (id `current`: the newest wave)     |
 * | POST   | /v1/waves/{id}/pause|resume|abort | -> WaveStatus; 409 when the wave is not in a state that allows it |
 * | POST   | /v1/waves/{id}/rollback           | -> 201 WaveStatus of the new wave to the previous version |
 * | POST   | /v1/waves/{id}/force-release      | { node } -> { wave, node, slot, term }            |
 * | POST   | /v1/assign                        | AssignLeaseRequest -> 200 { node, image }; 403 refused (audited) |
 */
import { z } from 'zod'
import { NodeId } from '../../agent/protocol/node-record.js'
import { parseAlertSelector } from '../../agent/protocol/alert-matchers.js'
import { parseWindowRule } from '../../agent/protocol/maintenance-window.js'
import { SignatureHex } from '../../agent/protocol/enroll/index.js'
import { ImageVersion, RecordImage } from '../../agent/protocol/image-version.js'
import { MaxUnavailable } from '../../agent/protocol/max-unavailable.js'
import { BLOCK_CODES } from './wave-blockers.js'
import { StoredVerb } from './node-verbs.js'

export const waveRoutes = {
  waves: '/v1/waves',
  assign: '/v1/assign',
} as const

export const WaveId = z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'wave id: letters, digits, . _ -')

/** `HH:MM-HH:MM` UTC daily maintenance window (wraps midnight when the end is earlier). */
export const WindowText = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$/, 'window: HH:MM-HH:MM in UTC, e.g. 22:00-06:00')

/** `[DAYS ]HH:MM-HH:MM[ ZONE]` (agent/protocol/maintenance-window.ts), e.g. `Mon-Fri 22:00-06:00 Europe/Berlin`. */
export const WindowRuleText = z.string().max(128).superRefine((text, ctx) => {
  try {
    parseWindowRule(text)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message })
  }
})

/** One Alertmanager-syntax selector (agent/protocol/alert-matchers.ts), e.g. `{alertname=~"Ceph.*",severity="critical"}`. */
export const AlertMatcherText = z.string().superRefine((text, ctx) => {
  try {
    parseAlertSelector(text)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message })
  }
})

export const FailureDomainKey = z.string().min(1).max(32)
export const FAILURE_DOMAIN_KEYS = ['domain', 'none'] as const

export const WaveCreate = z
  .object({
    target: ImageVersion,
    /** K: nodes that may be unavailable at once (1..1024), checked here and nowhere else. */
    maxUnavailable: MaxUnavailable.default(1 as MaxUnavailable),
    /** `domain` (NodeRecord.domain): one failure domain at a time; `none`: domains only order the ranking. */
    failureDomain: FailureDomainKey.default('domain'),
    window: WindowText.optional(),
    /** Several windows with days and zones: new slots only while one is open (with `window`: that one too). */
    windows: z.array(WindowRuleText).min(1).max(8).optional(),
    /** No new slot before this time: ISO 8601 with offset, or `[YYYY-MM-DD ]HH:MM[ ZONE]` (the next such time). */
    at: z.string().max(64).optional(),
    /** After a node comes back, no new slot for this long (ms). */
    settleMs: z.number().int().nonnegative().max(86_400_000).optional(),
    /** Which enrolled nodes the wave takes: `id=GLOB`, `domain=GLOB`, comma-separated, all must match (wave-selection.ts). Absent: all. */
    selector: z.string().min(1).max(256).optional(),
    /** Take this many nodes first (the best-ranked), then pause for the operator to resume. */
    canary: z.number().int().min(1).max(10_000).optional(),
    /** Alertmanager-compatible base URL; firing alerts hold back new slots. */
    alertSource: z.string().url().optional(),
    /** Which firing alerts hold: any selector matching (none given: every alert). Watchdog and InfoInhibitor never hold. */
    alertMatchers: z.array(AlertMatcherText).max(16).optional(),
    /** What a drain does at its deadline: halt the wave, or delete the pods. */
    drainPolicy: z.enum(['halt', 'force']).default('halt'),
    /** A holder unavailable longer than this halts the wave. 30 min: a bare-metal reboot plus a Ceph recovery. */
    nodeTimeoutMs: z.number().int().positive().max(7 * 86_400_000).default(30 * 60_000),
    /**
     * A running wave in which nothing moves for this long — no slot granted, no node changing
     * state, nothing down, no hold — halts with the reason. 30 min: longer than any one
     * node's cycle, so only a wave that waits for something that will not come halts.
     */
    stallTimeoutMs: z.number().int().positive().max(7 * 86_400_000).default(30 * 60_000),
    /** Start even when the start check finds that the wave can never finish. */
    force: z.boolean().default(false),
    dryRun: z.boolean().default(false),
  })
  .strict()
export type WaveCreate = z.infer<typeof WaveCreate>

export const ForceReleaseRequest = z.object({ node: NodeId }).strict()

/** POST /v1/assign: the lease holder asks that its boot script now boot the wave's target. */
export const AssignLeaseRequest = z
  .object({
    node: NodeId,
    wave: WaveId,
    slot: z.number().int().nonnegative().max(1024),
    term: z.number().int().positive().max(2 ** 48),
    /** ed25519 by the node's key over assignSigningText(...), hex. */
    sig: SignatureHex,
  })
  .strict()
export type AssignLeaseRequest = z.infer<typeof AssignLeaseRequest>

/** The exact text a node signs for /v1/assign: defined once, in agent/protocol/assign-proof.ts. */
export { assignSigningText } from '../../agent/protocol/assign-proof.js'

export const OverallState = z.enum(['running', 'paused', 'halted', 'done', 'aborted'])
export type OverallState = z.infer<typeof OverallState>
export const NodeWaveState = z.enum(['waiting', 'holding', 'draining', 'rebooting', 'verifying', 'done', 'failed'])
export type NodeWaveState = z.infer<typeof NodeWaveState>

/** The operator's wave state as stored (halted is derived, never stored). */
export const StoredState = z.enum(['running', 'paused', 'done', 'aborted'])
export type StoredState = z.infer<typeof StoredState>

export const NodeBlock = z
  .object({
    code: z.enum(BLOCK_CODES),
    message: z.string(),
    fix: z.string().optional(),
    permanent: z.boolean(),
  })
  .strict()

/** A cause that can never clear by itself, the candidates it stops, and what to change. */
export const NeverCause = z.object({ message: z.string(), fix: z.string(), nodes: z.array(z.string()) }).strict()

export const NodeProgress = z
  .object({
    node: NodeId,
    state: NodeWaveState,
    /** When the node entered `state` (coordinator clock, ms). */
    since: z.number(),
    image: RecordImage.optional(),
    phase: z.string().optional(),
    liveness: z.string().optional(),
    slot: z.number().optional(),
    term: z.number().optional(),
    reason: z.string().optional(),
    assignedAt: z.number().optional(),
    doneAt: z.number().optional(),
    /** Why a waiting node is not moving now (wave-blockers.ts): hold, budget, gate, not-ready, never. */
    blocked: z.array(NodeBlock).optional(),
  })
  .strict()
export type NodeProgress = z.infer<typeof NodeProgress>

export const StoredWave = z
  .object({
    id: WaveId,
    target: ImageVersion,
    /** The version most roster nodes ran when the wave started: what rollback goes back to. */
    previous: ImageVersion.optional(),
    maxUnavailable: MaxUnavailable,
    failureDomain: FailureDomainKey,
    window: WindowText.optional(),
    /** Windows with days and zones (the texts as given); the wave control carries them parsed. */
    windows: z.array(z.string()).optional(),
    /** `--at`, resolved when the wave was created (coordinator clock, ms). */
    startAt: z.number().optional(),
    settleMs: z.number().int().nonnegative().optional(),
    /** The selector as given, and the roster nodes it chose (the others vote but are never taken). */
    selector: z.string().optional(),
    selected: z.array(NodeId).optional(),
    /** The canary's nodes; `passed` once they were all on the target and the wave paused for the operator. */
    canary: z.object({ nodes: z.array(NodeId), passed: z.boolean() }).strict().optional(),
    alertSource: z.string().optional(),
    alertMatchers: z.array(z.string()).optional(),
    drainPolicy: z.enum(['halt', 'force']),
    nodeTimeoutMs: z.number().int().positive(),
    roster: z.array(z.object({ id: NodeId, key: z.string() }).strict()),
    createdAt: z.number(),
    createdBy: z.string(),
    state: StoredState,
    stateAt: z.number(),
    stateReason: z.string().optional(),
    /** The wave this one rolls back, if any. */
    rollbackOf: WaveId.optional(),
    /** Stall timeout (absent in waves stored before it existed: the default). */
    stallTimeoutMs: z.number().int().positive().optional(),
    /** Started with --force over a start check that said it can never finish. */
    forced: z.boolean().optional(),
    /** Halted by the coordinator because nothing moved for stallTimeoutMs (cleared by resume). */
    halt: z.object({ at: z.number(), reason: z.string() }).strict().optional(),
    /** A node verb's one-node wave (node-verbs.ts): which node, what for. */
    verb: StoredVerb.optional(),
    nodes: z.record(z.string(), z.object({ state: NodeWaveState, since: z.number(), reason: z.string().optional(), assignedAt: z.number().optional(), doneAt: z.number().optional() }).strict()),
  })
  .strict()
export type StoredWave = z.infer<typeof StoredWave>

export const WaveStatus = z
  .object({
    id: WaveId,
    target: ImageVersion,
    previous: ImageVersion.optional(),
    state: OverallState,
    /** Why the wave is paused, halted, aborted or held back (window, alerts). */
    reason: z.string().optional(),
    held: z.boolean(),
    maxUnavailable: MaxUnavailable,
    failureDomain: z.string(),
    window: z.string().optional(),
    windows: z.array(z.string()).optional(),
    startAt: z.number().optional(),
    settleMs: z.number().optional(),
    selector: z.string().optional(),
    canary: z.object({ nodes: z.array(z.string()), passed: z.boolean() }).strict().optional(),
    alertMatchers: z.array(z.string()).optional(),
    drainPolicy: z.string(),
    nodeTimeoutMs: z.number(),
    createdAt: z.number(),
    stateAt: z.number(),
    rollbackOf: z.string().optional(),
    progress: z.object({ total: z.number(), done: z.number(), failed: z.number(), inProgress: z.number(), waiting: z.number() }).strict(),
    stallTimeoutMs: z.number().optional(),
    /** Waiting nodes by their first reason (the shoal_wave_blocked_nodes gauge), while the wave is active. */
    blocked: z.record(z.string(), z.number()).optional(),
    /** Causes that can never clear by themselves, while the wave is active. */
    never: z.array(NeverCause).optional(),
    forced: z.boolean().optional(),
    nodes: z.array(NodeProgress),
  })
  .strict()
export type WaveStatus = z.infer<typeof WaveStatus>

export const DryRunNode = z
  .object({
    node: NodeId,
    image: RecordImage.optional(),
    phase: z.string().optional(),
    domain: z.string().optional(),
    candidate: z.boolean(),
    gate: z.enum(['pass', 'fail', 'unknown']),
    reasons: z.array(z.string()),
  })
  .strict()
export const DryRun = z
  .object({
    dryRun: z.literal(true),
    target: ImageVersion,
    previous: ImageVersion.optional(),
    maxUnavailable: MaxUnavailable,
    failureDomain: z.string(),
    /** Candidates in the order the vote's ranking would pick them now. */
    order: z.array(NodeId),
    /** The same order with the ranking's inputs and, per node, the rule that puts it after the one before (docs/vote.md). */
    ranked: z
      .array(
        z
          .object({
            node: NodeId,
            position: z.number().int(),
            okToStop: z.boolean(),
            blocked: z.number(),
            domain: z.string(),
            domainActive: z.boolean(),
            primaries: z.number(),
            pgs: z.number(),
            pods: z.number(),
            load: z.number(),
            why: z.string(),
          })
          .strict(),
      )
      .optional(),
    nodes: z.array(DryRunNode),
    /** The start check: causes that would make this wave never finish (a real start is refused unless forced). */
    never: z.array(NeverCause).optional(),
    /** Candidates whose agents publish no stop facts (no Ceph, or an older agent): not judged. */
    unknown: z.array(NodeId).optional(),
    /** True when `shoal upgrade start` without --force would refuse this wave. */
    refused: z.boolean().optional(),
    /** The refusal text a real start would answer with. */
    refusal: z.string().optional(),
  })
  .strict()
export type DryRun = z.infer<typeof DryRun>

/** Parses `HH:MM-HH:MM` into UTC minutes of the day. */
export function parseWindow(text: string): { fromMinute: number; toMinute: number } {
  const [a, b] = text.split('-') as [string, string]
  const min = (t: string) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5))
  return { fromMinute: min(a), toMinute: min(b) }
}
