/**
 * A wave's K: how many nodes may be unavailable (rebooting) at once. One name end to end —
 * `--max-unavailable` on the CLI, `maxUnavailable` in the coordinator's API, its stored
 * waves and its status answers — validated once where it enters (this schema, at the HTTP
 * boundary) and carried from there as the branded MaxUnavailable, so an unchecked number
 * cannot pass for it. On the mesh a signed wave carries it as `slots` (vote-messages.ts
 * WaveMsg): a wire field name, kept as it is within protocol major 1 so older agents read
 * new waves.
 */
import { z } from 'zod'

/** More than any wave needs; the vote keeps one slot record per unit of K. */
export const MAX_UNAVAILABLE_LIMIT = 1024

/** The range alone, for the wire schema whose field stays a plain number (WaveMsg.slots). */
export const MaxUnavailableRange = z
  .number()
  .int({ error: (i) => `maxUnavailable must be a whole number (got ${String(i.input)}): it is how many nodes may reboot at once` })
  .min(1, { error: (i) => `maxUnavailable must be at least 1 (got ${String(i.input)}): it is how many nodes may reboot at once` })
  .max(MAX_UNAVAILABLE_LIMIT, { error: (i) => `maxUnavailable must be at most ${MAX_UNAVAILABLE_LIMIT} (got ${String(i.input)})` })

/** K as the coordinator carries it: checked once, then typed. */
export const MaxUnavailable = MaxUnavailableRange.brand<'MaxUnavailable'>()
export type MaxUnavailable = z.infer<typeof MaxUnavailable>
