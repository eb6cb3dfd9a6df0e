/**
 * The whole identity step for one machine: read /sys, turn it into components, resolve
 * against the known fleet. What `shoal fingerprint` prints and what the boot agent (in the
 * initramfs) calls. Never throws for unreadable hardware; throws ShoalError('no-identity')
 * only when nothing identifies the machine and no fallback id was given.
 */
import type { Component } from './component.js'
import { componentsFromHardware } from './hardware-components.js'
import { readSysfsHardware, type ReadSysfsOptions, type SysfsHardware } from './read-sysfs.js'
import { resolveIdentity, type Candidate, type ComponentVerdict, type FleetIndex, type KnownFingerprint, type ResolveOptions } from './resolve-identity.js'

export interface CollectedComponents {
  components: Component[]
  skipped: { label: string; reason: string }[]
  unknown: string[]
  warnings: string[]
  hardware: SysfsHardware
}

/** Reads /sys (or a tree laid out like it) and returns every identity value found. */
export async function collectComponents(opts: ReadSysfsOptions = {}): Promise<CollectedComponents> {
  const hardware = await readSysfsHardware(opts)
  const { components, skipped } = componentsFromHardware(hardware)
  return { components, skipped, unknown: hardware.unknown, warnings: hardware.warnings, hardware }
}

/** The JSON of `shoal fingerprint -o json`; an array of these is what `--known` reads. */
export interface FingerprintReport {
  id: string
  decision: 'matched' | 'new' | 'operator'
  score?: number
  /** The component digest as published in the NodeRecord. */
  comps: string[]
  components: ComponentVerdict[]
  skipped: { label: string; reason: string }[]
  candidates: Candidate[]
  unknown: string[]
  warnings: string[]
}

export async function fingerprintMachine(
  opts: ReadSysfsOptions & ResolveOptions & { known?: readonly KnownFingerprint[] | FleetIndex } = {},
): Promise<FingerprintReport> {
  const collected = await collectComponents(opts)
  const r = resolveIdentity(collected.components, opts.known ?? [], opts)
  return {
    id: r.id,
    decision: r.decision,
    ...(r.score !== undefined ? { score: Math.round(r.score * 1000) / 1000 } : {}),
    comps: r.comps,
    components: r.components,
    skipped: collected.skipped,
    candidates: r.candidates.map((c) => ({ ...c, score: Math.round(c.score * 1000) / 1000 })),
    unknown: collected.unknown,
    warnings: [...collected.warnings, ...r.warnings],
  }
}
