/**
 * What every part of one MeshNode shares: its id, config and ports, the effects of the
 * step in progress, its counters, and how it reports bad input. The parts (membership,
 * probing, overlay, dissemination, anti-entropy, app broadcasts) each own their state and
 * write their effects here; MeshNode hands the list back at the end of the step.
 */
import { DropReason } from './errors.js'
import type { MeshConfig } from './mesh-config.js'
import type { MeshEffect, MeshEvent } from './mesh-types.js'
import type { OutMessage } from './messages.js'
import type { Keyring, Logger, Rng } from './ports.js'
import type { Roster } from './roster.js'

/** Message types of a newer minor version counted by name; past this many, as `other`. */
const MAX_IGNORED_TYPES = 64

/**
 * A node is catching up while it knows fewer than half the roster: it has just started, or
 * the whole cluster has. Its links come up together and nearly everything is news, so it
 * greets one link at a time (anti-entropy-rounds.ts) and keeps few eager links (dissemination.ts).
 */
export function catchingUp(known: number, rosterSize: number): boolean {
  return known * 2 < rosterSize
}

export class MeshContext {
  /** Dropped input by reason, plus a few activity counts; served by /v1/self. */
  readonly counters: Record<string, number> = {}
  /** The effects of the step in progress, in the order they must be carried out. */
  out: MeshEffect[] = []
  private readonly badFrames = new Map<string, number>()
  private readonly ignoredTypes = new Set<string>()

  constructor(
    readonly id: string,
    readonly cfg: MeshConfig,
    readonly roster: Roster,
    readonly keyring: Keyring,
    readonly rng: Rng,
    readonly log: Logger,
    /** Closes the link to a peer that keeps sending bad input (the overlay's job). */
    private readonly cutOff: (peer: string) => void,
  ) {}

  send(to: string, msg: OutMessage): void {
    this.out.push({ type: 'send', to, msg })
  }

  emit(event: MeshEvent): void {
    this.out.push({ type: 'event', event })
  }

  effect(e: MeshEffect): void {
    this.out.push(e)
  }

  count(name: string, by = 1): number {
    return (this.counters[name] = (this.counters[name] ?? 0) + by)
  }

  /** Bad input from `from`: counted, logged on the peer's first offence, and held against it. */
  drop(from: string, reason: string, detail: string): void {
    this.count(`dropped.${reason}`)
    const n = (this.badFrames.get(from) ?? 0) + 1
    this.badFrames.set(from, n)
    // Log the first offence of a peer, then only when it is cut off: a noisy peer must not flood logs.
    if (n === 1) this.log.warn({ component: 'mesh', node: this.id, peer: from, reason, detail }, 'dropped bad input')
    this.emit({ type: 'dropped', from, reason, detail })
    if (n === this.cfg.maxBadFramesPerPeer) this.cutOff(from)
  }

  /**
   * An implausible incarnation is counted and logged, but not held against the peer that
   * passed it on: a signed claim travels through honest relays, whose clocks may differ.
   */
  dropImplausible(from: string, detail: string): void {
    const reason = DropReason.implausibleIncarnation
    const n = this.count(`dropped.${reason}`)
    if (n === 1) this.log.warn({ component: 'mesh', node: this.id, peer: from, reason, detail }, 'dropped an implausible incarnation')
    this.emit({ type: 'dropped', from, reason, detail })
  }

  /**
   * A message type (or update kind) of a newer minor version: counted by type and ignored,
   * never held against the peer. Logged once per type.
   */
  ignoreType(from: string, type: string): void {
    const known = this.ignoredTypes.has(type)
    if (!known && this.ignoredTypes.size >= MAX_IGNORED_TYPES) return void this.count('ignored-type.other')
    this.ignoredTypes.add(type)
    if (this.count(`ignored-type.${type}`) === 1) this.log.info({ component: 'mesh', node: this.id, peer: from, type }, 'ignoring a message type this version does not know (a newer minor version)')
  }
}
