/**
 * The full hardware inventory of one machine: what an operator wants to see when they ask
 * "what is in node X". Served on demand (GET /v1/nodes/{id}/inventory); only a summary
 * (summarize-inventory.ts) travels in the NodeRecord. Every field may be missing: a field
 * that could not be read is absent, and its section is named in `unknown` with the reason
 * in `warnings`. Parsed with zod wherever it crosses a process or network boundary.
 */
import { z } from 'zod'

const Str = z.string().max(256)
const Bytes = z.number().nonnegative()

export const MemoryModule = z
  .object({ slot: Str, sizeBytes: Bytes, type: Str, speedMTs: z.number().nonnegative(), manufacturer: Str, part: Str, serial: Str })
  .partial()
  .strict()
export type MemoryModule = z.infer<typeof MemoryModule>

export const Disk = z
  .object({
    name: Str,
    model: Str.optional(),
    vendor: Str.optional(),
    serial: Str.optional(),
    wwn: Str.optional(),
    sizeBytes: Bytes.optional(),
    rotational: z.boolean().optional(),
    type: z.enum(['HDD', 'SSD', 'NVMe', 'unknown']),
    interface: Str.optional(),
  })
  .strict()
export type Disk = z.infer<typeof Disk>

export const Nic = z
  .object({
    name: Str,
    mac: Str.optional(),
    /** The burned-in address, when the kernel knows it (bond slaves, unchanged MACs). */
    permanentMac: Str.optional(),
    speedMbps: z.number().nonnegative().optional(),
    link: z.enum(['up', 'down', 'unknown']),
  })
  .strict()
export type Nic = z.infer<typeof Nic>

export const Gpu = z.object({ vendor: Str, model: Str, vramMB: z.number().nonnegative(), bus: Str }).partial().strict()
export type Gpu = z.infer<typeof Gpu>

export const INVENTORY_VERSION = 1

export const Inventory = z
  .object({
    v: z.literal(INVENTORY_VERSION),
    /** When it was collected (ms since the epoch) and how long that took. */
    collectedAt: z.number().nonnegative(),
    durationMs: z.number().nonnegative(),
    hostname: Str.optional(),
    os: z.object({ distro: Str, release: Str, kernel: Str, arch: Str }).partial().strict().optional(),
    system: z.object({ vendor: Str, product: Str, version: Str, serial: Str, uuid: Str, sku: Str, virtual: z.boolean() }).partial().strict(),
    board: z.object({ vendor: Str, product: Str, version: Str, serial: Str }).partial().strict(),
    chassis: z.object({ vendor: Str, type: Str, serial: Str }).partial().strict(),
    bios: z.object({ vendor: Str, version: Str, date: Str }).partial().strict(),
    cpu: z
      .object({ vendor: Str, model: Str, sockets: z.number().int().nonnegative(), cores: z.number().int().nonnegative(), threads: z.number().int().nonnegative(), speedGHz: z.number().nonnegative() })
      .partial()
      .strict(),
    memory: z.object({ totalBytes: Bytes.optional(), modules: z.array(MemoryModule).max(256) }).strict(),
    disks: z.array(Disk).max(512),
    nics: z.array(Nic).max(256),
    gpus: z.array(Gpu).max(64),
    /** Sections (or fields) that could not be read: "memory.modules", "gpus", ... */
    unknown: z.array(Str).max(64),
    warnings: z.array(z.string().max(512)).max(64),
  })
  .strict()
export type Inventory = z.infer<typeof Inventory>

/** The sections `unknown` can name. */
export const INVENTORY_SECTIONS = ['os', 'system', 'board', 'chassis', 'bios', 'cpu', 'memory', 'memory.modules', 'disks', 'nics', 'gpus'] as const

/** An inventory with nothing known yet: the start of every collection. */
export function emptyInventory(collectedAt: number): Inventory {
  return { v: INVENTORY_VERSION, collectedAt, durationMs: 0, system: {}, board: {}, chassis: {}, bios: {}, cpu: {}, memory: { modules: [] }, disks: [], nics: [], gpus: [], unknown: [], warnings: [] }
}
