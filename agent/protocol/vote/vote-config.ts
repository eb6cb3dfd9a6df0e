/**
 * Vote timing. Every field has its unit in its name and a reason. Nothing here is a lease
 * timeout: no lease ever frees itself on a timer. These only pace retries and bound how
 * long one vote collection lasts, which is what makes the quiet period after a boot safe.
 */
import { z } from 'zod'
import { ShoalError } from '../errors.js'

export const VoteConfig = z
  .object({
    /** A candidate counts votes for (slot, term) this long, then withdraws. 2 s: LAN round trips are ~1 ms; room for a few re-sends under loss. */
    collectMs: z.number().int().positive(),
    /** Re-send the request to voters that have not answered, this often. 250 ms: several tries inside one collection. */
    resendMs: z.number().int().positive(),
    /** After a withdraw (not the leader), wait this long before asking again, so the term's leader goes first. */
    retryMs: z.number().int().positive(),
    /** Clock rate error bound between nodes (ratio). 1e-3: far above NTP-less crystal drift (~5e-5). */
    maxDriftRatio: z.number().nonnegative().max(0.1),
    /** Clock offset bound between nodes, for "booted before the wave started". 5 s: provisioning LANs run NTP off the controller. */
    maxClockSkewMs: z.number().int().nonnegative(),
    /** Longest delivery of a message we rely on (a vote arriving late). 1 s on a LAN. */
    maxDeliveryMs: z.number().int().nonnegative(),
    /**
     * A node that lost its memory (booted from RAM) abstains this long, then asks for
     * promises. Must exceed the longest collection, stretched by drift, plus a delivery:
     * by then every collection its forgotten votes fed has ended.
     */
    quietMs: z.number().int().positive(),
    /** Ask again for promises this often until enough members answered. */
    syncRetryMs: z.number().int().positive(),
    /**
     * A promise or grant unresolved this long makes the node ask its candidate whether it is
     * over (doubling each time, capped at 16x): the backstop when a release was lost.
     * 600 s: longer than most reboot cycles, so it rarely costs a message; a request for a
     * slot we are promised elsewhere asks at once (demand-driven), so this is only the floor.
     */
    staleQueryMs: z.number().int().positive(),
  })
  .strict()
export type VoteConfig = z.infer<typeof VoteConfig>

export const defaultVoteConfig: Readonly<VoteConfig> = Object.freeze({
  collectMs: 2000,
  resendMs: 250,
  retryMs: 500,
  maxDriftRatio: 1e-3,
  maxClockSkewMs: 5000,
  maxDeliveryMs: 1000,
  quietMs: 4000,
  syncRetryMs: 1000,
  staleQueryMs: 600_000,
})

/** The shortest quiet period that is still safe for `c`. */
export function minQuietMs(c: Pick<VoteConfig, 'collectMs' | 'maxDriftRatio' | 'maxDeliveryMs'>): number {
  return Math.ceil((c.collectMs * (1 + c.maxDriftRatio)) / (1 - c.maxDriftRatio)) + c.maxDeliveryMs
}

/** Merges overrides onto the defaults, validates, and refuses an unsafe quiet period. */
export function voteConfig(overrides: Partial<VoteConfig> = {}): VoteConfig {
  const c = VoteConfig.parse({ ...defaultVoteConfig, ...overrides })
  if (c.quietMs <= minQuietMs(c)) {
    throw new ShoalError('config', `vote quietMs (${c.quietMs}) must exceed ${minQuietMs(c)} ms (the longest vote collection plus a delivery); raise quietMs or lower collectMs`)
  }
  return c
}
