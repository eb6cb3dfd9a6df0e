/**
 * The per-node iPXE script: fetch kernel and initramfs of the node's image version from
 * the coordinator and boot them with the shoal.* parameters. Pure rendering.
 */
import { routes } from '../agent/protocol/enroll/index.js'
import { formatBootParams, formatLayersParam, formatPeersParam, hasKernelParam, type BootParams } from '../agent/protocol/kernel-params/index.js'

export interface BootScriptInput {
  params: BootParams
  kernel: string
  initramfs: string
  /** Extra kernel words (console, panic, ...), before the shoal.* parameters. */
  kernelArgs: string
}

export function renderBootScript(input: BootScriptInput): string {
  const { params: p } = input
  const base = `${p.coordinator}${routes.images}/${encodeURIComponent(p.image)}`
  const args = [`initrd=${input.initramfs}`, input.kernelArgs.trim(), formatBootParams(p)].filter(Boolean).join(' ')
  return [
    '#!ipxe',
    `echo shoal: ${p.mac} boots image ${p.image} of cluster ${p.cluster}`,
    `kernel ${base}/${input.kernel} ${args}`,
    `initrd ${base}/${input.initramfs}`,
    'boot',
    '',
  ].join('\n')
}

/** How many agents a booting worker is told to ask for its old id (shoal.peers=). */
export const BOOT_PEERS = 3

/**
 * `shoal.peers=HOST:PORT,…` for a booting worker: up to `max` agents the coordinator's mesh
 * peer holds alive (the machine itself excluded), so the boot agent can ask them for its
 * old id (GET /v1/fingerprints) without an operator listing any. The pick starts at a
 * point chosen by the MAC, so a rack booting at once spreads its questions. Empty when
 * no agent is known, or when the operator's kernelArgs already name the peers.
 */
export function peersParam(members: readonly { id: string; alive: boolean; api?: string }[], self: { id?: string; mac: string }, kernelArgs: string, max = BOOT_PEERS): string {
  if (hasKernelParam(kernelArgs, 'peers')) return ''
  const apis = members
    .filter((m) => m.alive && m.api && m.id !== self.id)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((m) => m.api!)
  if (apis.length === 0) return ''
  let h = 0
  for (const c of self.mac) h = (h * 31 + c.charCodeAt(0)) >>> 0
  const start = h % apis.length
  const picked = Array.from({ length: Math.min(max, apis.length) }, (_, i) => apis[(start + i) % apis.length]!)
  return formatPeersParam(picked)
}

/**
 * `shoal.layers=chunks` unless the operator's kernelArgs carry a `shoal.layers=` word of
 * their own (`shoal.layers=http` turns chunk sharing off; docs/layers.md): workers share
 * their layers chunk by chunk by default, and serve them on once running.
 */
export function layersParam(kernelArgs: string): string {
  return hasKernelParam(kernelArgs, 'layers') ? '' : formatLayersParam({ chunked: true })
}

/** An iPXE script that says why it will not boot and retries the coordinator later. */
export function renderRefusal(reason: string, retryUrl: string | undefined, retrySeconds = 30): string {
  const lines = ['#!ipxe', `echo shoal: ${reason.replace(/[\r\n]+/g, ' ')}`]
  if (retryUrl) lines.push(`sleep ${retrySeconds}`, `chain ${retryUrl}`)
  return lines.join('\n') + '\n'
}
