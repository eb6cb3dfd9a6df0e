/**
 * Ports: the only ways the pure core touches the world. Production adapters live in
 * agent/main.ts and agent/mesh; the simulator supplies virtual ones (sim/engine).
 * Everything in agent/protocol receives these; nothing here reads Date.now, timers,
 * Math.random or does IO.
 */

/** Milliseconds since the Unix epoch. Monotone per process in production; virtual in sim. */
export interface Clock {
  /** Never blocks, may be called any number of times. */
  now(): number
}

/** Seeded randomness. The simulator uses one seeded stream per run, so runs reproduce. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number
  /** Uniform integer in [0, n). */
  int(n: number): number
}

/**
 * Signing with this node's key and checking other nodes' signatures.
 * Production: ed25519 (agent/protocol/ed25519.ts). Sim: a cheap keyed digest with the
 * same accept/reject behaviour, so 1000 simulated nodes stay fast. Synchronous, re-entrant.
 */
export interface Keyring {
  /** This node's public key, hex. */
  readonly publicKey: string
  sign(data: Uint8Array): Uint8Array
  verify(publicKeyHex: string, data: Uint8Array, signature: Uint8Array): boolean
}

/**
 * Durable key/value storage (level in production, a Map in sim). Async: the driver awaits
 * `persist` effects before it carries out any later effect of the same step, so a vote
 * is on disk before it is sent.
 */
export interface Store {
  get(key: string): Promise<Uint8Array | undefined>
  put(key: string, value: Uint8Array): Promise<void>
  del(key: string): Promise<void>
}

/** Structured logging (pino in production). Log changes of state, not ticks. */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/** Reboots the machine (production: a real reboot; sim: the node stops and boots again). */
export interface Rebooter {
  reboot(reason: string): Promise<void>
  /** Powers the machine off (a node verb's shutdown); absent: this rebooter cannot, and the step fails. */
  powerOff?(reason: string): Promise<void>
}

/** A health probe (kubelet, Kubernetes node, Ceph). Must enforce its own timeout. */
export interface Probe<T> {
  readonly name: string
  run(): Promise<T>
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
}
