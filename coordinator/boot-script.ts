/**
 * The per-node iPXE script: fetch kernel and initramfs of the node's image version from
 * the coordinator and boot them with the shoal.* parameters. Pure rendering.
 */
import { formatBootParams, routes, type BootParams } from './enroll-api.js'

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

/** An iPXE script that says why it will not boot and retries the coordinator later. */
export function renderRefusal(reason: string, retryUrl: string | undefined, retrySeconds = 30): string {
  const lines = ['#!ipxe', `echo shoal: ${reason.replace(/[\r\n]+/g, ' ')}`]
  if (retryUrl) lines.push(`sleep ${retrySeconds}`, `chain ${retryUrl}`)
  return lines.join('\n') + '\n'
}
