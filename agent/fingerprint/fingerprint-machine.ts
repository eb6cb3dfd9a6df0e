/**
 * The whole identity step for one machine: read /sys, turn it into components, resolve
 * against the known fleet. What `shoal fingerprint` prints and what the boot agent (in the
 * initramfs) calls. Never throws for unreadable hardware; throws ShoalError('no-identity')
 * only when nothing identifies the machine and no fallback id was given.
 */
import type { Component } from './component.js'
import { componentsFromHardware } from './hardware-components.js'
import { readSysfsHardware, type ReadSysfsOptions, type SysfsHardware } from './read-sysfs.js'
import { screenComponents, resolveIdentity, type Candidate, type ComponentVerdict, type FleetIndex, type KnownFingerprint, type ResolveOptions } from './resolve-identity.js'

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

export interface FingerprintOptions extends ReadSysfsOptions, ResolveOptions {
  known?: readonly KnownFingerprint[] | FleetIndex
  /**
   * Components from a second source (agent/inventory's componentsFromInventory: what
   * systeminformation saw), used only when /sys offers no usable component at all, so an
   * id never flips between sources.
   */
  secondary?: readonly Component[]
}

export async function fingerprintMachine(opts: FingerprintOptions = {}): Promise<FingerprintReport> {
  const collected = await collectComponents(opts)
  let components = collected.components
  const usable = screenComponents(components).comps.some((c) => !c.startsWith('cpu:'))
  if (!usable && opts.secondary?.length) {
    collected.warnings.push('/sys offered no usable component: using what systeminformation saw')
    components = [...components, ...opts.secondary]
  }
  const r = resolveIdentity(components, opts.known ?? [], opts)
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
