/**
 * Hardware components as identity evidence: what kinds exist, how each is normalised,
 * which group it votes in and how much it weighs. The algorithm that uses these lives in
 * resolve-identity.ts; the full explanation is in docs/identity.md.
 */

/**
 * - uuid:    SMBIOS system UUID (/sys/class/dmi/id/product_uuid)
 * - sys:     system (product) serial — Dell service tag, HPE serial, ...
 * - board:   baseboard serial
 * - chassis: chassis serial
 * - wwn:     one disk by its registered world-wide name (naa.*, eui.*, nvme.* — unique by construction)
 * - disk:    one disk by its serial (or a t10.* id, which is vendor + model + serial)
 * - nic:     one physical NIC: its permanent MAC
 * - dimm:    one memory module: manufacturer/serial (SMBIOS type 17)
 * - ppin:    one CPU package's Protected Processor Inventory Number
 * - cpu:     the CPU model string (weak: thousands of machines share it)
 */
export const COMPONENT_KINDS = ['uuid', 'sys', 'board', 'chassis', 'wwn', 'disk', 'nic', 'dimm', 'ppin', 'cpu'] as const
export type ComponentKind = (typeof COMPONENT_KINDS)[number]

const KIND_SET: ReadonlySet<string> = new Set(COMPONENT_KINDS)
export function isComponentKind(s: string): s is ComponentKind {
  return KIND_SET.has(s)
}

/** One identity value as a collector found it (before any junk screening). */
export interface Component {
  kind: ComponentKind
  /** The value as read (trimmed); screening normalises it further. */
  value: string
  /** Where it came from, for `shoal fingerprint`: e.g. "sysfs:class/dmi/id/product_serial". */
  source: string
  /** Human label: the device name or slot ("sda", "eth0", "DIMM_A1"). */
  label?: string
}

/** Groups vote together: each group scores the share of its weight that matches. */
export type ComponentGroup = 'disks' | 'board' | 'nics' | 'memory' | 'cpu'

export const KIND_GROUP: Readonly<Record<ComponentKind, ComponentGroup>> = Object.freeze({
  uuid: 'board',
  sys: 'board',
  board: 'board',
  chassis: 'board',
  wwn: 'disks',
  disk: 'disks',
  nic: 'nics',
  dimm: 'memory',
  ppin: 'cpu',
  cpu: 'cpu',
})

/**
 * Group weights (sum 1). Disks weigh half: the node's Ceph OSDs live on them, so where the
 * disks go, the node (CRUSH host) goes. Board-level ids next; NICs and DIMMs are the parts
 * operators swap most; the CPU model is barely evidence at all.
 */
export const GROUP_WEIGHT: Readonly<Record<ComponentGroup, number>> = Object.freeze({
  disks: 0.5,
  board: 0.2,
  nics: 0.15,
  memory: 0.1,
  cpu: 0.05,
})

/**
 * Weight of one component inside its group. The DMI uuid and system serial identify the
 * machine best; the chassis serial is often copied from the system serial; a PPIN is
 * unique per CPU package whereas a CPU model is shared by a whole fleet.
 */
export const KIND_WEIGHT: Readonly<Record<ComponentKind, number>> = Object.freeze({
  uuid: 3,
  sys: 3,
  board: 2,
  chassis: 1,
  wwn: 1,
  disk: 1,
  nic: 1,
  dimm: 1,
  ppin: 4,
  cpu: 1,
})

/** Weak kinds count in the score but never as one of the independent matches a keep needs. */
export const WEAK_KINDS: ReadonlySet<ComponentKind> = new Set<ComponentKind>(['cpu'])

/**
 * A registered disk WWN is unique by construction and carries the node's Ceph OSD: one
 * such match counts as two independent ones (a single-disk machine keeps its id when its
 * board is replaced). A bare serial can be reused by a sloppy vendor, so it counts once.
 */
export const DOUBLE_EVIDENCE_KINDS: ReadonlySet<ComponentKind> = new Set<ComponentKind>(['wwn'])

/** Board-level kinds: they all come from one SMBIOS table, so they change together. */
export const BOARD_KINDS: ReadonlySet<ComponentKind> = new Set<ComponentKind>(['uuid', 'sys', 'board', 'chassis'])

/**
 * Canonical form of a value, so one part read twice (or by two tools) compares equal:
 * NULs and control characters removed, whitespace collapsed, lower case; MACs as
 * aa:bb:cc:dd:ee:ff; uuids as lower-case 8-4-4-4-12.
 */
export function normalizeValue(kind: ComponentKind, raw: string): string {
  // eslint-disable-next-line no-control-regex
  let v = raw.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/\s+/g, ' ').trim().toLowerCase()
  if (kind === 'nic') {
    const hex = v.replace(/[^0-9a-f]/g, '')
    if (/^[0-9a-f]{12}$/.test(hex) && /^[0-9a-f]{2}([:-]?[0-9a-f]{2}){5}$/.test(v)) v = hex.match(/../g)!.join(':')
  } else if (kind === 'uuid') {
    const hex = v.replace(/[{}-]/g, '')
    if (/^[0-9a-f]{32}$/.test(hex)) v = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  }
  return v
}
