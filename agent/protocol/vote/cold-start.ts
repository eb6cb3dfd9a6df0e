/**
 * Cold start: a wave asked for moments after the cluster powered on. A member relearns its
 * promises when its vote began within maxClockSkewMs of the wave's start (it may have voted
 * in that wave in a life it forgot); if every member did, all relearn from one another and
 * none has whole memory to answer: the wave never starts (seen live: three agents
 * abstaining for 150 s). So the coordinator's vote publishes a wave no earlier than the
 * newest member's boot second + BOOT_SLACK_MS + maxClockSkewMs (operator.ts) — a wait of
 * seconds at most — and no member up now can take itself for a forgetful one. Members that
 * boot after the start relearn, as they must.
 */

/**
 * The gap between a process's mesh incarnation (its boot second, on its record) and the
 * moment its upgrade agent took as the start of its vote's memory (the agent's own start:
 * seconds on a slow machine).
 */
export const BOOT_SLACK_MS = 5000

/**
 * The earliest a wave may start (its startedAt, coordinator clock) so that no member that
 * is up now relearns: after each boot second (a record's incarnation; refutations bump it,
 * which only makes this later) + BOOT_SLACK_MS + maxClockSkewMs. 0 when nothing is known.
 */
export function waveStartNotBefore(bootSeconds: readonly number[], maxClockSkewMs: number): number {
  const newest = Math.max(0, ...bootSeconds)
  return newest === 0 ? 0 : (newest + 1) * 1000 + BOOT_SLACK_MS + maxClockSkewMs + 1
}

/**
 * How long the coordinator holds a wave back at most: a boot second further ahead than this
 * is not a member that just powered on (a clock far off, a refuted incarnation) and does not
 * hold the wave for longer.
 */
export function coldStartHoldMaxMs(maxClockSkewMs: number): number {
  return maxClockSkewMs + BOOT_SLACK_MS + 2000
}
