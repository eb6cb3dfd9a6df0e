/**
 * The roster: which (node id, public key) pairs belong to the cluster. A static list for
 * now; enrollment (coordinator) produces it from signed certificates later. Both
 * directions are looked up on every inbound connection and record, so both are maps.
 */
import { z } from 'zod'
import { NodeId, PublicKeyHex } from './node-record.js'
import { OperatorEntry } from './shell-grant.js'

export const RosterEntry = z.object({ id: NodeId, key: PublicKeyHex }).strict()
export type RosterEntry = z.infer<typeof RosterEntry>
export const RosterFile = z
  .object({
    cluster: z.string().min(1).max(64),
    members: z.array(RosterEntry).max(100000),
    /** Operators whose keys sign shell grants (agent/protocol/shell-grant.ts); absent = none. */
    operators: z.array(OperatorEntry).max(1000).optional(),
  })
  .strict()
export type RosterFile = z.infer<typeof RosterFile>

/** The coordinator's member id in every roster: its key signs waves and wave control. Hardware ids never take it. */
export const COORDINATOR_MEMBER_ID = 'coordinator'

export class Roster {
  private readonly byId = new Map<string, string>()
  private readonly byKey = new Map<string, string>()
  /** Operators the roster lists (replaced whole when the roster file changes: removals count). */
  operators: readonly OperatorEntry[] = []
  constructor(entries: Iterable<RosterEntry> = [], operators: readonly OperatorEntry[] = []) {
    for (const e of entries) this.add(e)
    this.operators = operators
  }
  add(e: RosterEntry): void {
    this.byId.set(e.id, e.key)
    this.byKey.set(e.key, e.id)
  }
  keyOf(id: string): string | undefined {
    return this.byId.get(id)
  }
  idOf(key: string): string | undefined {
    return this.byKey.get(key)
  }
  /** The record's claimed key must be the one the roster holds for its id. */
  admits(id: string, key: string): boolean {
    return this.byId.get(id) === key
  }
  ids(): string[] {
    return [...this.byId.keys()]
  }
  get size(): number {
    return this.byId.size
  }
}
