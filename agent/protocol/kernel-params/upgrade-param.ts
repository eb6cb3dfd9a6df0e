/**
 * `shoal.upgrade=...` on the kernel command line: how a netbooted worker takes part in
 * upgrade waves. A worker booted by the coordinator takes part by default (the roster
 * names the coordinator, whose key signs the waves, and the boot script names its URL);
 * this parameter only adjusts it:
 *
 *   shoal.upgrade=off                        never vote or reboot for a wave
 *   shoal.upgrade=skip:ceph+kube+kubelet     gate sources not checked on purpose (a machine
 *                                            without Ceph or a kubelet; stated in every verdict)
 *   shoal.upgrade=drainPolicy:force,verifyTimeoutMs:600000
 *                                            any field of agent/protocol/upgrade-config.ts that
 *                                            is a word or a whole number
 *
 * Without `skip`, a source whose config is missing fails its gate closed: a worker that
 * should run Ceph but has no /etc/ceph/ceph.conf never looks safe to reboot.
 */
import { ShoalError } from '../errors.js'
import { UpgradeConfig } from '../upgrade-config.js'

export type UpgradeParam = { off: true } | { off: false; fields: Partial<UpgradeConfig> }

/** Fields that name a place or a key: boot decides them, never the command line. */
const BOOT_OWNED = new Set(['coordinatorKey', 'coordinatorUrl', 'host', 'cephConf', 'cephKeyring', 'cephName', 'kubeconfig', 'kubeletUrl', 'vote'])

/** The `shoal.upgrade=` word that parseUpgradeParam reads back as `p`; '' for no fields. */
export function formatUpgradeParam(p: UpgradeParam): string {
  if (p.off) return 'shoal.upgrade=off'
  const pairs = Object.entries(p.fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}:${Array.isArray(v) ? v.join('+') : String(v)}`)
  return pairs.length ? `shoal.upgrade=${pairs.join(',')}` : ''
}

export function parseUpgradeParam(cmdline: string): UpgradeParam | undefined {
  const word = cmdline.trim().split(/\s+/).find((w) => w.startsWith('shoal.upgrade='))
  if (word === undefined) return undefined
  const value = word.slice('shoal.upgrade='.length)
  if (value === 'off') return { off: true }
  const raw: Record<string, unknown> = {}
  for (const pair of value.split(',').filter(Boolean)) {
    const m = /^(\w+):([\w+.-]+)$/.exec(pair)
    if (!m) throw new ShoalError('bad-cmdline', `shoal.upgrade: "${pair}" is not key:value (e.g. shoal.upgrade=skip:ceph+kube+kubelet, or shoal.upgrade=off)`)
    const [, key, v] = m as unknown as [string, string, string]
    if (BOOT_OWNED.has(key)) throw new ShoalError('bad-cmdline', `shoal.upgrade: ${key} is set by the boot agent, not the command line`)
    raw[key] = key === 'skip' ? v.split('+').filter(Boolean) : /^\d+$/.test(v) ? Number(v) : v
  }
  const parsed = UpgradeConfig.partial().safeParse(raw)
  if (!parsed.success) {
    throw new ShoalError('bad-cmdline', `shoal.upgrade: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')} (fields of agent/protocol/upgrade-config.ts)`)
  }
  return { off: false, fields: parsed.data }
}
