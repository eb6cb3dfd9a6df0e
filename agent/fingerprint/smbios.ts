/**
 * A tiny reader of raw SMBIOS structures, as the kernel exposes them in
 * /sys/firmware/dmi/entries/<type>-<n>/raw. The initramfs has no dmidecode, so memory
 * module serials (type 17) and the processor version (type 4) are decoded here.
 * Pure and defensive: a truncated or garbled structure yields undefined, never a throw.
 */

/** One decoded structure: the formatted area and its string set (1-based in SMBIOS). */
export interface SmbiosStructure {
  type: number
  formatted: Uint8Array
  strings: string[]
}

export function parseSmbiosStructure(raw: Uint8Array): SmbiosStructure | undefined {
  if (raw.length < 4) return undefined
  const length = raw[1]!
  if (length < 4 || length > raw.length) return undefined
  const formatted = raw.subarray(0, length)
  const strings: string[] = []
  let i = length
  let start = i
  while (i < raw.length) {
    if (raw[i] === 0) {
      if (i === start) break // double NUL (or an empty set) ends the strings
      strings.push(Buffer.from(raw.subarray(start, i)).toString('latin1'))
      start = i + 1
    }
    i++
  }
  return { type: raw[0]!, formatted, strings }
}

function str(s: SmbiosStructure, offset: number): string | undefined {
  if (offset >= s.formatted.length) return undefined
  const idx = s.formatted[offset]!
  if (idx === 0) return undefined
  return s.strings[idx - 1]?.trim() || undefined
}

function word(s: SmbiosStructure, offset: number): number | undefined {
  if (offset + 1 >= s.formatted.length) return undefined
  return s.formatted[offset]! | (s.formatted[offset + 1]! << 8)
}

function dword(s: SmbiosStructure, offset: number): number | undefined {
  if (offset + 3 >= s.formatted.length) return undefined
  return (s.formatted[offset]! | (s.formatted[offset + 1]! << 8) | (s.formatted[offset + 2]! << 16)) + s.formatted[offset + 3]! * 2 ** 24
}

export interface MemoryDevice {
  locator?: string
  bank?: string
  sizeBytes?: number
  /** false when the slot is empty (size 0). */
  populated: boolean
  speedMTs?: number
  manufacturer?: string
  serial?: string
  part?: string
}

/** SMBIOS type 17 (Memory Device). */
export function parseMemoryDevice(raw: Uint8Array): MemoryDevice | undefined {
  const s = parseSmbiosStructure(raw)
  if (!s || s.type !== 17 || s.formatted.length < 0x15) return undefined
  const size = word(s, 0x0c)
  let sizeBytes: number | undefined
  if (size === undefined || size === 0xffff) sizeBytes = undefined
  else if (size === 0x7fff) {
    const ext = dword(s, 0x1c)
    sizeBytes = ext === undefined ? undefined : (ext & 0x7fffffff) * 2 ** 20
  } else sizeBytes = size & 0x8000 ? (size & 0x7fff) * 1024 : size * 2 ** 20
  const speed = word(s, 0x15)
  return {
    locator: str(s, 0x10),
    bank: str(s, 0x11),
    sizeBytes,
    populated: size !== 0,
    speedMTs: speed && speed !== 0xffff ? speed : undefined,
    manufacturer: str(s, 0x17),
    serial: str(s, 0x18),
    part: str(s, 0x1a),
  }
}

export interface ProcessorInfo {
  manufacturer?: string
  version?: string
  serial?: string
  populated: boolean
}

/** SMBIOS type 4 (Processor Information). */
export function parseProcessor(raw: Uint8Array): ProcessorInfo | undefined {
  const s = parseSmbiosStructure(raw)
  if (!s || s.type !== 4 || s.formatted.length < 0x1a) return undefined
  const status = s.formatted[0x18] ?? 0
  return { manufacturer: str(s, 0x07), version: str(s, 0x10), serial: str(s, 0x20), populated: (status & 0x40) !== 0 }
}

/** Builds a raw structure (the inverse of parsing), for fake /sys trees and tests. */
export function encodeSmbiosStructure(type: number, formattedLength: number, fields: Record<number, number | string>, wordFields: Record<number, number> = {}): Uint8Array {
  const formatted = new Uint8Array(formattedLength)
  formatted[0] = type
  formatted[1] = formattedLength
  const strings: string[] = []
  for (const [off, v] of Object.entries(fields)) {
    const o = Number(off)
    if (typeof v === 'string') {
      strings.push(v)
      formatted[o] = strings.length
    } else formatted[o] = v
  }
  for (const [off, v] of Object.entries(wordFields)) {
    formatted[Number(off)] = v & 0xff
    formatted[Number(off) + 1] = (v >> 8) & 0xff
  }
  const tail = strings.length ? Buffer.concat([...strings.map((s) => Buffer.from(s + '\0', 'latin1')), Buffer.from([0])]) : Buffer.from([0, 0])
  return new Uint8Array(Buffer.concat([Buffer.from(formatted), tail]))
}

/** A type 17 structure for a module, for fake /sys trees and tests. */
export function encodeMemoryDevice(m: { locator: string; sizeMiB: number; manufacturer?: string; serial?: string; part?: string; speedMTs?: number }): Uint8Array {
  const fields: Record<number, number | string> = { 0x10: m.locator }
  if (m.manufacturer) fields[0x17] = m.manufacturer
  if (m.serial) fields[0x18] = m.serial
  if (m.part) fields[0x1a] = m.part
  const words: Record<number, number> = { 0x0c: m.sizeMiB >= 0x7fff ? 0x7fff : m.sizeMiB, 0x15: m.speedMTs ?? 0 }
  const raw = encodeSmbiosStructure(17, 0x28, fields, words)
  if (m.sizeMiB >= 0x7fff) {
    raw[0x1c] = m.sizeMiB & 0xff
    raw[0x1d] = (m.sizeMiB >> 8) & 0xff
    raw[0x1e] = (m.sizeMiB >> 16) & 0xff
    raw[0x1f] = (m.sizeMiB >>> 24) & 0x7f
  }
  return raw
}

/** A type 4 structure, for fake /sys trees and tests. */
export function encodeProcessor(p: { manufacturer?: string; version: string; serial?: string }): Uint8Array {
  const fields: Record<number, number | string> = { 0x10: p.version, 0x18: 0x41 }
  if (p.manufacturer) fields[0x07] = p.manufacturer
  if (p.serial) fields[0x20] = p.serial
  return encodeSmbiosStructure(4, 0x30, fields)
}
