/** The coordinator's own state (operator.ts): its announcements, and a wave held back at a cold start. */
import { Announcements } from './announcements.js'
import type { Unsigned, WaveMsg } from './vote-messages.js'

export interface HeldWave {
  wave: Omit<Unsigned<WaveMsg>, 'k' | 'v'>
  /** Publish at this time (cold-start.ts waveStartNotBefore). */
  at: number
}

export class OperatorState {
  readonly announcements = new Announcements()
  held: HeldWave | undefined
}
