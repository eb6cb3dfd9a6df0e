/**
 * Values vendors ship instead of a real identity: BIOS placeholders ("To Be Filled By
 * O.E.M.", "Default string"), counting sequences, one character repeated, all-zero or
 * all-F uuids, multicast/zero MACs. A junk value identifies nothing and two machines can
 * share it, so it never takes part in identity. (Values that are merely shared by many
 * machines of the known fleet are screened in resolve-identity.ts: that needs the fleet.)
 */
import { normalizeValue, type ComponentKind } from './component.js'

/** Exact placeholders (compared after normalisation: lower case, collapsed spaces). */
const PLACEHOLDERS = new Set(
  [
    'to be filled by o.e.m.', 'to be filled by o.e.m', 'to be filled by oem', 'filled by oem', 'fill by oem',
    'default string', 'default', 'system serial number', 'system product name', 'system manufacturer',
    'base board serial number', 'baseboard serial number', 'chassis serial number', 'serial number', 'serial',
    'serialnumber', 'sernum0', 'sernum1', 'sernum00000000', 'none', 'n/a', 'na', 'not specified', 'not available',
    'not applicable', 'not present', 'no dimm', 'unknown', 'empty', 'invalid', 'oem', 'o.e.m.', 'null', 'nil',
    'undefined', 'unspecified', 'type1productconfigid', 'type2 - board serial number', 'chassis serial',
    'xxxxxxxxxx', 'xxxxxxxx', 'unknow', 'to be filled', 'please change', 'change me', 'standard', '-',
    '0123456789', '1234567890', '123456789', '12345678', '01234567', '0123456789abcdef', 'abcdef',
    // Widely reported shared DMI uuids: AMI's default and the Supermicro/ASRock sequence.
    '03000200-0400-0500-0006-000700080009', '00020003-0004-0005-0006-000700080009',
    '01234567-8901-2345-6789-012345678901',
  ].map((s) => s.toLowerCase()),
)

/** Substrings that only a placeholder contains. */
const PLACEHOLDER_PARTS = ['o.e.m', 'filled by', 'default string', 'serial number', 'system product', 'not specified', 'to be filled']

/**
 * Returns why a value is junk for this kind, or undefined when it may identify a part.
 * `value` may be raw: it is normalised first.
 */
export function junkReason(kind: ComponentKind, value: string): string | undefined {
  let v = normalizeValue(kind, value)
  // A memory module is "manufacturer/serial": the serial is what must look real.
  if (kind === 'dimm' && v.includes('/')) v = v.slice(v.lastIndexOf('/') + 1).trim()
  if (v === '') return 'empty'
  if (kind === 'cpu') return undefined // a model name is weak by kind, never junk by shape
  if (PLACEHOLDERS.has(v)) return 'vendor placeholder'
  if (PLACEHOLDER_PARTS.some((p) => v.includes(p))) return 'vendor placeholder'
  if (kind === 'nic') return macJunk(v)
  const compact = v.replace(/[\s\-_.:/]/g, '')
  if (compact.length < 4) return 'too short to be unique'
  // A uuid is mostly zeros when a vendor embeds a MAC in it (Supermicro): judge what is left.
  if (kind === 'uuid') return compact.replace(/[0f]/g, '').length < 4 ? 'placeholder uuid' : isCountingRun(compact) ? 'counting sequence' : undefined
  if (new Set(compact).size <= 2) return 'one character repeated'
  if (oneCharShare(compact) >= 0.7) return 'mostly one character repeated'
  if (isCountingRun(compact)) return 'counting sequence'
  return undefined
}

export function isJunkValue(kind: ComponentKind, value: string): boolean {
  return junkReason(kind, value) !== undefined
}

function macJunk(mac: string): string | undefined {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) {
    // InfiniBand (20 bytes) and other link types: accept anything long enough and not all one byte.
    const hex = mac.replace(/[^0-9a-f]/g, '')
    if (hex.length < 12) return 'not a hardware address'
    return new Set(hex).size <= 1 ? 'all-zero or all-F address' : undefined
  }
  const hex = mac.replace(/:/g, '')
  if (/^0+$/.test(hex) || /^f+$/.test(hex)) return 'all-zero or all-F address'
  if (parseInt(hex.slice(0, 2), 16) & 1) return 'multicast address'
  return undefined
}

/** Share of the most frequent character. */
const COUNTS = new Uint32Array(65536) // reused: reset after each call
function oneCharShare(s: string): number {
  let max = 0
  for (let i = 0; i < s.length; i++) {
    const n = ++COUNTS[s.charCodeAt(i)]!
    if (n > max) max = n
  }
  for (let i = 0; i < s.length; i++) COUNTS[s.charCodeAt(i)] = 0
  return s.length === 0 ? 1 : max / s.length
}

/** "123456789", "0123456789ab", "987654321": a keyboard run, not a serial. */
const RUN_UP = '0123456789abcdefghijklmnopqrstuvwxyz'
const RUN_DOWN = RUN_UP.split('').reverse().join('')
function isCountingRun(s: string): boolean {
  return s.length >= 6 && (RUN_UP.includes(s) || '1234567890'.includes(s) || RUN_DOWN.includes(s))
}
