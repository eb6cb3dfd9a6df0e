/**
 * Hardware inventory: the Inventory schema, `collectInventory()` (systeminformation in a
 * child process with a deadline, merged with /sys; never throws for the machine's sake)
 * and `summarizeInventory()` (the InventorySummary that travels in the NodeRecord).
 * agent/api serves `GET /v1/nodes/{id}/inventory` as `InventoryResponse`.
 */
export { Inventory, MemoryModule, Disk, Nic, Gpu, INVENTORY_VERSION, INVENTORY_SECTIONS, emptyInventory } from './inventory.js'
export { collectInventory, type CollectInventoryOptions } from './collect-inventory.js'
export { inventoryFromSysfs } from './inventory-from-sysfs.js'
export { summarizeInventory } from './summarize-inventory.js'
export { InventoryResponse } from './inventory-response.js'
export { InventoryCache, type InventoryCacheOptions } from './inventory-cache.js'
export { componentsFromInventory } from './inventory-components.js'
