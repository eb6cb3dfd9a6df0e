/** What one simulated wave reports, and how it is run. */
import type { WaveViolation } from './invariant-checker.js'
import type { WaveWorld } from './wave-world.js'

export interface WaveResult {
  seed: number
  completed: boolean
  makespanMs: number | undefined
  lowerBoundMs: number
  ratio: number | undefined
  leases: number
  voteMessages: number
  messagesByKind: Record<string, number>
  maxHolders: number
  maxUnavailable: number
  faults: string[]
  violation: WaveViolation | undefined
  /** The wave stopped short because of a fault that by design never heals (not a violation): why. */
  halted: string | undefined
  /** The coordinator's start check refused the wave, because it could never finish (not a violation): why. */
  refused: string | undefined
  trace: string[] | undefined
  events: number
  /** Times a holder's joint ok-to-stop (before noout, or right before its reboot) said no and it waited. */
  jointWaits: number
}

export interface WaveRunOptions {
  /** Keep the whole trace (for --trace and tests), not just the recent part. */
  fullTrace?: boolean
  /** Stop a run past this many events (a stuck run is a bug). Default 50 million. */
  maxEvents?: number
  /** Scripted faults instead of (or in addition to) the seeded schedule. */
  script?: (w: WaveWorld) => void
}

