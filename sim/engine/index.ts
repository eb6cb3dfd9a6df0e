/** The deterministic simulator: see docs/sim.md and simulation.ts. */
export * from './rng.js'
export * from './event-queue.js'
export * from './latency.js'
export * from './network.js'
export * from './sim-keyring.js'
export * from './simulation.js'
export * from './knowledge.js'
export * from './mesh-cluster.js'
