/**
 * This node's inventory, collected at most once per `maxAgeMs` and never twice at once:
 * what agent/api's InventoryProvider should wrap, so a burst of GET /v1/nodes/{self}/inventory
 * costs one systeminformation run, and the answer says how old it is.
 */
import type { Clock } from '../protocol/ports.js'
import type { Inventory } from './inventory.js'

export interface InventoryCacheOptions {
  collect: () => Promise<Inventory>
  clock: Clock
  /** Hardware does not change while a node runs; 10 min keeps link states and speeds fresh enough. */
  maxAgeMs?: number
}

export class InventoryCache {
  private current: { inventory: Inventory; at: number } | undefined
  private inflight: Promise<{ inventory: Inventory; at: number }> | undefined
  constructor(private readonly opts: InventoryCacheOptions) {}

  /** The cached inventory if young enough, else a fresh one (one collection for all callers). */
  async get(): Promise<{ inventory: Inventory; ageMs: number }> {
    const now = this.opts.clock.now()
    if (this.current && now - this.current.at < (this.opts.maxAgeMs ?? 600_000)) return { inventory: this.current.inventory, ageMs: now - this.current.at }
    this.inflight ??= this.opts
      .collect()
      .then((inventory) => (this.current = { inventory, at: this.opts.clock.now() }))
      .finally(() => (this.inflight = undefined))
    const fresh = await this.inflight
    return { inventory: fresh.inventory, ageMs: Math.max(0, this.opts.clock.now() - fresh.at) }
  }

  /** Drops the cached copy (e.g. after a hot-plug event). */
  invalidate(): void {
    this.current = undefined
  }
}
