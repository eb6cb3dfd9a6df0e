/**
 * This boot's identity: what tells a node verb's reboot from an agent restart. The cycle
 * mark on the Kubernetes node (real-steps.ts CYCLE_ANNOTATION) says "this node was cordoned
 * for cycle X"; the boot id written beside it says in which boot. A node that finds its
 * mark with the boot id it runs now has not gone down: its agent restarted mid-cycle, and
 * a reboot or shutdown verb carries on (noout, cordon, drain again, then down) instead of
 * taking the restart for the reboot.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'

/** The kernel's boot id: a new random UUID at every boot, the same for every process of one boot. */
export const KERNEL_BOOT_ID = '/proc/sys/kernel/random/boot_id'

/**
 * The boot id for an agent using `rebooter`:
 * - `reboot` (a real machine): the kernel's boot id (undefined if it cannot be read: then
 *   no restart is told from a reboot, as before);
 * - `exit` (a process stands for a machine; its exit is the reboot, its supervisor boots it
 *   again): SHOAL_BOOT_ID, which such a supervisor sets per emulated boot
 *   (test/support/live-cluster.ts), else one per process — every process start counts as
 *   a boot, so a supervisor that knows nothing of boot ids keeps the old behaviour.
 */
export function bootIdFor(rebooter: 'reboot' | 'exit', env: Record<string, string | undefined>, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): string | undefined {
  if (rebooter === 'exit') return env.SHOAL_BOOT_ID?.trim() || randomUUID()
  try {
    return read(KERNEL_BOOT_ID).trim() || undefined
  } catch {
    return undefined
  }
}
