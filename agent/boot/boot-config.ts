/**
 * Settings of the agent's boot mode. Every field has its unit and reason; the defaults fit
 * a netbooting worker. Tests shorten the delays and cap the attempts.
 */
import { z } from 'zod'

export const BootConfig = z
  .object({
    /** First retry after a failure: 1 s brings a worker back quickly after a coordinator restart. */
    retryInitialMs: z.number().int().positive(),
    /** Retry ceiling: 15 s keeps a waiting rack responsive without hammering the coordinator. */
    retryMaxMs: z.number().int().positive(),
    /** Backoff growth per consecutive failure. */
    retryFactor: z.number().min(1),
    /** Random share of each delay, so a rack does not retry in lockstep. */
    retryJitter: z.number().min(0).max(1),
    /** Attempts per step before giving up (0 = never: a worker has nothing else to do). */
    maxAttempts: z.number().int().nonnegative(),
    /** One HTTP request (headers, or a stall between body chunks) may take this long. 30 s: TCG guests are slow. */
    requestTimeoutMs: z.number().int().positive(),
    /** Downloaded layers live here (a tmpfs that is moved into the new root with /run). */
    layerDir: z.string().min(1),
    /**
     * The signed manifest with chunk hashes, kept beside the layers after a chunked fetch: the
     * run-mode agent serves the layers' chunks from it (docs/layers.md). Outside layerDir, so
     * it can never be taken for a layer file.
     */
    layerManifestFile: z.string().min(1),
    /** SquashFS mount points and the tmpfs upper of the overlay. */
    stackDir: z.string().min(1),
    /** The agent's HTTP API port in run mode (other agents and `shoal status` use it). */
    apiPort: z.number().int().min(1).max(65535),
    /** Failure domain published by this node (rack / host group). */
    domain: z.string().min(1).max(64),
    /** Deadline for one peer's known fingerprints (shoal.peers=): a LAN agent answers in ms; a dead one must not hold up the boot. 3 s. */
    peerTimeoutMs: z.number().int().positive(),
    /** A peer's answer larger than this is dropped: 32 MiB holds ~10,000 nodes with full 64-entry digests (~1.5-3 KiB each). */
    peerAnswerMaxBytes: z.number().int().positive(),
  })
  .strict()
export type BootConfig = z.infer<typeof BootConfig>

export const bootDefaults: Readonly<BootConfig> = Object.freeze({
  retryInitialMs: 1000,
  retryMaxMs: 15_000,
  retryFactor: 2,
  retryJitter: 0.2,
  maxAttempts: 0,
  requestTimeoutMs: 30_000,
  layerDir: '/run/shoal/layers',
  layerManifestFile: '/run/shoal/layers.manifest.json',
  stackDir: '/run/shoal/stack',
  apiPort: 7400,
  domain: 'default',
  peerTimeoutMs: 3000,
  peerAnswerMaxBytes: 32 * 1024 * 1024,
})
