/**
 * What the QEMU end-to-end test needs on this machine; `missing()` names the first thing
 * absent so the test can skip with one line saying why.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

/** Whether `cmd args` runs and exits 0 (within 10 s). */
export function has(cmd: string, args: string[] = ['--version']): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 10_000 })
    return true
  } catch {
    return false
  }
}

/** What a test on a LAN of network namespaces needs first (Linux, root, ip netns, dnsmasq); `why` says what root is for. */
export function netnsLanMissing(why: string): string | undefined {
  if (process.platform !== 'linux') return 'not Linux'
  if (process.getuid?.() !== 0) return `needs root ${why}`
  if (!has('ip', ['netns', 'list'])) return 'iproute2 with netns support missing'
  if (!has('dnsmasq')) return 'dnsmasq not installed (npm run setup)'
  return undefined
}

export function missing(repoRoot: string): string | undefined {
  if (process.platform !== 'linux') return 'not Linux'
  if (!has('qemu-system-x86_64')) return 'qemu-system-x86_64 not installed (npm run setup)'
  if (!existsSync(join(repoRoot, '.cache/kernel/vmlinuz'))) return 'no kernel in .cache/kernel (npm run setup)'
  if (!existsSync(join(repoRoot, '.cache/kernel/modules'))) return 'no kernel modules in .cache/kernel/modules (npm run setup)'
  if (!has('mksquashfs', ['-version'])) return 'mksquashfs not installed (npm run setup)'
  if (!has('cpio')) return 'cpio not installed (npm run setup)'
  if (!has('dnsmasq')) return 'dnsmasq not installed (npm run setup)'
  if (!existsSync('/bin/busybox')) return 'busybox-static not installed (npm run setup)'
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root for a network namespace with a bridge and taps'
  if (!has('ip', ['netns', 'list'])) return 'iproute2 with netns support missing'
  return undefined
}
