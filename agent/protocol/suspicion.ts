/**
 * Lifeguard's suspicion timeout: long when only one node suspects (it may be the slow
 * one), shrinking toward the minimum as independent confirmations arrive.
 *   min = alpha * log10(max(N, 10)) * probeInterval
 *   max = beta * min
 *   timeout(C) = max(min, max - (max - min) * log(C + 1) / log(K + 1))
 */
export function suspicionTimeoutMs(opts: {
  clusterSize: number
  probeIntervalMs: number
  minMult: number
  maxMult: number
  confirmationsWanted: number
  confirmations: number
}): number {
  const min = opts.minMult * Math.log10(Math.max(opts.clusterSize, 10)) * opts.probeIntervalMs
  const max = opts.maxMult * min
  const frac = Math.log(opts.confirmations + 1) / Math.log(opts.confirmationsWanted + 1)
  return Math.max(min, Math.round(max - (max - min) * Math.min(1, frac)))
}
