/**
 * Where a worker's boot time goes, read from its serial console: each line carries the host
 * time it arrived (ConsoleLog), the initramfs hook's lines carry the guest's uptime
 * (`shoal[12.3s]:`), so the kernel's start is the arrival of such a line minus its uptime.
 * Milestones, in boot order:
 *   script      iPXE fetched the boot script (`shoal: MAC boots image …`): firmware, DHCP, TFTP
 *   kernel      the kernel started (kernel + initramfs downloaded by iPXE)
 *   init        /init of the initramfs runs (kernel boot, initramfs unpacked)
 *   netUp       modules loaded, DHCP lease (`network up`)
 *   agent       the boot agent's first line (node started, bundle loaded)
 *   identified  hardware fingerprint read
 *   enrolled    enrollment answered
 *   mounted     layers fetched, verified and mounted
 *   ready       roster and node files written; the boot agent exits
 *   runAgent    after switch_root, init started the run-mode agent's service
 *   joined      (from the test) every agent alive in the cluster view
 */
import { writeFileSync } from 'node:fs'
import type { ConsoleLine } from './console-log.js'

export const MILESTONES = ['script', 'kernel', 'init', 'netUp', 'agent', 'identified', 'enrolled', 'mounted', 'ready', 'runAgent', 'joined'] as const
export type Milestone = (typeof MILESTONES)[number]

const MARKERS: [Exclude<Milestone, 'kernel' | 'joined'>, RegExp][] = [
  ['script', /^shoal: \S+ boots image/],
  ['init', /^shoal\[[\d.]+s\]: initramfs \/init/],
  ['netUp', /^shoal\[[\d.]+s\]: network up/],
  ['agent', /shoal-boot\[[\d.]+s\]: boot agent started/],
  ['identified', /shoal-boot\[[\d.]+s\]: machine \S+: /],
  ['enrolled', /shoal-boot\[[\d.]+s\]: enrolled as /],
  ['mounted', /shoal-boot\[[\d.]+s\]: image \S+: \d+ layers verified .* mounted/],
  ['ready', /shoal-boot\[[\d.]+s\]: node \S+ ready to switch root/],
  ['runAgent', /^shoal-agent: starting/],
]

/** Seconds from power-on to each milestone seen on this console (first occurrence). */
export function bootMilestones(lines: readonly ConsoleLine[], powerOnAt: number, joinedAt?: number): Partial<Record<Milestone, number>> {
  const s = (at: number) => Math.round((at - powerOnAt) / 100) / 10
  const out: Partial<Record<Milestone, number>> = {}
  for (const [name, re] of MARKERS) {
    const l = lines.find((x) => re.test(x.text))
    if (l) out[name] = s(l.at)
  }
  const hook = lines.find((x) => /^shoal\[[\d.]+s\]: /.test(x.text))
  if (hook) out.kernel = s(hook.at - Number(/^shoal\[([\d.]+)s\]/.exec(hook.text)![1]) * 1000)
  if (joinedAt !== undefined) out.joined = s(joinedAt)
  return Object.fromEntries(MILESTONES.filter((m) => out[m] !== undefined).map((m) => [m, out[m]])) as Partial<Record<Milestone, number>>
}

/** Each milestone's share: seconds since the previous milestone seen. */
export function phaseDurations(m: Partial<Record<Milestone, number>>): Partial<Record<Milestone, number>> {
  const out: Partial<Record<Milestone, number>> = {}
  let prev = 0
  for (const k of MILESTONES) {
    const t = m[k]
    if (t === undefined) continue
    out[k] = Math.round((t - prev) * 10) / 10
    prev = t
  }
  return out
}

/** The console with the host time of each line (s since power-on), for reading a run afterwards. */
export function writeTimedConsole(path: string, lines: readonly ConsoleLine[], powerOnAt: number): void {
  writeFileSync(path, lines.map((l) => `[${((l.at - powerOnAt) / 1000).toFixed(1).padStart(6)}] ${l.text}`).join('\n') + '\n')
}
