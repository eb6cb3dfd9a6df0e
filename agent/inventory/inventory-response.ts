/**
 * The body of `GET /v1/nodes/{id}/inventory` (served by agent/api): the inventory, how old
 * it is, and who answered — the node itself ("self") or another agent from its cache ("cache").
 */
import { z } from 'zod'
import { Inventory } from './inventory.js'

export const InventoryResponse = z
  .object({
    inventory: Inventory,
    /** Milliseconds since it was collected, at the moment of answering. */
    ageMs: z.number().nonnegative(),
    source: z.string().max(128),
  })
  .passthrough()
export type InventoryResponse = z.infer<typeof InventoryResponse>
