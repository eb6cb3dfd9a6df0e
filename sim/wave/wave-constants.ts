/** Names and instants every part of the wave simulator agrees on. */

/** The coordinator's node id. */
export const COORDINATOR = 'coord'
/** Simulated time 0, as the nodes' clocks read it (before drift and offset). */
export const EPOCH = Date.UTC(2026, 0, 1)
/** When the coordinator publishes the wave (the cluster runs a while first). */
export const WAVE_START_MS = 10_000
/** The image every node runs before the wave, and the wave's target. */
export const OLD = 'v1'
export const TARGET = 'v2'
