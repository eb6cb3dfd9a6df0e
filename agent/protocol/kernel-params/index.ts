/**
 * Every `shoal.*` parameter on the kernel command line, written and read here and nowhere
 * else. The coordinator's boot script writes them (formatKernelParams), the boot agent
 * reads /proc/cmdline (parseKernelParams) and hands the run-mode agent what they say.
 * Pure: no IO.
 *
 *   word                 written by                                  grammar
 *   shoal.coordinator    boot script                                 ./boot-params.ts
 *   shoal.token          boot script (one-time, bound to shoal.mac)  ./boot-params.ts
 *   shoal.mac            boot script                                 ./boot-params.ts
 *   shoal.bootstrap      boot script                                 ./boot-params.ts
 *   shoal.image          boot script (the kernel's own version)      ./boot-params.ts
 *   shoal.cluster        boot script                                 ./boot-params.ts
 *   shoal.clusterkey     boot script                                 ./boot-params.ts
 *   shoal.mesh           boot script (--mesh-timing) or kernelArgs   ./mesh-param.ts
 *   shoal.peers          boot script (live agents) or kernelArgs     ./peers-param.ts
 *   shoal.upgrade        operator, in the coordinator's kernelArgs   ./upgrade-param.ts
 *   shoal.domain         boot script (a label) or kernelArgs; last wins ./domain-param.ts
 *   shoal.layers         boot script (`chunks`) unless kernelArgs    ./layers-param.ts
 *                        has one (`http`: whole files)
 *   shoal.diag           operator, in the coordinator's kernelArgs   `1`: the worker layer's
 *                                                                    shoal-diag service prints
 *                                                                    load on the console
 */
import { ShoalError } from '../errors.js'
import { BOOT_PARAM_NAMES, formatBootParams, parseBootParams, type BootParams } from './boot-params.js'
import { formatMeshParam, parseMeshParam, type MeshParam } from './mesh-param.js'
import { formatPeersParam, parsePeersParam, type PeersParam } from './peers-param.js'
import { formatUpgradeParam, parseUpgradeParam, type UpgradeParam } from './upgrade-param.js'
import { formatDomainParam, parseDomainParam, type DomainParam } from './domain-param.js'
import { formatLayersParam, parseLayersParam } from './layers-param.js'

export * from './boot-params.js'
export * from './mesh-param.js'
export * from './peers-param.js'
export * from './upgrade-param.js'
export * from './domain-param.js'
export * from './layers-param.js'

/** Every `shoal.*` word, by the field it fills. */
export const KERNEL_PARAMS = {
  ...BOOT_PARAM_NAMES,
  mesh: 'shoal.mesh',
  peers: 'shoal.peers',
  upgrade: 'shoal.upgrade',
  domain: 'shoal.domain',
  layers: 'shoal.layers',
  diag: 'shoal.diag',
} as const
export type KernelParamName = keyof typeof KERNEL_PARAMS

/** What a worker's kernel command line says, parsed. */
export interface KernelParams {
  /** The enrollment's parameters (all required). */
  boot: BootParams
  /** Mesh timing overrides; absent: the preset as is. */
  mesh?: MeshParam
  /** Agents to ask for this machine's old id before enrolling; entries that are not HOST:PORT are in `skipped`. */
  peers: PeersParam
  /** How the worker takes part in upgrade waves; absent: with the defaults. */
  upgrade?: UpgradeParam
  /** Where the failure domain comes from (the last shoal.domain=); absent: LLDP, then `default`. */
  domain?: DomainParam
  /**
   * shoal.layers=chunks: the boot agent fetches its layers chunk by chunk from peers, each
   * chunk verified, and the run-mode agent serves them on (docs/layers.md). The coordinator's
   * boot script writes it unless its kernelArgs say `shoal.layers=http`; absent (an older
   * coordinator's script): whole files.
   */
  chunkedLayers: boolean
  /** shoal.layers=chunks,upload=MIB: the running worker's upload cap, bytes/s; absent: the agent's default. */
  layerUploadBytesPerSec?: number
  /** shoal.diag=1: print load on the console. */
  diag: boolean
}

/** Is the word `shoal.NAME=` on `cmdline` (e.g. the operator already set it in kernelArgs)? */
export function hasKernelParam(cmdline: string, name: KernelParamName): boolean {
  const prefix = `${KERNEL_PARAMS[name]}=`
  return cmdline.trim().split(/\s+/).some((w) => w.startsWith(prefix))
}

/**
 * Reads every `shoal.*` word of a kernel command line (other words are ignored). Throws
 * ShoalError('bad-cmdline') saying what is wrong: no `shoal.*` word at all (the machine
 * did not boot through the coordinator), a missing or malformed enrollment parameter, or a
 * malformed shoal.mesh / shoal.upgrade. A bad shoal.peers entry is skipped, never fatal.
 */
export function parseKernelParams(cmdline: string): KernelParams {
  if (!/(^|\s)shoal\./.test(cmdline)) {
    throw new ShoalError('bad-cmdline', 'no shoal.* parameters on the kernel command line: boot this machine through the coordinator (iPXE: chain http://COORDINATOR/boot/ipxe?mac=${net0/mac})')
  }
  const boot = parseBootParams(cmdline)
  if (!boot.ok) throw new ShoalError('bad-cmdline', `${boot.error} (the coordinator's boot script sets these)`)
  const mesh = parseMeshParam(cmdline)
  const upgrade = parseUpgradeParam(cmdline)
  let domain: DomainParam | undefined
  let layers
  try {
    domain = parseDomainParam(cmdline)
    layers = parseLayersParam(cmdline)
  } catch (err) {
    throw new ShoalError('bad-cmdline', (err as Error).message)
  }
  return {
    ...(domain ? { domain } : {}),
    boot: boot.params,
    ...(mesh ? { mesh } : {}),
    peers: parsePeersParam(cmdline),
    ...(upgrade ? { upgrade } : {}),
    chunkedLayers: layers?.chunked ?? false,
    ...(layers?.uploadBytesPerSec !== undefined ? { layerUploadBytesPerSec: layers.uploadBytesPerSec } : {}),
    diag: cmdline.trim().split(/\s+/).includes(`${KERNEL_PARAMS.diag}=1`),
  }
}

/** What the boot script writes: the enrollment's parameters, and the others when given. */
export interface KernelParamsInput {
  boot: BootParams
  mesh?: MeshParam
  peers?: readonly string[]
  upgrade?: UpgradeParam
  /** A failure-domain label: written last among the shoal.* words (the last one wins). */
  domain?: string
  /** true: shoal.layers=chunks; false: shoal.layers=http; absent: no word. */
  chunkedLayers?: boolean
  layerUploadBytesPerSec?: number
  diag?: boolean
}

/** The `shoal.*` words for `p`, space-separated, in KERNEL_PARAMS order; parseKernelParams reads them back. */
export function formatKernelParams(p: KernelParamsInput): string {
  return [
    formatBootParams(p.boot),
    p.mesh ? formatMeshParam(p.mesh) : '',
    p.peers ? formatPeersParam(p.peers) : '',
    p.upgrade ? formatUpgradeParam(p.upgrade) : '',
    p.domain ? formatDomainParam(p.domain) : '',
    p.chunkedLayers !== undefined ? formatLayersParam({ chunked: p.chunkedLayers, ...(p.layerUploadBytesPerSec !== undefined ? { uploadBytesPerSec: p.layerUploadBytesPerSec } : {}) }) : '',
    p.diag ? `${KERNEL_PARAMS.diag}=1` : '',
  ]
    .filter(Boolean)
    .join(' ')
}
